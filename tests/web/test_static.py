"""Static files: only the packaged ones, with sensible cache headers; vendored ones with their licenses."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from baton.web import static

VENDORED = {
    "vendor/htmx/htmx.min.js": ("vendor/htmx/LICENSE", "Zero-Clause BSD"),
    "vendor/swagger-ui/swagger-ui-bundle.js": ("vendor/swagger-ui/LICENSE", "Apache License"),
    "vendor/swagger-ui/swagger-ui.css": ("vendor/swagger-ui/LICENSE", "Apache License"),
}


def test_vendored_files_are_served_with_their_licenses(client: TestClient) -> None:
    for path, (license_path, words) in VENDORED.items():
        response = client.get(f"/static/{path}")
        assert response.status_code == 200 and len(response.content) > 10_000, path
        expected = "text/javascript" if path.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected)
        assert response.headers["x-content-type-options"] == "nosniff"
        license_text = client.get(f"/static/{license_path}")
        assert license_text.status_code == 200 and words in license_text.text
    readme = client.get("/static/vendor/README.txt").text
    assert "htmx.org 2.0.11" in readme and "swagger-ui-dist 5.36.0" in readme
    bundled = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js.LICENSE.txt")
    assert bundled.status_code == 200 and "@license" in bundled.text  # the licenses of what the bundle holds


def test_cache_headers_etags_and_versions(client: TestClient) -> None:
    plain = client.get("/static/baton.css")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "public, max-age=3600"
    etag = plain.headers["etag"]
    version = static.asset("baton.css").version  # type: ignore[union-attr]
    assert re.fullmatch(r"[0-9a-f]{12}", version) and etag.strip('"').startswith(version)
    pinned = client.get(f"/static/baton.css?v={version}")
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/static/baton.css?v=000000000000").headers["cache-control"] == "public, max-age=3600"
    again = client.get("/static/baton.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/static/baton.css", headers={"If-None-Match": '"other"'}).status_code == 200


def test_only_packaged_files_are_served(client: TestClient) -> None:
    for path in ("/static/nothing.css", "/static/%2e%2e/app.py", "/static/..%2f..%2fpyproject.toml", "/static/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "NotFound"
    long = client.get("/static/" + "a" * 5000)
    assert long.status_code == 404 and len(long.json()["message"]) < 300


def test_icon_and_robots(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg") and b"<script" not in icon.content
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
    assert "Disallow: /api/" in robots.text and "Disallow: /*/resolve/" in robots.text
