"""The site's languages: Korean (the default) and English, from gettext catalogues.

The messages live in ``web/locale/{ko,en}/LC_MESSAGES/messages.po``. They are read with Babel at
the first page of a process (no compile step: a fresh ``pip install -e .`` and a wheel both carry
the ``.po`` files) and turned into :class:`gettext.GNUTranslations`, so plural forms follow each
catalogue's ``Plural-Forms``.

Templates translate with ``{% trans %}...{% endtrans %}`` and ``_("...")``; Python code marks a message
with :func:`N_` where it is written and translates it with :func:`translate` when a page is drawn.
``tests/web/test_i18n.py`` extracts every message from the templates and this package's Python
files and fails on any that either catalogue lacks or leaves empty; see ``docs/architecture.md``.

The language of a page is :func:`page_language`: ``?lang=`` on the request, else the remembered
choice (cookie ``baton_lang``), else the browser's ``Accept-Language``, else Korean.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages import mofile, pofile
from fastapi import Request

LANGUAGES: Final = ("ko", "en")
DEFAULT_LANGUAGE: Final = "ko"
LANGUAGE_NAMES: Final = {"ko": "한국어", "en": "English"}
LANGUAGE_COOKIE: Final = "baton_lang"
LANGUAGE_COOKIE_SECONDS: Final = 365 * 24 * 3600
LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext_module.GNUTranslations:
    """The catalogue of ``language`` (one of :data:`LANGUAGES`), read once per process."""
    if language not in LANGUAGES:
        raise ValueError(f"Baton has no catalogue for {language!r}; it speaks {', '.join(LANGUAGES)}")
    with catalogue_path(language).open("rb") as source:
        catalog = pofile.read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    mofile.write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogues (Babel's extractor finds it) and returns it unchanged."""
    return message


def translate(language: str, message: str, **variables: object) -> str:
    """``message`` (an id marked with :func:`N_` or written in a template) in ``language``."""
    text = translations(checked_language(language)).gettext(message)
    return text % variables if variables else text


def checked_language(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _accepted(header: str) -> str | None:
    """The language of ``Accept-Language`` Baton speaks that the browser prefers most (ties: first listed)."""
    best: tuple[float, str] | None = None
    for part in header.split(",")[:20]:
        tag, _, parameters = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else None


def requested_language(request: Request) -> str | None:
    """``?lang=`` when it names a language Baton speaks (a switch the page remembers)."""
    chosen = request.query_params.get("lang")
    return chosen if chosen in LANGUAGES else None


def page_language(request: Request) -> str:
    """The language to draw a page in for this request.

    In order: ``?lang=ko|en``; the person's remembered choice (cookie ``baton_lang``, set by the
    language switch); the browser's ``Accept-Language``; Korean. A signed-in person's stored
    preference, once accounts keep one, belongs here, before the cookie.
    """
    chosen = requested_language(request)
    if chosen:
        return chosen
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return _accepted(request.headers.get("accept-language", "")[:500]) or DEFAULT_LANGUAGE
