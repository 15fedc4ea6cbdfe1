"""The API's documentation page, ``/api/docs``: Swagger UI from Baton's own copy (no CDN).

FastAPI's default page loads Swagger UI from a CDN, so it is blank without the internet; the app is
made with ``docs_url=None`` and this route draws the page with the vendored files
(``web/static/vendor/swagger-ui``, Apache-2.0, license beside them). Its Content-Security-Policy
lets the page load nothing from elsewhere, and Swagger UI's online validator is switched off.
"""

from __future__ import annotations

import html
from typing import Final

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
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
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} API",
        swagger_js_url=templating.static_url(request, "vendor/swagger-ui/swagger-ui-bundle.js"),
        swagger_css_url=templating.static_url(request, "vendor/swagger-ui/swagger-ui.css"),
        swagger_favicon_url=templating.static_url(request, "favicon.svg"),
        swagger_ui_parameters={"validatorUrl": None},
    )
    # Swagger UI's page names no language and draws its title as <h2>: give it both, for screen readers
    # (English: Swagger UI and the API's descriptions are in English whatever the site's language).
    title = html.escape(f"{request.app.title} API")
    marked = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
    hidden = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap"
    marked = marked.replace("<body>", f'<body>\n<h1 style="{hidden}">{title}</h1>', 1)
    page = HTMLResponse(marked)
    page.headers.update(
        {
            "Content-Security-Policy": DOCS_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
    )
    return page
