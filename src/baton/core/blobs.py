"""The content-addressed blob store interface.

Blobs are named by the lowercase hex sha256 of their bytes. A blob becomes visible (``exists``,
``open_range``) only once it is complete and verified: writers stream into a temporary object,
the size and sha256 are checked, and only then is it moved under its final name. A file
uploaded into ten repos is therefore stored once.
"""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from baton.core.errors import BadRequestError, IntegrityError, QuotaExceededError, RangeNotSatisfiableError

SHA256_PATTERN = re.compile(r"\A[0-9a-f]{64}\Z")  # \Z: "$" would accept a trailing newline
# Upload ids become folder and key names, so only a safe alphabet is accepted.
UPLOAD_ID_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
# The same bound as S3's multipart uploads.
MAX_PART_NUMBER = 10_000
# Chunk size used when streaming blobs in and out: large enough for throughput, small enough
# that memory stays flat whatever the file size.
CHUNK_SIZE = 1024 * 1024


def check_sha256(oid: str) -> str:
    """Return ``oid`` if it is a lowercase hex sha256, else raise a clear error."""
    if not SHA256_PATTERN.match(oid):
        raise BadRequestError(
            f"'{oid[:80]}' is not a sha256 object id",
            code="InvalidOid",
            hint="Object ids are 64 lowercase hexadecimal characters (the sha256 of the file).",
        )
    return oid


def check_upload_id(upload_id: str) -> str:
    """Return ``upload_id`` if it is safe to use as a folder or key name, else raise."""
    if not UPLOAD_ID_PATTERN.match(upload_id):
        raise BadRequestError(
            f"'{upload_id[:80]}' is not a valid upload id",
            code="InvalidUploadId",
            hint="Upload ids are 1 to 128 characters among letters, digits, '-' and '_'.",
        )
    return upload_id


def check_part_number(part_number: int) -> int:
    """Return ``part_number`` if it lies in 1..MAX_PART_NUMBER, else raise."""
    if isinstance(part_number, bool) or not isinstance(part_number, int) or not (1 <= part_number <= MAX_PART_NUMBER):
        raise BadRequestError(
            f"{part_number!r} is not a valid part number",
            code="InvalidPartNumber",
            hint=f"Number parts from 1 to {MAX_PART_NUMBER}.",
        )
    return part_number


def check_part_numbers(part_numbers: list[int]) -> list[int]:
    """Validate the ordered part list of a multipart completion: valid numbers, no repeats."""
    if not part_numbers:
        raise BadRequestError(
            "a multipart upload must be completed with at least one part",
            code="InvalidPartList",
            hint="List the part numbers you uploaded, in order.",
        )
    for part_number in part_numbers:
        check_part_number(part_number)
    if len(set(part_numbers)) != len(part_numbers):
        raise BadRequestError(
            "the part list names the same part more than once",
            code="InvalidPartList",
            hint="List each uploaded part number once, in order.",
        )
    return part_numbers


def check_parts_total(total: int, *, expected_size: int | None, max_size: int | None) -> None:
    """Refuse a multipart completion from the sizes of its parts, before reading any byte."""
    if max_size is not None and total > max_size:
        raise QuotaExceededError(f"the parts hold {total} bytes, more than the limit of {max_size}")
    if expected_size is not None and total != expected_size:
        raise IntegrityError(f"the parts hold {total} bytes but {expected_size} were declared")


def check_range_arguments(start: int, end: int | None) -> None:
    """Refuse ranges that no blob can satisfy (negative start, end before start)."""
    if start < 0 or (end is not None and end < start):
        raise RangeNotSatisfiableError(f"bytes={start}-{'' if end is None else end} is not a valid range")


