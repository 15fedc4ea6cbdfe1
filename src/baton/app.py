"""create_app(): one FastAPI application with the routes every domain registered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from baton import __version__
from baton.core.http import BodyLimitMiddleware, ServerTimingMiddleware, body_limits, install_error_handlers
from baton.core.runtime import Runtime
from baton.core.settings import Settings, load_settings
from baton.domains import open_runtime
from baton.web import errors


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or open_runtime(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Interrupted uploads leave temporaries: clear those old enough to be dead.
        runtime.store.cleanup_stale(older_than_seconds=3600)
        yield
        runtime.close()

    # /api/docs is the web layer's page, drawn with Baton's own copy of Swagger UI (no CDN).
    app = FastAPI(title="Baton", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    # Browsers asking for a page get the web layer's error pages; API clients the JSON errors.
    install_error_handlers(app, page_for_error=errors.page_for_error)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limits(runtime))
    if runtime.settings.server_timing:
        app.add_middleware(ServerTimingMiddleware)  # added last: the outermost, it times the rest

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # Each domain's routers (its domain.py), in the order they are matched: broad HF patterns last.
    # ``baton.access`` declares who may call each route.
    for router in runtime.registry.ordered_routers():
        app.include_router(router)
    return app
