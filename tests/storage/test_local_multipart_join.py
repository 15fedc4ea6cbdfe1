"""The local backend joins multipart parts in the kernel, with a plain copy where it cannot."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from baton.core.errors import IntegrityError, StorageError
from baton.storage import LocalBlobStore

PARTS = {1: b"first part " * 300, 2: b"second part " * 200, 3: b"third"}
DATA = PARTS[1] + PARTS[2] + PARTS[3]
real_copy_file_range = os.copy_file_range


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_parts(store: LocalBlobStore, upload_id: str = "join-1") -> None:
    for number in (3, 1, 2):
        store.put_part(upload_id, number, [PARTS[number]])


def complete(store: LocalBlobStore, upload_id: str = "join-1") -> str:
    info = store.complete_multipart(upload_id, [1, 2, 3], expected_sha256=sha(DATA), expected_size=len(DATA))
    return info.sha256


def test_parts_are_joined_in_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    upload_parts(store)
    oid = complete(store)
    assert Path(store.blob_path(oid)).read_bytes() == DATA
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.multipart_dir.iterdir()) == []


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM])
def test_falls_back_to_a_plain_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def unsupported(*args: object, **kwargs: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    store = LocalBlobStore(tmp_path)
    upload_parts(store)
    assert Path(store.blob_path(complete(store))).read_bytes() == DATA


def test_fallback_continues_where_the_kernel_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def gives_up_after_some_bytes(source: int, destination: int, count: int, *args: object) -> int:
        calls.append(count)
        if len(calls) % 2:
            return real_copy_file_range(source, destination, 7)
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", gives_up_after_some_bytes)
    store = LocalBlobStore(tmp_path)
    upload_parts(store)
    assert Path(store.blob_path(complete(store))).read_bytes() == DATA
    assert calls


def test_io_errors_are_reported_and_keep_the_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "copy_file_range", broken)
    store = LocalBlobStore(tmp_path)
    upload_parts(store)
    with pytest.raises(StorageError, match="join the parts"):
        complete(store)
    assert list(store.tmp_dir.iterdir()) == []
    monkeypatch.setattr(os, "copy_file_range", real_copy_file_range)
    assert Path(store.blob_path(complete(store))).read_bytes() == DATA


def test_what_is_verified_is_what_is_stored(tmp_path: Path) -> None:
    """A part replaced after its size was read is still caught: the joined file is hashed."""
    store = LocalBlobStore(tmp_path)
    upload_parts(store)
    (store.multipart_dir / "join-1" / "2").write_bytes(b"X" * len(PARTS[2]))
    with pytest.raises(IntegrityError):
        complete(store)
    assert list(store.tmp_dir.iterdir()) == []
    assert not store.exists(sha(DATA))
    store.put_part("join-1", 2, [PARTS[2]])  # the client re-sends the part and completes again
    assert Path(store.blob_path(complete(store))).read_bytes() == DATA
