"""The API's documentation page, ``/api/docs``: Swagger UI from Baton's own copy (no CDN).

FastAPI's default page loads Swagger UI from a CDN, so it is blank without the internet; the app is
made with ``docs_url=None`` and this route draws the page (``templates/api_docs.html``, with a language
and a heading) with the vendored files
(``web/static/vendor/swagger-ui``, Apache-2.0, license beside them). Its Content-Security-Policy
lets the page load nothing from elsewhere, and Swagger UI's online validator is switched off.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.web import templating

router = APIRouter(include_in_schema=False)

# Swagger UI's page starts it with an inline script: allowed here, and only from Baton.
DOCS_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@router.get("/api/docs", name="api_docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    root = str(request.scope.get("root_path", ""))
    # In English whatever the site's language: Swagger UI and the API's descriptions are in English.
    page = templating.render(
        "api_docs.html",
        lang="en",
        request=request,
        title=f"{request.app.title} API",
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": DOCS_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
