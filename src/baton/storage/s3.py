"""Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, ...).

Keys under ``prefix``::

    blobs/<sha256>                complete, verified blobs
    tmp/<uuid>                    a blob whose sha256 was not declared, before it is verified
    multipart/<upload_id>/<n>     parts of a multipart upload, joined by ``complete_multipart``

Uploads stream with bounded memory: bytes are buffered one part at a time and sent as an S3
multipart upload. An S3 multipart upload is invisible until it is completed, and it is only
completed after the size and sha256 have been checked, so when the sha256 is declared (the
usual case) the upload goes straight to its final key and no copy is needed. Otherwise it goes
to a temporary key and is copied server-side once its name is known. A blob smaller than one
part is held in memory and written with a single (atomic) PUT after it has been verified.

Storing a blob that exists already writes it again (same bytes), to refresh its modification
time for garbage collection; on a bucket with versioning enabled that adds versions, so give
Baton an unversioned bucket (or a lifecycle rule that expires noncurrent versions).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.exceptions import S3CopyFailedError

from baton.core.blobs import (
    CHUNK_SIZE,
    MAX_PART_NUMBER,
    SHA256_PATTERN,
    BlobInfo,
    BlobStore,
    StoredBlob,
    StreamVerifier,
    UploadedPart,
    check_part_number,
    check_part_numbers,
    check_parts_total,
    check_range_arguments,
    check_sha256,
    check_upload_id,
)
from baton.core.errors import (
    BadRequestError,
    NotFoundError,
    RangeNotSatisfiableError,
    StorageError,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# S3 refuses parts under 5 MiB (except the last) and more than 10,000 parts per upload.
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
DEFAULT_PART_SIZE = 8 * MIB
# When the size is unknown the part size doubles every this many parts, so that 10,000 parts
# reach far beyond any file size Baton accepts while small files still use small parts.
PARTS_PER_SIZE_STEP = 1000
# DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})

_S3_ERRORS = (BotoCoreError, ClientError, S3CopyFailedError)


class S3BlobStore(BlobStore):
    """A content-addressed blob store in one bucket, under one key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: S3Client | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if not bucket:
            raise BadRequestError("an S3 blob store needs a bucket name")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise BadRequestError(f"part_size must lie between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.client: S3Client = client if client is not None else boto3.client("s3", endpoint_url=endpoint_url)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r}, {self.prefix!r})"

    # -- keys ------------------------------------------------------------------------------

    def folder_key(self, folder: str) -> str:
        """The key prefix of one of the store's folders, ending with '/'."""
        return f"{self.prefix}/{folder}/" if self.prefix else f"{folder}/"

    def blob_key(self, sha256: str) -> str:
        return self.folder_key("blobs") + check_sha256(sha256)

    def _part_key(self, upload_id: str, part_number: int) -> str:
        return f"{self._upload_folder_key(upload_id)}{part_number}"

    def _upload_folder_key(self, upload_id: str) -> str:
        return f"{self.folder_key('multipart')}{check_upload_id(upload_id)}/"

    # -- blobs -----------------------------------------------------------------------------

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> BlobInfo:
        verifier = StreamVerifier(expected_sha256=expected_sha256, expected_size=expected_size, max_size=max_size)
        if expected_sha256 is not None:
            target_key = self.blob_key(expected_sha256)
        else:
            target_key = self.folder_key("tmp") + uuid.uuid4().hex
        upload = _PendingUpload(self, target_key, self._first_part_size(expected_size))
        try:
            upload.receive(chunks, verifier)
            info = verifier.finish()
            final_key = self.blob_key(info.sha256)
            # A blob stored already is written again with the same bytes (no extra transfer:
            # they were sent anyway), which refreshes its modification time so that garbage
            # collection, which spares young blobs, does not remove it before it is referenced.
            if not upload.started:
                # Less than one part: the verified bytes go to the final key in one atomic PUT.
                upload.commit(final_key)
                return info
            upload.commit()
        finally:
            upload.abort()
        if target_key != final_key:
            self._move(target_key, final_key)
        return info

    def exists(self, sha256: str) -> bool:
        key = self.blob_key(sha256)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in NOT_FOUND_CODES:
                return False
            raise self._error("HeadObject", key, error) from error
        except BotoCoreError as error:
            raise self._error("HeadObject", key, error) from error
        return True

    def size(self, sha256: str) -> int:
        key = self.blob_key(sha256)
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in NOT_FOUND_CODES:
                raise _blob_not_found(sha256) from None
            raise self._error("HeadObject", key, error) from error
        except BotoCoreError as error:
            raise self._error("HeadObject", key, error) from error
        return response["ContentLength"]

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        key = self.blob_key(sha256)
        check_range_arguments(start, end)
        try:
            if start == 0 and end is None:
                # No Range header: "bytes=0-" is refused for an empty object.
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            else:
                byte_range = f"bytes={start}-{'' if end is None else end}"
                response = self.client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)
        except ClientError as error:
            code = _error_code(error)
            if code in NOT_FOUND_CODES:
                raise _blob_not_found(sha256) from None
            if code in {"InvalidRange", "416"}:
                raise RangeNotSatisfiableError(
                    f"bytes={start}-{'' if end is None else end} starts past the end of blob {sha256}"
                ) from None
            raise self._error("GetObject", key, error) from error
        except BotoCoreError as error:
            raise self._error("GetObject", key, error) from error
        return self._stream_body(response["Body"], key)

    def local_path(self, sha256: str) -> str | None:
        check_sha256(sha256)
        return None

    def delete(self, sha256: str) -> None:
        key = self.blob_key(sha256)
        with self._errors("DeleteObject", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_blobs(self) -> Iterator[StoredBlob]:
        folder = self.folder_key("blobs")
        for item in self._list_objects(folder):
            name = item[0][len(folder) :]
            if SHA256_PATTERN.match(name):
                yield StoredBlob(sha256=name, size=item[1], modified_at=item[2])

    # -- multipart uploads -----------------------------------------------------------------

    def put_part(self, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> UploadedPart:
        key = self._part_key(upload_id, check_part_number(part_number))
        verifier = StreamVerifier()
        upload = _PendingUpload(self, key, self.part_size)
        try:
            upload.receive(chunks, verifier)
            info = verifier.finish()
            upload.commit()
        finally:
            upload.abort()
        return UploadedPart(part_number=part_number, etag=info.sha256, size=info.size)

    def complete_multipart(
        self,
        upload_id: str,
        part_numbers: list[int],
        *,
        expected_sha256: str,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> BlobInfo:
        """Join the parts in the given order into one verified blob, then remove the parts.

        When the joined bytes are refused (wrong sha256 or size, too large) the parts are kept,
        so a client may re-send a bad part and complete again; ``abort_multipart`` or
        ``cleanup_stale`` removes them.
        """
        folder = self._upload_folder_key(upload_id)
        check_part_numbers(part_numbers)
        check_sha256(expected_sha256)
        part_sizes = {key[len(folder) :]: size for key, size, _ in self._list_objects(folder)}
        if not part_sizes:
            raise NotFoundError(
                f"multipart upload {upload_id} has no parts",
                code="UploadNotFound",
                hint="Upload the parts first; an upload left idle is removed after a while: start it again.",
            )
        for part_number in part_numbers:
            if str(part_number) not in part_sizes:
                raise BadRequestError(
                    f"part {part_number} of multipart upload {upload_id} was not uploaded",
                    code="MissingPart",
                    hint="Upload every listed part before completing the upload.",
                )
        total = sum(part_sizes[str(part_number)] for part_number in part_numbers)
        check_parts_total(total, expected_size=expected_size, max_size=max_size)
        info = self.put(
            self._read_parts(upload_id, part_numbers),
            expected_sha256=expected_sha256,
            expected_size=expected_size,
            max_size=max_size,
        )
        self.abort_multipart(upload_id)
        return info

    def abort_multipart(self, upload_id: str) -> None:
        folder = self._upload_folder_key(upload_id)
        self._delete_keys([key for key, _, _ in self._list_objects(folder)])

    def cleanup_stale(self, older_than_seconds: float) -> int:
        """Remove what interrupted uploads left, untouched for ``older_than_seconds``.

        That is: unfinished S3 multipart uploads under the prefix, temporary objects, and
        multipart uploads (of this store's API) none of whose parts is recent. Each counts one.
        """
        if older_than_seconds < 0:
            raise BadRequestError(f"older_than_seconds must not be negative (got {older_than_seconds})")
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        removed = 0
        root = f"{self.prefix}/" if self.prefix else ""
        with self._errors("ListMultipartUploads", root):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
                for pending in page.get("Uploads", []):
                    if pending["Initiated"] > cutoff:
                        continue
                    # A long upload started before the cutoff may still be receiving parts.
                    if self._last_part_time(pending["Key"], pending["UploadId"], pending["Initiated"]) <= cutoff:
                        self._abort_s3_upload(pending["Key"], pending["UploadId"])
                        removed += 1
        stale_temporaries = [
            key for key, _, modified_at in self._list_objects(self.folder_key("tmp")) if modified_at <= cutoff
        ]
        self._delete_keys(stale_temporaries)
        removed += len(stale_temporaries)
        newest_part: dict[str, datetime] = {}
        keys_by_upload: dict[str, list[str]] = {}
        folder = self.folder_key("multipart")
        for key, _, modified_at in self._list_objects(folder):
            upload_id = key[len(folder) :].split("/", 1)[0]
            keys_by_upload.setdefault(upload_id, []).append(key)
            newest_part[upload_id] = max(modified_at, newest_part.get(upload_id, modified_at))
        for upload_id, keys in keys_by_upload.items():
            if newest_part[upload_id] <= cutoff:
                self._delete_keys(keys)
                removed += 1
        return removed

    # -- helpers ---------------------------------------------------------------------------

    def _first_part_size(self, expected_size: int | None) -> int:
        """Parts big enough for a declared size to fit in S3's 10,000 parts, with room to spare."""
        if expected_size is None:
            return self.part_size
        needed = math.ceil(expected_size / (MAX_PART_NUMBER * 0.9))
        return min(MAX_PART_SIZE, max(self.part_size, math.ceil(needed / MIB) * MIB))

    def _move(self, source_key: str, destination_key: str) -> None:
        """Server-side copy (multipart for large objects, via boto3's managed copy), then delete."""
        try:
            with self._errors("CopyObject", destination_key):
                self.client.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, destination_key)
        finally:
            self._delete_quietly(source_key)

    def _read_parts(self, upload_id: str, part_numbers: list[int]) -> Iterator[bytes]:
        for part_number in part_numbers:
            key = self._part_key(upload_id, part_number)
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error) in NOT_FOUND_CODES:
                    raise BadRequestError(
                        f"part {part_number} of multipart upload {upload_id} disappeared",
                        code="MissingPart",
                        hint="Upload the part again, then complete the upload.",
                    ) from None
                raise self._error("GetObject", key, error) from error
            except BotoCoreError as error:
                raise self._error("GetObject", key, error) from error
            yield from self._stream_body(response["Body"], key)

    def _stream_body(self, body: StreamingBody, key: str) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        except (BotoCoreError, ClientError) as error:
            raise self._error("GetObject (reading the body)", key, error) from error
        finally:
            body.close()

    def _list_objects(self, folder_key: str) -> Iterator[tuple[str, int, datetime]]:
        """(key, size, last modified) of every object under ``folder_key``."""
        with self._errors("ListObjectsV2", folder_key):
            pages = iter(self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder_key))
        while True:
            # Only the requests are wrapped, never the consumer's code between two yields.
            with self._errors("ListObjectsV2", folder_key):
                page = next(pages, None)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield item["Key"], item["Size"], item["LastModified"]

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            with self._errors("DeleteObjects", batch[0]):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            failures = response.get("Errors", [])
            if failures:
                first = failures[0]
                raise StorageError(
                    f"S3 DeleteObjects failed for {len(failures)} key(s) in bucket {self.bucket}, "
                    f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    def _delete_quietly(self, key: str) -> None:
        """Best-effort removal during cleanup; a failure is logged, ``cleanup_stale`` retries it."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except _S3_ERRORS as error:
            logger.warning("could not delete s3://%s/%s: %s", self.bucket, key, error)

    def _last_part_time(self, key: str, s3_upload_id: str, initiated: datetime) -> datetime:
        """When an unfinished S3 multipart upload last received a part (or started, if none)."""
        latest = initiated
        with self._errors("ListParts", key):
            paginator = self.client.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=s3_upload_id):
                for part in page.get("Parts", []):
                    latest = max(latest, part["LastModified"])
        return latest

    def _abort_s3_upload(self, key: str, s3_upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=s3_upload_id)
        except (BotoCoreError, ClientError) as error:
            if isinstance(error, ClientError) and _error_code(error) == "NoSuchUpload":
                return  # already completed or aborted
            logger.warning("could not abort the S3 multipart upload of s3://%s/%s: %s", self.bucket, key, error)

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except _S3_ERRORS as error:
            raise self._error(action, key, error) from error

    def _error(self, action: str, key: str, error: Exception) -> StorageError:
        if isinstance(error, ClientError):
            message = error.response.get("Error", {}).get("Message", "")
            detail = f"{_error_code(error)}: {message}".rstrip(": ")
        else:
            detail = str(error)
        return StorageError(f"S3 {action} failed for s3://{self.bucket}/{key}: {detail}")


class _PendingUpload:
    """Bytes on their way to one key, invisible until ``commit``.

    Bytes are buffered until a part is full, then sent as a part of an S3 multipart upload
    (started on the first full part). ``commit`` sends the rest and completes the upload, or,
    when no part was ever sent, writes the buffer with one PUT. ``abort`` undoes an uncommitted
    upload and is a no-op after ``commit``.
    """

    def __init__(self, store: S3BlobStore, key: str, first_part_size: int) -> None:
        self.store = store
        self.key = key
        self.first_part_size = first_part_size
        self.buffer = bytearray()
        self.s3_upload_id: str | None = None
        self.parts: list[CompletedPartTypeDef] = []
        self.finished = False

    @property
    def started(self) -> bool:
        return self.s3_upload_id is not None

    def receive(self, chunks: Iterable[bytes], verifier: StreamVerifier) -> None:
        for chunk in chunks:
            verifier.update(chunk)  # raises as soon as a limit is passed, before sending more
            self.buffer += chunk
            while len(self.buffer) >= self._next_part_size():
                size = self._next_part_size()
                self._send_part(bytes(self.buffer[:size]))
                del self.buffer[:size]

    def commit(self, key: str | None = None) -> None:
        """Make the object visible; ``key`` may replace the target only before any part was sent."""
        store = self.store
        if self.s3_upload_id is None:
            target = key or self.key
            with store._errors("PutObject", target):
                store.client.put_object(Bucket=store.bucket, Key=target, Body=bytes(self.buffer))
        else:
            if key is not None and key != self.key:
                raise ValueError("the key of a started multipart upload cannot change")
            if self.buffer:
                self._send_part(bytes(self.buffer))
                self.buffer.clear()
            with store._errors("CompleteMultipartUpload", self.key):
                store.client.complete_multipart_upload(
                    Bucket=store.bucket,
                    Key=self.key,
                    UploadId=self.s3_upload_id,
                    MultipartUpload={"Parts": self.parts},
                )
        self.finished = True

    def abort(self) -> None:
        self.buffer.clear()
        if self.finished:
            return
        self.finished = True
        if self.s3_upload_id is not None:
            self.store._abort_s3_upload(self.key, self.s3_upload_id)

    def _next_part_size(self) -> int:
        step = len(self.parts) // PARTS_PER_SIZE_STEP
        return min(MAX_PART_SIZE, self.first_part_size << step)

    def _send_part(self, data: bytes) -> None:
        store = self.store
        if self.s3_upload_id is None:
            with store._errors("CreateMultipartUpload", self.key):
                response = store.client.create_multipart_upload(Bucket=store.bucket, Key=self.key)
            self.s3_upload_id = response["UploadId"]
        part_number = len(self.parts) + 1
        if part_number > MAX_PART_NUMBER:
            raise StorageError(f"s3://{store.bucket}/{self.key} would need more than {MAX_PART_NUMBER} parts")
        with store._errors("UploadPart", self.key):
            response_part = store.client.upload_part(
                Bucket=store.bucket,
                Key=self.key,
                UploadId=self.s3_upload_id,
                PartNumber=part_number,
                Body=data,
            )
        self.parts.append({"ETag": response_part["ETag"], "PartNumber": part_number})


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _blob_not_found(sha256: str) -> NotFoundError:
    return NotFoundError(f"blob {sha256} is not in the store", code="BlobNotFound")
