"""Helpers shared by the hub tests."""

from __future__ import annotations

from baton.core.runtime import Runtime
from baton.storage.local import LocalBlobStore


def leftover_temporaries(runtime: Runtime) -> list[str]:
    """Files the local blob store is still receiving or has left behind (its tmp/ folder)."""
    store = runtime.store
    assert isinstance(store, LocalBlobStore)
    return [path.name for path in store.tmp_dir.rglob("*") if path.is_file()]
