"""The commons' page: the catalogue, in the site's layout (``base.html`` of ``baton.challenge``'s templates)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # The commons' own templates first; the shared layout and error page come from the challenge's.
    loader = ChoiceLoader([PackageLoader("baton.commons", "templates"), PackageLoader("baton.challenge", "templates")])
    return Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_catalogue(data: dict[str, Any], *, lang: str = "ko", viewer: str | None = None) -> str:
    """The ``/commons`` page for ``data`` (as ``baton.commons.catalogue.catalogue`` returns it)."""
    return _environment().get_template("commons.html").render(lang=lang, data=data, viewer=viewer)
