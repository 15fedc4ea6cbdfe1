"""The language switch: ``GET /language/{ko|en}?next=/path`` remembers the choice and goes back.

The choice is a cookie (``baton_lang``, a year); :func:`baton.web.i18n.page_language` reads it. A
``?lang=`` on any page does the same for that page and is remembered too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from baton.core.errors import BadRequestError
from baton.web import templating
from baton.web.i18n import LANGUAGES
from baton.web.signin import safe_next

router = APIRouter(include_in_schema=False)


@router.get("/language/{lang}", name="switch_language", response_class=Response)
def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    if lang not in LANGUAGES:
        raise BadRequestError(
            f"Baton has no language '{lang[:20]}'", hint="Use /language/ko (한국어) or /language/en (English)."
        )
    response = RedirectResponse(safe_next(next, templating.path_for(request, "home")), status_code=303)
    templating.remember_language(request, response, lang)
    return response
