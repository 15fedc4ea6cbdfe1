"""The BlobStore contract, run against every backend (a local folder and an S3 server)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from baton.core.errors import (
    BadRequestError,
    IntegrityError,
    NotFoundError,
    QuotaExceededError,
    RangeNotSatisfiableError,
)
from baton.storage import BlobStore, LocalBlobStore
from baton.storage.s3 import S3BlobStore

MIB = 1024 * 1024
Leftovers = Callable[[BlobStore], list[str]]

HOSTILE_OIDS = [
    "../../etc/passwd",
    "../" + "a" * 61,
    "A" * 64,  # upper case
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "",
    "a" * 62 + "/x",
    "a" * 64 + "\n",
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read_all(store: BlobStore, oid: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.open_range(oid, start, end))


class CountingChunks:
    """An iterator of chunks that records how many were taken (to prove an early stop)."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield self.chunk


def random_chunks(total: int, seed: int, chunk_size: int = MIB) -> Iterator[bytes]:
    """Deterministic bytes, produced one chunk at a time (never all in memory)."""
    generator = random.Random(seed)
    remaining = total
    while remaining:
        size = min(chunk_size, remaining)
        remaining -= size
        yield generator.randbytes(size)


def digest_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def slice_of(chunks: Iterator[bytes], start: int, stop: int) -> bytes:
    """Bytes ``[start, stop)`` of a stream, keeping only those."""
    kept = bytearray()
    offset = 0
    for chunk in chunks:
        kept += chunk[max(0, start - offset) : max(0, stop - offset)]
        offset += len(chunk)
    return bytes(kept)


def test_round_trip(blob_store: BlobStore, leftovers: Leftovers) -> None:
    data = b"hello, commons\n" * 1000
    info = blob_store.put(chunked(data), expected_sha256=sha(data), expected_size=len(data))
    assert (info.sha256, info.size) == (sha(data), len(data))
    assert blob_store.exists(info.sha256)
    assert blob_store.size(info.sha256) == len(data)
    assert read_all(blob_store, info.sha256) == data
    # Every chunk is bounded by CHUNK_SIZE and non-empty.
    assert all(0 < len(chunk) <= MIB for chunk in blob_store.open_range(info.sha256))
    assert leftovers(blob_store) == []


def test_put_without_declared_hash_names_the_blob(blob_store: BlobStore, leftovers: Leftovers) -> None:
    data = b"no hash declared"
    info = blob_store.put([data])
    assert info.sha256 == sha(data)
    assert read_all(blob_store, info.sha256) == data
    assert leftovers(blob_store) == []


def test_empty_blob(blob_store: BlobStore) -> None:
    info = blob_store.put([], expected_sha256=sha(b""), expected_size=0)
    assert info.size == 0
    assert blob_store.exists(info.sha256)
    assert blob_store.size(info.sha256) == 0
    assert read_all(blob_store, info.sha256) == b""
    with pytest.raises(RangeNotSatisfiableError):
        read_all(blob_store, info.sha256, 0, 0)


def test_same_content_twice_is_stored_once(blob_store: BlobStore, leftovers: Leftovers) -> None:
    data = b"shared weights"
    first = blob_store.put([data], expected_sha256=sha(data))
    second = blob_store.put(chunked(data, 3))
    third = blob_store.put([data], expected_sha256=sha(data), expected_size=len(data))
    assert first == second == third
    assert [blob.sha256 for blob in blob_store.iter_blobs()] == [sha(data)]
    assert read_all(blob_store, first.sha256) == data
    assert leftovers(blob_store) == []


def test_existing_blob_is_still_verified(blob_store: BlobStore) -> None:
    data = b"stored already"
    blob_store.put([data])
    with pytest.raises(IntegrityError):
        blob_store.put([data + b"!"], expected_sha256=sha(data))
    assert read_all(blob_store, sha(data)) == data


@pytest.mark.parametrize("size", [1000, 12 * MIB], ids=["small", "multipart"])
def test_wrong_sha256_is_refused_and_leaves_nothing(blob_store: BlobStore, leftovers: Leftovers, size: int) -> None:
    data = random.Random(size).randbytes(size)
    claimed = sha(b"something else")
    with pytest.raises(IntegrityError) as caught:
        blob_store.put(chunked(data, MIB), expected_sha256=claimed, expected_size=size)
    assert caught.value.status_code == 400
    assert not blob_store.exists(claimed)
    assert not blob_store.exists(sha(data))
    assert list(blob_store.iter_blobs()) == []
    assert leftovers(blob_store) == []


