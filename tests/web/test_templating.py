"""The site's one template environment: autoescaped, translated through the catalogues, the only one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.routing import NoMatchFound

from baton.web import templating


def _error_page(lang: str, **values: object) -> str:
    context = {"title": "t", "explanation": "e", "message": "m", "hint": "h", "status": 404, "code": "NotFound"}
    return templating.render("error.html", lang=lang, **(context | values))


def test_one_environment_autoescaped_with_the_i18n_extension() -> None:
    environment = templating.environment()
    assert environment is templating.environment()
    assert environment.autoescape is True
    assert "jinja2.ext.InternationalizationExtension" in environment.extensions
    page = _error_page("en", message="<script>alert(1)</script>", hint='"><img src=x onerror=alert(1)>')
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_pages_are_drawn_in_the_language_asked_for() -> None:
    korean, english = _error_page("ko"), _error_page("en")
    assert '<html lang="ko">' in korean and '<html lang="en">' in english
    assert "본문으로 건너뛰기" in korean and "Skip to the content" in english
    assert ">커먼즈<" in korean and ">Commons<" in english
    assert "HTTP 상태 404 (NotFound)" in korean and "HTTP status 404 (NotFound)" in english
    # A language Baton does not speak falls back to Korean, the default.
    assert '<html lang="ko">' in _error_page("fr")


def test_links_and_static_files_are_named_not_written() -> None:
    page = _error_page("en")
    assert re.search(r'href="/static/baton\.css\?v=[0-9a-f]{12}"', page)
    assert 'action="/models"' in page  # the search box goes to the model listing
    assert templating.path_for(None, "static_file", path="baton.css") == "/static/baton.css"
    stand_alone = _error_page("en", standalone=True)
    assert "/static/" not in stand_alone and ".site-header" in stand_alone  # the stylesheet inlined, no links


def test_paths_named_for_a_request_are_remembered_by_its_app() -> None:
    app = FastAPI()

    @app.get("/things/{name}", name="thing")
    def thing(name: str) -> str:
        return name

    asked: list[str] = []
    original = app.url_path_for

    def counting(name: str, /, **params: Any) -> URLPath:
        asked.append(name)
        return original(name, **params)

    app.url_path_for = counting  # type: ignore[method-assign]
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "app": app, "root_path": "/base"})
    # a route parameter may be called "name" (as the repo pages' are)
    assert templating.path_for(request, "thing", name="a") == "/base/things/a"
    assert templating.path_for(request, "thing", name="a") == "/base/things/a"
    assert templating.path_for(request, "thing", name="b") == "/base/things/b"
    assert asked == ["thing", "thing"]  # the second "a" was remembered
    # a navigation item whose page is not there yet: its fallback, looked up once
    assert (
        templating.path_for(request, "datasets_page")
        == templating.path_for(request, "datasets_page")
        == "/base/datasets"
    )
    assert asked.count("datasets_page") == 1
    with pytest.raises(NoMatchFound):
        templating.path_for(request, "no_such_page")
