"""The site is one web layer: one template environment, one template folder, one stylesheet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import baton

SRC = Path(baton.__file__).parent


def test_no_other_template_environment_or_template_folder_in_the_code() -> None:
    others = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path != SRC / "web" / "templating.py" and re.search(r"^\s*(from|import) jinja2", text, re.MULTILINE):
            others.append(str(path.relative_to(SRC)))
    assert others == [], f"only baton/web/templating.py may make pages with Jinja: {others}"
    folders = sorted(str(path.relative_to(SRC)) for path in SRC.rglob("templates") if path.is_dir())
    assert folders == ["web/templates"]
    stylesheets = sorted(str(path.relative_to(SRC)) for path in SRC.rglob("*.css") if "vendor" not in path.parts)
    assert stylesheets == ["web/static/baton.css"]
    inline_styles = [path.name for path in (SRC / "web" / "templates").glob("*.html") if "<style>" in path.read_text()]
    assert inline_styles == ["base.html"]  # only the stand-alone page (a file written by the CLI) inlines the sheet


def test_no_page_is_written_in_python() -> None:
    """Pages are templates: no Python module writes an HTML document (the provenance report did, with f-strings)."""
    writers = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if re.search(r"<!doctype html|<html[\s>]", path.read_text(encoding="utf-8"), re.IGNORECASE)
    ]
    assert writers == []


def test_the_report_page_is_matched_before_the_provenance_json_route(client: Any) -> None:
    """Registered ``first``: otherwise the JSON route's id would take "5.html" and refuse it as no id."""
    page = client.get("/api/provenance/reports/5.html")
    assert page.status_code == 404 and page.json()["error"] == "ReportNotFound"
    assert client.get("/api/provenance/reports/5").json()["error"] == "ReportNotFound"
    assert client.get("/api/provenance/reports/0.html").status_code == 400  # ids are still checked


def test_a_router_is_matched_first_or_as_a_fallback_not_both() -> None:
    from fastapi import APIRouter

    from baton.core.errors import ConfigurationError
    from baton.core.registry import Registry

    registry = Registry()
    early, normal, late = APIRouter(), APIRouter(), APIRouter()

    def register(target: Registry) -> None:
        target.router(late, fallback=True)
        target.router(normal)
        target.router(early, first=True)
        with pytest.raises(ConfigurationError):
            target.router(APIRouter(), first=True, fallback=True)

    registry.add_domain("sample", register)
    assert registry.ordered_routers() == [early, normal, late]
