"""The site's message catalogues, checked and brought up to date from the code (developers' tool).

:func:`extract` runs Babel's extractors over the templates (``{% trans %}``, ``_()``) and the web
layer's Python files (``N_()``, ``translate(lang, ...)``); :func:`problems` compares the result
with ``web/locale/{ko,en}/LC_MESSAGES/messages.po`` (``tests/web/test_i18n.py`` fails on any);
:func:`update` adds new messages to both catalogues and drops the ones no longer used. The English
catalogue starts each new message as its own text; the Korean one waits for a translator.

Run ``python -m baton.web.catalogues`` (``scripts/web-messages``) after changing a page's text.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from babel.messages import pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file

from baton.web import i18n

WEB_DIR: Final = Path(__file__).parent
TEMPLATES_DIR: Final = WEB_DIR / "templates"
TEMPLATE_OPTIONS: Final = {
    "extensions": "jinja2.ext.i18n",
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "trimmed": "true",
    "newstyle_gettext": "true",
    "silent": "false",  # a template that does not parse fails the extraction instead of being skipped
}
TEMPLATE_KEYWORDS: Final = {"_": None, "gettext": None, "ngettext": (1, 2)}
PYTHON_KEYWORDS: Final = {"N_": None, "translate": (2,)}
_PLACEHOLDER: Final = re.compile(r"%(?:\(\w+\))?[sd]|%%")

MessageId = str | tuple[str, str]
_EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Found:
    id: MessageId
    locations: list[tuple[str, int]]


def _files() -> Iterator[tuple[str, Path, dict[str, Any], dict[str, str]]]:
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        yield "jinja2.ext:babel_extract", path, TEMPLATE_KEYWORDS, TEMPLATE_OPTIONS
    for path in sorted(WEB_DIR.rglob("*.py")):
        yield "python", path, PYTHON_KEYWORDS, {}


def extract() -> dict[str, Found]:
    """Every message the templates and the web layer's Python code use, by its singular id."""
    found: dict[str, Found] = {}
    for method, path, keywords, options in _files():
        where = path.relative_to(WEB_DIR).as_posix()
        for line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=keywords, options=options
        ):
            if isinstance(message, tuple | list):
                singular, plural = str(message[0]), str(message[1])
                message_id: MessageId = (singular, plural)
            else:
                singular = str(message)
                message_id = singular
            if not singular:
                continue
            entry = found.setdefault(singular, Found(message_id, []))
            entry.locations.append((where, line))
    return found


def read(language: str) -> Catalog:
    with i18n.catalogue_path(language).open("rb") as source:
        return pofile.read_po(source, locale=language, domain=i18n.DOMAIN)


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def problems() -> list[str]:
    """What keeps the catalogues from covering the code: each a line naming the language and message."""
    used = extract()
    found: list[str] = []
    for language in i18n.LANGUAGES:
        catalog = read(language)
        for singular, entry in used.items():
            message = catalog.get(singular)
            if message is None:
                found.append(f"{language}: missing {singular!r} (used in {entry.locations[0][0]})")
                continue
            raw = list(message.string) if isinstance(message.string, tuple | list) else [message.string]
            strings = [str(text or "") for text in raw]
            if message.fuzzy:
                found.append(f"{language}: fuzzy {singular!r}: check the translation and drop the fuzzy flag")
            if not strings or any(not text for text in strings):
                found.append(f"{language}: empty translation of {singular!r}")
                continue
            ids = list(entry.id) if isinstance(entry.id, tuple) else [entry.id]
            expected = _placeholders(ids[-1])
            for text in strings:
                if _placeholders(text) != expected:
                    found.append(f"{language}: {singular!r} has placeholders {_placeholders(text)}, not {expected}")
        for message in catalog:
            if message.id and (message.id[0] if isinstance(message.id, tuple | list) else message.id) not in used:
                found.append(f"{language}: {message.id!r} is no longer used: run scripts/web-messages")
    return found


def update() -> list[str]:
    """Adds the code's new messages to both catalogues and drops unused ones; returns what is left to translate."""
    used = extract()
    template = Catalog(domain=i18n.DOMAIN)
    for entry in used.values():
        template.add(entry.id, locations=entry.locations, flags=("python-format",) if "%" in str(entry.id) else ())
    for language in i18n.LANGUAGES:
        catalog = read(language)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False, update_creation_date=False)
        catalog.obsolete.clear()
        # A steady header: the files change only where a message does.
        catalog.project, catalog.version, catalog.msgid_bugs_address = "Baton", "1", "-"
        catalog.last_translator, catalog.language_team = "-", "-"
        catalog.revision_date = catalog.creation_date = _EPOCH
        if language == "en":
            for message in catalog:
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                if message.id and not any(strings):
                    message.string = message.id
        with i18n.catalogue_path(language).open("wb") as target:
            pofile.write_po(target, catalog, width=0, sort_output=True, omit_header=False, include_previous=False)
    return problems()


def main() -> int:
    left = update()
    for line in left:
        print(line)
    print(f"{len(extract())} messages; {len(left)} problems" + (" (translate them in the .po files)" if left else ""))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