@pytest.mark.parametrize("declared", [9, 11, 0])
def test_wrong_size_is_refused_and_leaves_nothing(blob_store: BlobStore, leftovers: Leftovers, declared: int) -> None:
    data = b"0123456789"
    with pytest.raises(IntegrityError):
        blob_store.put(chunked(data, 2), expected_sha256=sha(data), expected_size=declared)
    with pytest.raises(IntegrityError):
        blob_store.put(chunked(data, 2), expected_size=declared)
    assert not blob_store.exists(sha(data))
    assert list(blob_store.iter_blobs()) == []
    assert leftovers(blob_store) == []


def test_too_many_bytes_stop_the_stream_early(blob_store: BlobStore) -> None:
    chunks = CountingChunks(b"x" * 100, 50)
    with pytest.raises(IntegrityError):
        blob_store.put(chunks, expected_size=250)
    assert chunks.taken == 3


@pytest.mark.parametrize(
    ("chunk_size", "count", "max_size"),
    [(1000, 100, 2500), (4 * MIB, 10, 18 * MIB)],
    ids=["small", "multipart"],
)
def test_max_size_stops_the_stream_mid_way(
    blob_store: BlobStore, leftovers: Leftovers, chunk_size: int, count: int, max_size: int
) -> None:
    chunks = CountingChunks(b"z" * chunk_size, count)
    with pytest.raises(QuotaExceededError) as caught:
        blob_store.put(chunks, max_size=max_size)
    assert caught.value.status_code == 413
    # Stopped on the first chunk past the limit, not after reading everything.
    assert chunks.taken == max_size // chunk_size + 1
    assert list(blob_store.iter_blobs()) == []
    assert leftovers(blob_store) == []


def test_max_size_allows_exactly_the_limit(blob_store: BlobStore) -> None:
    data = b"a" * 100
    assert blob_store.put([data], max_size=100).size == 100


def test_declared_size_over_max_size_is_refused_before_reading(blob_store: BlobStore) -> None:
    chunks = CountingChunks(b"a", 10)
    with pytest.raises(QuotaExceededError):
        blob_store.put(chunks, expected_size=10, max_size=5)
    assert chunks.taken == 0


def test_interrupted_stream_leaves_nothing(blob_store: BlobStore, leftovers: Leftovers) -> None:
    def disconnecting_client() -> Iterator[bytes]:
        yield b"a" * MIB
        yield b"b" * MIB
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        blob_store.put(disconnecting_client())
    assert list(blob_store.iter_blobs()) == []
    assert leftovers(blob_store) == []


