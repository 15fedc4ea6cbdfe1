"""Browsers asking for a page get an HTML error page in their language; API clients keep the JSON errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from baton.app import create_app
from baton.core.runtime import Runtime

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def _page(response: Any) -> str:
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    return str(response.text)


def _json(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json", response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert {"error", "message", "hint"} <= body.keys()
    return body


def test_a_browser_gets_a_translated_page_for_an_unknown_path(client: TestClient) -> None:
    korean = client.get("/no/such/page", headers={"Accept": BROWSER})
    assert korean.status_code == 404
    page = _page(korean)
    assert '<html lang="ko">' in page and "페이지를 찾을 수 없습니다" in page and 'id="home-link"' in page
    assert korean.headers["x-error-code"] == "NotFound"
    english = client.get("/no/such/page", headers={"Accept": BROWSER, "Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 404 and "Page not found" in _page(english)
    head = client.head("/no/such/page", headers={"Accept": BROWSER})
    assert head.status_code == 404 and head.headers["content-type"].startswith("text/html")


def test_programs_keep_the_json_errors(client: TestClient) -> None:
    assert _json(client.get("/no/such/page"))["error"] == "NotFound"  # httpx sends Accept: */*
    assert _json(client.get("/no/such/page", headers={"Accept": "*/*"}))["error"] == "NotFound"
    prefers_json = {"Accept": "application/json, text/html;q=0.5"}
    assert client.get("/no/such/page", headers=prefers_json).status_code == 404
    _json(client.get("/no/such/page", headers=prefers_json))
    # The API, whatever the Accept header says.
    _json(client.get("/api/models/nobody/nothing", headers={"Accept": BROWSER}))
    _json(client.get("/api/challenges/none", headers={"Accept": BROWSER}))
    # A token means a program, even one that asks for HTML.
    _json(client.get("/no/such/page", headers={"Accept": BROWSER, "Authorization": "Bearer x"}))
    # Only reads are pages: a form posted to nowhere is answered in JSON.
    _json(client.post("/no/such/page", headers={"Accept": BROWSER}))


def test_hugging_face_client_paths_keep_the_json_errors(client: TestClient) -> None:
    for path in (
        "/nobody/nothing/resolve/main/config.json",
        "/datasets/nobody/nothing/resolve/main/data.csv",
        "/nobody/nothing.git/info/lfs/objects/batch",
    ):
        response = client.get(path, headers={"Accept": BROWSER})
        assert response.status_code in (404, 405), path
        body = _json(response)
        assert response.headers["x-error-code"] == body["error"]


def test_a_wrong_method_is_a_page_too_with_its_allow_header(client: TestClient) -> None:
    response = client.get("/settings/account/password", headers={"Accept": BROWSER, "Accept-Language": "en"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "Not available this way" in _page(response)
    assert client.get("/settings/account/password").json()["error"] == "MethodNotAllowed"


def test_the_page_shows_the_message_escaped(client: TestClient) -> None:
    response = client.get("/<script>alert(1)</script>/x", headers={"Accept": BROWSER})
    page = _page(response)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_an_unexpected_error_is_a_page_without_details(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)

    @app.get("/boom/on/purpose")  # three segments: no catch-all page route (repo, account) matches it
    def boom() -> None:
        raise RuntimeError("secret detail in the traceback")

    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/boom/on/purpose", headers={"Accept": BROWSER, "Accept-Language": "en"})
        assert page.status_code == 500 and "Something went wrong on our side" in _page(page)
        assert "secret detail" not in page.text
        answer = client.get("/boom/on/purpose")
        assert answer.status_code == 500 and _json(answer)["error"] == "InternalError"
        assert "secret detail" not in answer.text
