"""Repo creation forms, visibility and gating over the raw HTTP API (in-process)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_create_repo_accepts_private_and_visibility_forms(client: TestClient, users: Any) -> None:
    bob = users.headers("bob")
    carol = users.headers("carol")
    for name, body in (
        ("by-flag", {"private": True}),
        ("by-visibility", {"visibility": "private"}),
        ("public-by-visibility", {"visibility": "public"}),
    ):
        response = client.post("/api/repos/create", json={"name": name, "type": "model"} | body, headers=bob)
        assert response.status_code == 200, response.text
        assert response.json()["url"].endswith(f"/bob/{name}")
    assert client.get("/api/models/bob/by-flag", headers=carol).status_code == 404
    assert client.get("/api/models/bob/by-visibility", headers=carol).status_code == 404
    assert client.get("/api/models/bob/public-by-visibility", headers=carol).json()["private"] is False
    # visibility flips a repo both ways through the settings route
    response = client.put("/api/models/bob/by-visibility/settings", json={"visibility": "public"}, headers=bob)
    assert response.status_code == 200
    assert client.get("/api/models/bob/by-visibility", headers=carol).json()["private"] is False


def test_auto_gated_repo_accepts_requests_at_once(client: TestClient, users: Any) -> None:
    bob, carol = users.headers("bob"), users.headers("carol")
    client.post("/api/repos/create", json={"name": "auto", "type": "dataset"}, headers=bob)
    line = (
        b'{"key":"header","value":{"summary":"add"}}\n{"key":"file","value":{"path":"d.csv","content":"YSxiCjEsMgo="}}'
    )
    committed = client.post(
        "/api/datasets/bob/auto/commit/main", content=line, headers=bob | {"Content-Type": "application/x-ndjson"}
    )
    assert committed.status_code == 200, committed.text
    assert client.put("/api/datasets/bob/auto/settings", json={"gated": "auto"}, headers=bob).status_code == 200
    denied = client.get("/datasets/bob/auto/resolve/main/d.csv", headers=carol)
    assert denied.status_code == 403 and denied.headers["X-Error-Code"] == "GatedRepo"
    asked = client.post("/api/datasets/bob/auto/ask-access", json={}, headers=carol)
    assert asked.json() == {"status": "accepted"}
    allowed = client.get("/datasets/bob/auto/resolve/main/d.csv", headers=carol)
    assert allowed.status_code == 200 and allowed.content == b"a,b\n1,2\n"
    # the owner can switch gating off again; anonymous users then read freely
    client.put("/api/datasets/bob/auto/settings", json={"gated": False}, headers=bob)
    assert client.get("/datasets/bob/auto/resolve/main/d.csv").status_code == 200
