"""create_app(): wires each domain's routes onto one FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from baton import __version__
from baton.challenge import api as challenge_api
from baton.challenge import pages as challenge_pages
from baton.commons import api as commons_api
from baton.core.http import BodyLimitMiddleware, body_limits, install_error_handlers
from baton.core.runtime import Runtime
from baton.core.settings import Settings, load_settings
from baton.evaluation import api as evaluation_api
from baton.hub import api as hub_api
from baton.hub import hf_api, upload_api
from baton.provenance import api as provenance_api
from baton.talent import api as talent_api
from baton.talent import pages as talent_pages
from baton.web import catalogue as web_catalogue
from baton.wiring import wire

# Every router, in the order they are matched: Baton's own and upload routes first, because the
# HF download routes match broad patterns. ``baton.access`` declares who may call each route.
ROUTERS: tuple[APIRouter, ...] = (
    hub_api.router,
    provenance_api.router,
    talent_api.router,
    talent_pages.router,
    evaluation_api.router,
    challenge_api.router,
    commons_api.router,
    web_catalogue.router,
    challenge_pages.router,
    upload_api.router,
    hf_api.router,
)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime.open(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Interrupted uploads leave temporaries: clear those old enough to be dead.
        runtime.store.cleanup_stale(older_than_seconds=3600)
        yield
        runtime.close()

    app = FastAPI(title="Baton", version=__version__, lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    app.state.runtime = runtime
    # Cross-domain wiring (baton/wiring.py), so the hub does not import the domains that react to it.
    wire(runtime)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limits(runtime))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for router in ROUTERS:
        app.include_router(router)
    return app