def resolve_range(size: int, start: int, end: int | None) -> int:
    """The exclusive stop offset of ``[start, end]`` in a blob of ``size`` bytes.

    As with HTTP ranges, an ``end`` past the last byte is clamped; a ``start`` at or past the end
    is refused, except that reading a whole (possibly empty) blob always works.
    """
    check_range_arguments(start, end)
    if start == 0 and end is None:
        return size
    if start >= size:
        raise RangeNotSatisfiableError(
            f"bytes={start}-{'' if end is None else end} starts past the end of a {size}-byte blob"
        )
    return size if end is None else min(end + 1, size)


class StreamVerifier:
    """Counts and hashes bytes as they arrive, and refuses them as soon as a limit is passed.

    Shared by the backends so that every upload is checked the same way: ``update`` for each
    chunk (raises ``QuotaExceededError`` past ``max_size`` and ``IntegrityError`` past
    ``expected_size``), then ``finish`` to compare the totals with what was declared.
    """

    def __init__(
        self,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        if expected_size is not None and expected_size < 0:
            raise BadRequestError(f"expected size {expected_size} is negative")
        if max_size is not None and max_size < 0:
            raise BadRequestError(f"size limit {max_size} is negative")
        if expected_size is not None and max_size is not None and expected_size > max_size:
            # Refused before a single byte is read.
            raise QuotaExceededError(f"the file is {expected_size} bytes, more than the limit of {max_size}")
        self.expected_sha256 = expected_sha256
        self.expected_size = expected_size
        self.max_size = max_size
        self.size = 0
        self._hash = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_size is not None and self.size > self.max_size:
            raise QuotaExceededError(f"the upload passed the limit of {self.max_size} bytes")
        if self.expected_size is not None and self.size > self.expected_size:
            raise IntegrityError(f"received more than the {self.expected_size} bytes declared")
        self._hash.update(chunk)

    def finish(self) -> BlobInfo:
        if self.expected_size is not None and self.size != self.expected_size:
            raise IntegrityError(f"received {self.size} bytes but {self.expected_size} were declared")
        sha256 = self._hash.hexdigest()
        if self.expected_sha256 is not None and sha256 != self.expected_sha256:
            raise IntegrityError(f"the received bytes have sha256 {sha256}, not the declared {self.expected_sha256}")
        return BlobInfo(sha256=sha256, size=self.size)


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    modified_at: datetime


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


class BlobStore(abc.ABC):
    """Where file contents live. Implementations: ``LocalBlobStore``, ``S3BlobStore``."""

    @abc.abstractmethod
    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> BlobInfo:
        """Stream ``chunks`` into the store atomically and return what was stored.

        Raises ``IntegrityError`` when the bytes do not match ``expected_sha256`` or
        ``expected_size`` and ``QuotaExceededError`` when they pass ``max_size``; in both
        cases nothing is left behind. Storing a blob that already exists is a cheap no-op
        (the bytes are still read and verified).
        """

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abc.abstractmethod
    def size(self, sha256: str) -> int:
        """Size in bytes; raises ``NotFoundError`` when the blob is absent."""

    @abc.abstractmethod
    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end]`` (inclusive end, as HTTP ranges) in chunks."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the blob if present (idempotent)."""

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every complete blob with its size and modification time (for garbage collection)."""

    # Multipart uploads: parts arrive separately (possibly in parallel), then are joined and
    # verified. Until ``complete_multipart`` succeeds, nothing is visible.
    @abc.abstractmethod
    def put_part(self, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> UploadedPart: ...

    @abc.abstractmethod
    def complete_multipart(
        self,
        upload_id: str,
        part_numbers: list[int],
        *,
        expected_sha256: str,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> BlobInfo: ...

    @abc.abstractmethod
    def abort_multipart(self, upload_id: str) -> None: ...

    @abc.abstractmethod
    def cleanup_stale(self, older_than_seconds: float) -> int:
        """Remove temporary objects and multipart parts left by interrupted uploads."""

    def local_path(self, sha256: str) -> str | None:
        """A filesystem path for the blob when the store is local (lets the server stream fast)."""
        return None
