"""Error pages for people: a browser that asks for a page gets one, translated; API clients keep JSON.

``baton.core.http``'s handlers ask :func:`page_for_error` first (``create_app`` passes it); it
answers only a *browser page request*:

- the method is GET or HEAD, and there is no ``Authorization`` header (tokens mean a program);
- ``Accept`` prefers ``text/html`` to JSON (browsers send ``text/html,...``; the Hugging Face
  client, ``httpx``, ``curl`` and ``requests`` send ``*/*``);
- the path is not the API's (``/api/...``) nor one the Hugging Face client downloads or uploads
  through (``/{repo}/resolve/...``, ``/datasets/{repo}/resolve/...``, ``.../info/lfs/...``).

Everything else gets the one JSON error shape, unchanged. Pages that catch a service's error draw
the same page with :func:`error_page`.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from baton.core.errors import BatonError
from baton.core.http import header_value
from baton.web import messages, templating
from baton.web.i18n import N_, page_language, translate

logger = logging.getLogger("baton")

# Paths the Hugging Face client (and git-lfs) use outside /api/: downloads and LFS batches.
_CLIENT_PATH: Final = re.compile(r"^/(?:[^/]+/){2,3}(?:resolve/|info/lfs/)")
_HTML_TYPES: Final = ("text/html", "application/xhtml+xml")

# (title, what it means) per status; anything else is a "could not be done" page.
_TEXTS: Final = {
    400: (N_("The request could not be used"), N_("Something in the address or the form is not as Baton expects.")),
    401: (N_("Please sign in"), N_("This page or action needs you to be signed in.")),
    403: (N_("Not allowed"), N_("You are signed in, but this needs a permission you do not have.")),
    404: (
        N_("Page not found"),
        N_("There is nothing here. The address may be mistyped, or what it names may be private."),
    ),
    405: (N_("Not available this way"), N_("This address exists, but not for this kind of request.")),
    409: (N_("This conflicts with what is there"), N_("Something changed meanwhile. Reload the page and try again.")),
    412: (N_("This conflicts with what is there"), N_("Something changed meanwhile. Reload the page and try again.")),
    413: (N_("Too large"), N_("What was sent is over the size Baton accepts.")),
    429: (N_("Too many requests"), N_("Please wait a little before trying again.")),
}
_OTHER: Final = (N_("The request could not be done"), N_("Baton could not do what was asked."))
_SERVER: Final = (
    N_("Something went wrong on our side"),
    N_("Baton hit an error it did not expect. Please try again in a moment."),
)


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header names HTML, with no lower preference than JSON."""
    html = json = 0.0
    for part in accept[:1000].split(",")[:40]:
        media, _, parameters = part.partition(";")
        media = media.strip().lower()
        if media in _HTML_TYPES:
            html = max(html, _quality(parameters))
        elif media == "application/json" or media.endswith("+json"):
            json = max(json, _quality(parameters))
    return html > 0 and html >= json


def is_page_request(request: Request) -> bool:
    """A browser asking for a page (see the module's docstring), not a program asking the API."""
    path = request.url.path
    return (
        request.method in ("GET", "HEAD")
        and "authorization" not in request.headers
        and prefers_html(request.headers.get("accept", ""))
        and path != "/api"
        and not path.startswith("/api/")
        and not _CLIENT_PATH.match(path)
    )


def error_page(
    request: Request, error: BatonError, *, status_code: int | None = None, viewer: str | None = None
) -> HTMLResponse:
    """The error as a page in the request's language: what happened, Baton's message and hint, a way home."""
    status = status_code or error.status_code
    lang = page_language(request)
    shown = messages.shown_error(lang, error)
    title, explanation = _SERVER if status >= 500 else _TEXTS.get(status, _OTHER)
    headers = {name: header_value(value) for name, value in error.headers.items()}
    headers["X-Error-Code"] = header_value(error.code)
    return templating.render_page(
        request,
        "error.html",
        viewer=viewer,
        status_code=status,
        headers=headers,
        title=translate(lang, title),
        explanation=translate(lang, explanation),
        message=shown.message,
        detail=shown.detail,
        hint=shown.hint,
        status=status,
        code=error.code,
    )


def _viewer(request: Request) -> str | None:
    from baton.web.signin import signed_in

    try:
        user = signed_in(request)
    except (BatonError, SQLAlchemyError):  # the page says what went wrong even when the cookie cannot be read
        return None
    return user.name if user is not None else None


async def page_for_error(request: Request, error: BatonError, status_code: int) -> HTMLResponse | None:
    """The error page for a browser's page request; None (the JSON answer) for everything else."""
    if not is_page_request(request):
        return None
    viewer = await run_in_threadpool(_viewer, request) if status_code < 500 else None
    return error_page(request, error, status_code=status_code, viewer=viewer)
