"""The API's documentation page, ``/api/docs``: Swagger UI from Baton's own copy (no CDN).

FastAPI's default page loads Swagger UI from a CDN, so it is blank without the internet; the app is
made with ``docs_url=None`` and this route draws the page (``templates/api_docs.html``, with a language
and a heading) with the vendored files
(``web/static/vendor/swagger-ui``, Apache-2.0, license beside them). Its Content-Security-Policy
lets the page load nothing from elsewhere, and Swagger UI's online validator is switched off.

The page shows the API one part at a time (a selector at the top): Swagger UI (the vendored 5.x)
stops drawing operations part-way through a document of about 150 operations, silently, so each
tag of ``/openapi.json`` (and the untagged rest, the hub's part) is served as its own document at
``/api/docs/openapi/{part}.json``. ``/openapi.json`` stays whole for clients and generators.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from baton.core.errors import NotFoundError
from baton.web import templating

router = APIRouter(include_in_schema=False)

# Swagger UI's page starts it with an inline script: allowed here, and only from Baton.
DOCS_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


UNTAGGED: Final = "hub"  # the untagged operations: the hub, provenance, evaluation, the commons


def _parts(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``spec`` split by each operation's first tag (untagged: ``hub``), each part a whole document."""
    paths: dict[str, dict[str, dict[str, Any]]] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            part = (operation.get("tags") or [UNTAGGED])[0] if isinstance(operation, dict) else UNTAGGED
            paths.setdefault(part, {}).setdefault(path, {})[method] = operation
    ordered = sorted(paths, key=lambda name: (name != UNTAGGED, name))
    return {name: spec | {"paths": paths[name]} for name in ordered}


@router.get("/api/docs/openapi/{part}.json", name="api_docs_part")
def api_docs_part(request: Request, part: str) -> JSONResponse:
    """One part of the OpenAPI document, for the documentation page."""
    parts = _parts(request.app.openapi())
    if part not in parts:
        raise NotFoundError(f"The API documentation has no part '{part}'", hint=f"Parts: {', '.join(parts)}.")
    return JSONResponse(parts[part])


@router.get("/api/docs", name="api_docs", response_class=HTMLResponse)
def api_docs(request: Request, part: str | None = None) -> HTMLResponse:
    root = str(request.scope.get("root_path", ""))
    names = list(_parts(request.app.openapi()))
    chosen = part or names[0]
    if chosen not in names:
        raise NotFoundError(f"The API documentation has no part '{chosen}'", hint=f"Parts: {', '.join(names)}.")
    # In English whatever the site's language: Swagger UI and the API's descriptions are in English.
    page = templating.render(
        "api_docs.html",
        lang="en",
        request=request,
        title=f"{request.app.title} API",
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        part_url=f"{root}/api/docs/openapi/{chosen}.json",
        parts=[{"name": name, "href": f"{root}/api/docs?part={name}", "current": name == chosen} for name in names],
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": DOCS_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
