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
    scripts_and_styles = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    for url in scripts_and_styles:
        assert url.startswith("/static/"), url
        asset = client.get(url)
        assert asset.status_code == 200 and asset.headers["cache-control"].endswith("immutable"), url
    # The page draws one part of the API at a time and links the others and the whole document.
    links = [url for url in assets if url not in scripts_and_styles]
    parts = [url for url in links if url.startswith("/api/docs?part=")]
    assert len(parts) >= 3 and "/openapi.json" in links
    assert 'url: "/api/docs/openapi/hub.json"' in page
    whole = client.get("/openapi.json").json()
    drawn = 0
    for link in parts:
        assert client.get(link).status_code == 200
        part = client.get(link.replace("/api/docs?part=", "/api/docs/openapi/") + ".json")
        assert part.status_code == 200
        drawn += sum(len(operations) for operations in part.json()["paths"].values())
    assert drawn == sum(len(operations) for operations in whole["paths"].values())
    assert client.get("/api/docs?part=nope").status_code == 404
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy


def test_the_api_docs_are_not_in_the_schema(client: TestClient) -> None:
    assert "/api/docs" not in client.get("/openapi.json").json()["paths"]
