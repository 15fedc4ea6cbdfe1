"""/api/docs works offline: Swagger UI comes from Baton's own copy, and the page names no other site."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_api_docs_load_only_local_assets(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in url for url in assets) and any("swagger-ui.css" in url for url in assets)
    assert not re.search(r"https?://", page), "the page must not load or name another site"
    assert '<html lang="en">' in page and page.count("<h1") == 1  # a language and a heading for screen readers
    assert '"validatorUrl": null' in page  # Swagger UI's online validator would call validator.swagger.io
    for url in assets:
        assert url.startswith("/static/"), url
        asset = client.get(url)
        assert asset.status_code == 200 and asset.headers["cache-control"].endswith("immutable"), url
    assert 'url: "/openapi.json"' in page and client.get("/openapi.json").status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy


def test_the_api_docs_are_not_in_the_schema(client: TestClient) -> None:
    assert "/api/docs" not in client.get("/openapi.json").json()["paths"]
