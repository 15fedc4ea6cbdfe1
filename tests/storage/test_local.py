"""What is specific to the local folder backend: layout, atomicity, stale files."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from baton.core.errors import IntegrityError, QuotaExceededError
from baton.storage import LocalBlobStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_layout_is_sharded(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    oid = store.put([b"layout"]).sha256
    expected = tmp_path / "blobs" / oid[:2] / oid[2:4] / oid
    assert files_under(tmp_path) == [expected]
    assert store.local_path(oid) == str(expected)
    assert expected.read_bytes() == b"layout"


def test_no_partial_file_under_blobs_while_receiving(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    seen_during_upload: list[list[Path]] = []

    def slow_client() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * 1000
            seen_during_upload.append(files_under(store.blobs_dir))

    store.put(slow_client())
    assert seen_during_upload == [[], [], []]
    assert len(files_under(store.blobs_dir)) == 1


@pytest.mark.parametrize(
    "arguments",
    [{"expected_sha256": "0" * 64}, {"expected_size": 1}, {"max_size": 10}],
    ids=["sha256", "size", "quota"],
)
def test_refused_uploads_leave_no_file(tmp_path: Path, arguments: dict[str, object]) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises((IntegrityError, QuotaExceededError)):
        store.put([b"a" * 100], **arguments)  # type: ignore[arg-type]
    assert files_under(tmp_path) == []


def test_existing_blob_is_refreshed_for_garbage_collection(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    oid = store.put([b"old"]).sha256
    path = Path(store.local_path(oid) or "")
    os.utime(path, (1_000_000, 1_000_000))
    store.put([b"old"])
    assert path.stat().st_mtime > time.time() - 60


def test_cleanup_stale_spares_recent_and_removes_old(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = time.time() - 7200
    (store.tmp_dir / "old").write_bytes(b"old")
    os.utime(store.tmp_dir / "old", (old, old))
    (store.tmp_dir / "recent").write_bytes(b"recent")
    store.put_part("old-upload", 1, [b"old"])
    for path in (store.multipart_dir / "old-upload", store.multipart_dir / "old-upload" / "1"):
        os.utime(path, (old, old))
    # An upload with one old part and one recent part is still active.
    store.put_part("active-upload", 1, [b"old"])
    store.put_part("active-upload", 2, [b"new"])
    os.utime(store.multipart_dir / "active-upload" / "1", (old, old))
    assert store.cleanup_stale(3600) == 2
    assert sorted(path.name for path in store.tmp_dir.iterdir()) == ["recent"]
    assert sorted(path.name for path in store.multipart_dir.iterdir()) == ["active-upload"]


def test_iter_blobs_ignores_stray_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    oid = store.put([b"real"]).sha256
    (store.blobs_dir / "README").write_text("not a blob")
    misplaced = sha(b"misplaced")
    (store.blobs_dir / "00" / "00").mkdir(parents=True)
    (store.blobs_dir / "00" / "00" / misplaced).write_bytes(b"misplaced")
    assert [blob.sha256 for blob in store.iter_blobs()] == [oid]


def test_open_range_closes_the_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    oid = store.put([b"abc" * 1000]).sha256
    stream = store.open_range(oid, 0, 10)
    assert isinstance(stream, Generator)
    assert next(stream) == b"abcabcabcab"
    stream.close()  # e.g. the client hung up mid-download
    assert list(store.open_range(oid, 2999)) == [b"c"]


def test_writeback_starts_while_a_large_upload_is_still_arriving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baton.storage import local

    if sys.platform.startswith("linux"):
        assert local._sync_file_range is not None  # loaded from libc, so the head start really happens
    requests: list[tuple[int, int, int]] = []
    real = local._sync_file_range

    def recording(descriptor: int, offset: int, length: int, flags: int) -> int:
        requests.append((offset, length, os.fstat(descriptor).st_size))
        return real(descriptor, offset, length, flags) if real is not None else 0

    monkeypatch.setattr(local, "_sync_file_range", recording)
    store = LocalBlobStore(tmp_path)
    step = local.WRITEBACK_STEP
    block = os.urandom(1024 * 1024)
    body = block * (40 * 1024 * 1024 // len(block))  # 2.5 steps
    info = store.put(
        (body[start : start + len(block)] for start in range(0, len(body), len(block))),
        expected_sha256=sha(body),
        expected_size=len(body),
    )
    # One request per whole step, each for the range just written and while more was to come.
    assert [(offset, length) for offset, length, _ in requests] == [(0, step), (step, step)]
    assert all(size_then == offset + length for offset, length, size_then in requests)
    assert Path(store.blob_path(info.sha256)).read_bytes() == body


def test_uploads_work_where_writeback_cannot_be_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.storage import local

    monkeypatch.setattr(local, "_sync_file_range", None)
    store = LocalBlobStore(tmp_path)
    body = os.urandom(local.WRITEBACK_STEP + 1000)
    info = store.put([body[:1000], body[1000:]], expected_sha256=sha(body))
    assert Path(store.blob_path(info.sha256)).read_bytes() == body
