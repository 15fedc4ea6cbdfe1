"""Helpers shared by the hub tests."""

from __future__ import annotations

from typing import Any

from baton.core.runtime import Runtime
from baton.storage.local import LocalBlobStore


def leftover_temporaries(runtime: Runtime) -> list[str]:
    """Files the local blob store is still receiving or has left behind (its tmp/ folder)."""
    store = runtime.store
    assert isinstance(store, LocalBlobStore)
    return [path.name for path in store.tmp_dir.rglob("*") if path.is_file()]


def headers_with_repo(client: Any, users: Any, user: str, name: str) -> dict[str, str]:
    """``user``'s request headers (from the ``users`` fixture), once their model repo ``name`` exists."""
    headers: dict[str, str] = users.headers(user)
    response = client.post("/api/repos/create", json={"name": name, "type": "model"}, headers=headers)
    assert response.status_code == 200, response.text
    return headers
