"""Translations: every message of the templates and the web layer's code is in both catalogues, and the
language a page is drawn in follows the switch, the remembered choice and the browser, Korean first."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

import baton
from baton.web import catalogues, i18n

SRC = Path(baton.__file__).parent
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


def test_every_message_is_translated_in_both_languages() -> None:
    used = catalogues.extract()
    # The extractor sees templates ({% trans %}, _()) and Python (N_()) alike.
    assert "Skip to the content" in used and "Page not found" in used and "Search models and datasets" in used
    assert any(location[0].endswith(".html") for entry in used.values() for location in entry.locations)
    assert catalogues.problems() == []


def test_a_missing_empty_or_wrong_translation_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for language in i18n.LANGUAGES:
        target = tmp_path / language / "LC_MESSAGES" / "messages.po"
        target.parent.mkdir(parents=True)
        shutil.copy(i18n.catalogue_path(language), target)
    korean = tmp_path / "ko" / "LC_MESSAGES" / "messages.po"
    text = korean.read_text(encoding="utf-8")
    text = text.replace(
        'msgid "Page not found"\nmsgstr "페이지를 찾을 수 없습니다"', 'msgid "Page not found"\nmsgstr ""'
    )
    text = text.replace('msgid "Sign out"\nmsgstr "로그아웃"\n', "")
    text = text.replace("%(seconds)s초", "%(second)s초")
    korean.write_text(text, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    found = "\n".join(catalogues.problems())
    assert "ko: empty translation of 'Page not found'" in found
    assert "ko: missing 'Sign out'" in found
    assert "placeholders ['%(second)s']" in found
    assert "en:" not in found


def _request(query: str = "", cookie: str = "", accept_language: str = "") -> Request:
    headers = [(b"accept-language", accept_language.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "headers": headers})


def test_the_page_language_switch_then_remembered_then_browser_then_korean() -> None:
    assert i18n.page_language(_request()) == "ko"
    assert i18n.page_language(_request(accept_language="fr-FR,fr;q=0.9")) == "ko"
    assert i18n.page_language(_request(accept_language="en-US,en;q=0.9,ko;q=0.8")) == "en"
    assert i18n.page_language(_request(accept_language="ko-KR,ko;q=0.9,en;q=0.8")) == "ko"
    assert i18n.page_language(_request(accept_language="ko;q=0.5,en;q=0.7")) == "en"
    assert i18n.page_language(_request(cookie="baton_lang=en", accept_language="ko")) == "en"
    assert i18n.page_language(_request(cookie="baton_lang=xx", accept_language="en")) == "en"
    assert i18n.page_language(_request(query="lang=ko", cookie="baton_lang=en")) == "ko"
    assert i18n.page_language(_request(query="lang=de", cookie="baton_lang=en")) == "en"


def test_the_switch_is_remembered_and_only_sends_people_back_to_this_site(client: TestClient) -> None:
    switched = client.get("/language/en", params={"next": "/no/page?x=1"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/no/page?x=1"
    cookie = switched.headers["set-cookie"]
    assert "baton_lang=en" in cookie and "Path=/" in cookie and "Max-Age=31536000" in cookie
    later = client.get("/another/page", headers={"Accept": BROWSER})  # the client keeps the cookie
    assert '<html lang="en">' in later.text and "Page not found" in later.text
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        answer = client.get("/language/en", params={"next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/", target
    assert client.get("/language/xx", follow_redirects=False).status_code == 400
    # ?lang= on a page switches that page and is remembered too.
    korean = client.get("/another/page?lang=ko", headers={"Accept": BROWSER})
    assert '<html lang="ko">' in korean.text and "baton_lang=ko" in korean.headers["set-cookie"]
    assert '<html lang="ko">' in client.get("/another/page", headers={"Accept": BROWSER}).text


def test_the_site_files_are_package_data() -> None:
    """Templates, static files and catalogues ship in wheels (setuptools' package-data patterns)."""
    with (SRC.parent.parent / "pyproject.toml").open("rb") as source:
        patterns = tomllib.load(source)["tool"]["setuptools"]["package-data"]["baton"]
    shipped = {path for pattern in patterns for path in SRC.glob(pattern) if path.is_file()}
    site = {path for folder in ("templates", "static", "locale") for path in (SRC / "web" / folder).rglob("*")}
    missing = sorted(str(path.relative_to(SRC)) for path in site if path.is_file() and path not in shipped)
    assert missing == []
    assert (SRC / "web" / "locale" / "ko" / "LC_MESSAGES" / "messages.po") in shipped
