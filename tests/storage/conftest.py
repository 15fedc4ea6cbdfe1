"""Blob store fixtures: every test runs against a local folder and a real S3-protocol server.

The S3 server itself (``s3_endpoint``, ``s3_bucket``) lives in tests/conftest.py, so hub tests use it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from baton.storage import BlobStore, LocalBlobStore
from baton.storage.s3 import S3BlobStore


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """An empty blob store of each backend (S3 stores get their own prefix in a shared bucket)."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "store")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket: str = request.getfixturevalue("s3_bucket")
    return S3BlobStore(bucket, f"test-{uuid.uuid4().hex}", endpoint_url=endpoint)


@pytest.fixture
def leftovers() -> Callable[[BlobStore], list[str]]:
    """Lists what unfinished uploads left in a store: temporaries, parts, open S3 uploads."""

    def list_leftovers(store: BlobStore) -> list[str]:
        if isinstance(store, LocalBlobStore):
            # Each temporary file and each part, like the S3 listing below.
            return sorted(
                str(path.relative_to(store.root))
                for folder in (store.tmp_dir, store.multipart_dir)
                for path in folder.rglob("*")
                if path.is_file() or not any(path.iterdir())
            )
        assert isinstance(store, S3BlobStore)
        found: list[str] = []
        for folder in ("tmp", "multipart"):
            response = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.folder_key(folder))
            found += [item["Key"] for item in response.get("Contents", [])]
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{store.prefix}/")
        found += [f"open upload of {upload['Key']}" for upload in uploads.get("Uploads", [])]
        return sorted(found)

    return list_leftovers