def test_ranges(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 10
    oid = blob_store.put([data]).sha256
    last = len(data) - 1
    assert read_all(blob_store, oid, 0, 0) == data[:1]
    assert read_all(blob_store, oid, 0, 99) == data[:100]
    assert read_all(blob_store, oid, 100, 199) == data[100:200]
    assert read_all(blob_store, oid, 100) == data[100:]
    assert read_all(blob_store, oid, last, last) == data[-1:]
    assert read_all(blob_store, oid, last) == data[-1:]
    # An end past the last byte is clamped, as HTTP ranges are.
    assert read_all(blob_store, oid, 2000, 10**9) == data[2000:]


def test_ranges_across_chunk_boundaries(blob_store: BlobStore) -> None:
    data = random.Random(7).randbytes(3 * MIB + 5)
    oid = blob_store.put(chunked(data, MIB)).sha256
    assert read_all(blob_store, oid, MIB - 3, 2 * MIB + 3) == data[MIB - 3 : 2 * MIB + 4]
    assert read_all(blob_store, oid, 3 * MIB) == data[3 * MIB :]


@pytest.mark.parametrize(("start", "end"), [(2560, None), (5000, 6000), (-1, None), (10, 5)])
def test_unsatisfiable_ranges(blob_store: BlobStore, start: int, end: int | None) -> None:
    oid = blob_store.put([bytes(range(256)) * 10]).sha256
    with pytest.raises(RangeNotSatisfiableError) as caught:
        read_all(blob_store, oid, start, end)
    assert caught.value.status_code == 416


def test_missing_blob(blob_store: BlobStore) -> None:
    oid = sha(b"never stored")
    assert not blob_store.exists(oid)
    assert blob_store.local_path(oid) is None
    with pytest.raises(NotFoundError):
        blob_store.size(oid)
    # Reported by the call itself, before any byte is read.
    with pytest.raises(NotFoundError):
        blob_store.open_range(oid)


@pytest.mark.parametrize("oid", HOSTILE_OIDS)
def test_hostile_object_ids_are_refused(blob_store: BlobStore, oid: str) -> None:
    with pytest.raises(BadRequestError):
        blob_store.exists(oid)
    with pytest.raises(BadRequestError):
        blob_store.size(oid)
    with pytest.raises(BadRequestError):
        blob_store.open_range(oid)
    with pytest.raises(BadRequestError):
        blob_store.delete(oid)
    with pytest.raises(BadRequestError):
        blob_store.local_path(oid)
    with pytest.raises(BadRequestError):
        blob_store.put([b"data"], expected_sha256=oid)
    with pytest.raises(BadRequestError):
        blob_store.complete_multipart("upload", [1], expected_sha256=oid)


@pytest.mark.parametrize("upload_id", ["../x", "..", "a/b", "", "a" * 129, "id with space", "x\x00"])
def test_hostile_upload_ids_are_refused(blob_store: BlobStore, upload_id: str) -> None:
    with pytest.raises(BadRequestError):
        blob_store.put_part(upload_id, 1, [b"data"])
    with pytest.raises(BadRequestError):
        blob_store.complete_multipart(upload_id, [1], expected_sha256=sha(b"data"))
    with pytest.raises(BadRequestError):
        blob_store.abort_multipart(upload_id)


@pytest.mark.parametrize("part_number", [0, -1, 10_001])
def test_bad_part_numbers_are_refused(blob_store: BlobStore, part_number: int) -> None:
    with pytest.raises(BadRequestError):
        blob_store.put_part("upload", part_number, [b"data"])


def test_delete_is_idempotent(blob_store: BlobStore) -> None:
    data = b"to be deleted"
    oid = blob_store.put([data]).sha256
    blob_store.delete(oid)
    assert not blob_store.exists(oid)
    blob_store.delete(oid)
    blob_store.delete(sha(b"never stored"))
    assert list(blob_store.iter_blobs()) == []
    # And it can be stored again.
    assert blob_store.put([data]).sha256 == oid
    assert blob_store.exists(oid)


def test_iter_blobs(blob_store: BlobStore) -> None:
    assert list(blob_store.iter_blobs()) == []
    contents = [b"one", b"two" * 100, b""]
    for data in contents:
        blob_store.put([data])
    blobs = list(blob_store.iter_blobs())
    assert {(blob.sha256, blob.size) for blob in blobs} == {(sha(data), len(data)) for data in contents}
    for blob in blobs:
        assert isinstance(blob.modified_at, datetime)
        assert blob.modified_at.tzinfo is not None


def test_multipart_upload(blob_store: BlobStore, leftovers: Leftovers) -> None:
    parts = {1: b"first part ", 2: b"second part ", 3: b"third part"}
    data = parts[1] + parts[2] + parts[3]
    # Parts may arrive in any order, and a retried part replaces the earlier attempt.
    for number in (3, 1, 2):
        blob_store.put_part("upload-1", number, [b"garbage"])
    for number in (3, 1, 2):
        uploaded = blob_store.put_part("upload-1", number, chunked(parts[number], 4))
        assert (uploaded.part_number, uploaded.size) == (number, len(parts[number]))
        assert uploaded.etag
    assert not blob_store.exists(sha(data))  # nothing visible before completion
    info = blob_store.complete_multipart("upload-1", [1, 2, 3], expected_sha256=sha(data), expected_size=len(data))
    assert (info.sha256, info.size) == (sha(data), len(data))
    assert read_all(blob_store, info.sha256) == data
    assert leftovers(blob_store) == []


def test_multipart_parts_are_joined_in_the_listed_order(blob_store: BlobStore) -> None:
    blob_store.put_part("upload-2", 1, [b"AAA"])
    blob_store.put_part("upload-2", 2, [b"BBB"])
    info = blob_store.complete_multipart("upload-2", [2, 1], expected_sha256=sha(b"BBBAAA"))
    assert read_all(blob_store, info.sha256) == b"BBBAAA"


def test_multipart_mismatch_keeps_parts_until_aborted(blob_store: BlobStore, leftovers: Leftovers) -> None:
    blob_store.put_part("upload-3", 1, [b"hello "])
    blob_store.put_part("upload-3", 2, [b"wrold"])
    wanted = sha(b"hello world")
    with pytest.raises(IntegrityError):
        blob_store.complete_multipart("upload-3", [1, 2], expected_sha256=wanted)
    with pytest.raises(IntegrityError):
        blob_store.complete_multipart("upload-3", [1, 2], expected_sha256=wanted, expected_size=99)
    with pytest.raises(QuotaExceededError):
        blob_store.complete_multipart("upload-3", [1, 2], expected_sha256=wanted, max_size=5)
    assert list(blob_store.iter_blobs()) == []
    assert not blob_store.exists(wanted)
    # The bad part can be re-sent and the upload completed.
    blob_store.put_part("upload-3", 2, [b"world"])
    assert blob_store.complete_multipart("upload-3", [1, 2], expected_sha256=wanted).sha256 == wanted
    assert leftovers(blob_store) == []

    blob_store.put_part("upload-4", 1, [b"abandoned"])
    assert leftovers(blob_store) != []
    blob_store.abort_multipart("upload-4")
    blob_store.abort_multipart("upload-4")  # idempotent
    assert leftovers(blob_store) == []


def test_multipart_missing_parts(blob_store: BlobStore) -> None:
    with pytest.raises(NotFoundError):
        blob_store.complete_multipart("never-started", [1], expected_sha256=sha(b"x"))
    blob_store.put_part("upload-5", 1, [b"x"])
    with pytest.raises(BadRequestError) as caught:
        blob_store.complete_multipart("upload-5", [1, 2], expected_sha256=sha(b"x"))
    assert caught.value.code == "MissingPart"
    with pytest.raises(BadRequestError):
        blob_store.complete_multipart("upload-5", [1, 1], expected_sha256=sha(b"xx"))
    with pytest.raises(BadRequestError):
        blob_store.complete_multipart("upload-5", [], expected_sha256=sha(b""))


def test_cleanup_stale(blob_store: BlobStore, leftovers: Leftovers) -> None:
    kept = blob_store.put([b"a finished blob"]).sha256
    blob_store.put_part("abandoned", 1, [b"part one"])
    blob_store.put_part("abandoned", 2, [b"part two"])
    interrupted = _leave_an_interrupted_write(blob_store)
    assert len(leftovers(blob_store)) == 2 + interrupted
    # Nothing is old enough yet.
    assert blob_store.cleanup_stale(3600) == 0
    assert len(leftovers(blob_store)) == 2 + interrupted
    # One upload (whatever its number of parts) plus each interrupted write.
    assert blob_store.cleanup_stale(0) == 1 + interrupted
    assert leftovers(blob_store) == []
    assert blob_store.exists(kept)
    with pytest.raises(NotFoundError):
        blob_store.complete_multipart("abandoned", [1, 2], expected_sha256=sha(b"part onepart two"))
    with pytest.raises(BadRequestError):
        blob_store.cleanup_stale(-1)


def _leave_an_interrupted_write(store: BlobStore) -> int:
    """What a crashed server leaves behind; returns the number of leftovers it made."""
    if isinstance(store, LocalBlobStore):
        (store.tmp_dir / "put-crashed").write_bytes(b"half a file")
        return 1
    assert isinstance(store, S3BlobStore)
    store.client.put_object(Bucket=store.bucket, Key=store.folder_key("tmp") + "crashed", Body=b"half")
    key = store.blob_key(sha(b"crashed"))
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
    # With a part, as moto reports a fixed date in the past as every upload's start.
    store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    return 2


@pytest.mark.parametrize("declare_hash", [True, False], ids=["declared", "undeclared"])
def test_large_blob_is_streamed(blob_store: BlobStore, leftovers: Leftovers, declare_hash: bool) -> None:
    size = 20 * MIB
    expected_sha, expected_size = digest_of(random_chunks(size, seed=20))
    info = blob_store.put(
        random_chunks(size, seed=20),
        expected_sha256=expected_sha if declare_hash else None,
        expected_size=size if declare_hash else None,
    )
    assert (info.sha256, info.size) == (expected_sha, expected_size)
    assert blob_store.size(expected_sha) == size
    assert digest_of(blob_store.open_range(expected_sha)) == (expected_sha, size)
    middle = b"".join(blob_store.open_range(expected_sha, 10 * MIB - 10, 10 * MIB + 9))
    assert middle == slice_of(random_chunks(size, seed=20), 10 * MIB - 10, 10 * MIB + 10)
    assert leftovers(blob_store) == []


def test_local_path(blob_store: BlobStore) -> None:
    data = b"local?"
    oid = blob_store.put([data]).sha256
    path = blob_store.local_path(oid)
    if isinstance(blob_store, LocalBlobStore):
        assert path is not None
        with open(path, "rb") as file:
            assert file.read() == data
    else:
        assert path is None
