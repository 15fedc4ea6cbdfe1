"""Content-addressed blob storage: a local folder (default) or an S3-compatible object store.

``open_blob_store`` picks the backend from ``BATON_STORAGE_URL``. The S3 backend (and boto3)
is imported only when it is used, so a server on local storage starts without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from baton.core.blobs import (
    CHUNK_SIZE,
    BlobInfo,
    BlobStore,
    StoredBlob,
    UploadedPart,
    check_sha256,
)
from baton.core.errors import ConfigurationError
from baton.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from baton.storage.s3 import S3BlobStore

__all__ = [
    "CHUNK_SIZE",
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "StoredBlob",
    "UploadedPart",
    "check_sha256",
    "open_blob_store",
]

SUPPORTED_SCHEMES = "a folder path, file:///absolute/path or s3://bucket/prefix"


def __getattr__(name: str) -> object:
    if name == "S3BlobStore":
        from baton.storage.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_blob_store(storage_url: str | None, data_dir: Path) -> BlobStore:
    """The blob store named by ``storage_url`` (``BATON_STORAGE_URL``).

    - empty: a folder ``<data_dir>/blobs``
    - ``file:///absolute/path`` or a plain path: that folder
    - ``s3://bucket/prefix``: an S3 bucket; the endpoint (for MinIO and other S3-compatible
      servers) comes from ``BATON_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL``, credentials
      from the usual AWS environment variables or files.
    """
    if not storage_url:
        return LocalBlobStore(data_dir / "blobs")
    if "://" not in storage_url:
        return LocalBlobStore(Path(storage_url).expanduser())
    parts = urlsplit(storage_url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError(
                f"storage URL {storage_url!r} is not a local file URL",
                hint="Write an absolute folder as file:///absolute/path (three slashes), or just the path.",
            )
        return LocalBlobStore(Path(unquote(parts.path)))
    if scheme == "s3":
        if not parts.netloc:
            raise ConfigurationError(
                f"storage URL {storage_url!r} names no bucket",
                hint="Write it as s3://bucket/prefix, e.g. s3://baton/blobs.",
            )
        from baton.storage.s3 import S3BlobStore

        endpoint_url = os.environ.get("BATON_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or None
        return S3BlobStore(parts.netloc, unquote(parts.path).strip("/"), endpoint_url=endpoint_url)
    raise ConfigurationError(
        f"storage URL scheme {parts.scheme!r} is not supported",
        hint=f"Set BATON_STORAGE_URL to {SUPPORTED_SCHEMES}.",
    )
