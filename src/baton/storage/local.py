"""Blobs in a local folder.

Layout under ``root``::

    blobs/ab/cd/<sha256>          complete, verified blobs (sharded so no folder grows huge)
    tmp/<random>                  bytes being received; moved into blobs/ only once verified
    multipart/<upload_id>/<n>     parts of a multipart upload, joined by ``complete_multipart``

A blob reaches ``blobs/`` by ``os.replace`` of a fully written, fsynced temporary file, so a
crash or a refused upload never leaves a partial file there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from baton.core.blobs import (
    CHUNK_SIZE,
    SHA256_PATTERN,
    BlobInfo,
    BlobStore,
    StoredBlob,
    StreamVerifier,
    UploadedPart,
    check_part_number,
    check_part_numbers,
    check_parts_total,
    check_sha256,
    check_upload_id,
    resolve_range,
)
from baton.core.errors import BadRequestError, NotFoundError, StorageError


class _TemporaryFile:
    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self.file = file
        self.moved = False

    def move_to(self, destination: Path) -> None:
        os.replace(self.path, destination)
        self.moved = True


class LocalBlobStore(BlobStore):
    """A content-addressed blob store in a folder of the local filesystem."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.multipart_dir = self.root / "multipart"
        with _os_errors("create the blob store folders under", self.root):
            for folder in (self.blobs_dir, self.tmp_dir, self.multipart_dir):
                folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    # -- blobs -----------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lives (whether or not it exists)."""
        check_sha256(sha256)
        return self.blobs_dir / sha256[:2] / sha256[2:4] / sha256

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        max_size: int | None = None,
    ) -> BlobInfo:
        verifier = StreamVerifier(expected_sha256=expected_sha256, expected_size=expected_size, max_size=max_size)
        with self._temporary_file("put-") as temporary:
            self._receive(chunks, verifier, temporary)
            info = verifier.finish()
            self._store_verified(temporary, info)
        return info

    def exists(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def size(self, sha256: str) -> int:
        path = self.blob_path(sha256)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            raise _blob_not_found(sha256) from None
        except OSError as error:
            raise _storage_error("read the size of", path, error) from error

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.blob_path(sha256)
        try:
            # Opened now so that a missing blob is reported by this call, not by the first read;
            # the generator owns the file from here on and closes it.
            file = path.open("rb", buffering=0)
        except FileNotFoundError:
            raise _blob_not_found(sha256) from None
        except OSError as error:
            raise _storage_error("open", path, error) from error
        try:
            stop = resolve_range(os.fstat(file.fileno()).st_size, start, end)
        except BaseException:
            file.close()
            raise
        return _read_range(file, path, start, stop)

    def local_path(self, sha256: str) -> str | None:
        path = self.blob_path(sha256)
        return str(path) if path.is_file() else None

    def delete(self, sha256: str) -> None:
        path = self.blob_path(sha256)
        with _os_errors("delete", path):
            path.unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[StoredBlob]:
        for first in _list_folder(self.blobs_dir):
            if not first.is_dir():
                continue
            for second in _list_folder(Path(first.path)):
                if not second.is_dir():
                    continue
                for entry in _list_folder(Path(second.path)):
                    name = entry.name
                    if not (SHA256_PATTERN.match(name) and name[:2] == first.name and name[2:4] == second.name):
                        continue
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:  # deleted while we walked
                        continue
                    yield StoredBlob(
                        sha256=name,
                        size=stat.st_size,
                        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                    )

    # -- multipart uploads -----------------------------------------------------------------

    def put_part(self, upload_id: str, part_number: int, chunks: Iterable[bytes]) -> UploadedPart:
        upload_folder = self._upload_folder(upload_id)
        check_part_number(part_number)
        verifier = StreamVerifier()
        with self._temporary_file(f"part-{upload_id}-") as temporary:
            self._receive(chunks, verifier, temporary)
            info = verifier.finish()
            part_path = upload_folder / str(part_number)
            with _os_errors("store", part_path):
                upload_folder.mkdir(parents=True, exist_ok=True)
                # A retried part replaces the earlier attempt whole.
                temporary.move_to(part_path)
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
        upload_folder = self._upload_folder(upload_id)
        check_part_numbers(part_numbers)
        check_sha256(expected_sha256)
        if not upload_folder.is_dir():
            raise _upload_not_found(upload_id)
        total = 0
        for part_number in part_numbers:
            try:
                total += (upload_folder / str(part_number)).stat().st_size
            except FileNotFoundError:
                raise _part_not_found(upload_id, part_number) from None
        check_parts_total(total, expected_size=expected_size, max_size=max_size)
        verifier = StreamVerifier(expected_sha256=expected_sha256, expected_size=expected_size, max_size=max_size)
        with self._temporary_file("join-") as temporary:
            # The parts are joined by the kernel (no copy through Python), then the joined file
            # itself is read back and verified: what is checked is exactly what gets stored.
            self._join_parts(upload_folder, part_numbers, temporary)
            with _os_errors("read", temporary.path), temporary.path.open("rb", buffering=0) as joined:
                while chunk := joined.read(CHUNK_SIZE):
                    verifier.update(chunk)
            info = verifier.finish()
            self._store_verified(temporary, info)
        self.abort_multipart(upload_id)
        return info

    def abort_multipart(self, upload_id: str) -> None:
        upload_folder = self._upload_folder(upload_id)
        _remove_folder(upload_folder)

    def cleanup_stale(self, older_than_seconds: float) -> int:
        """Remove temporary files and multipart uploads untouched for ``older_than_seconds``.

        A multipart upload counts as touched when any of its parts is; each removed temporary
        file and each removed upload counts one in the result.
        """
        if older_than_seconds < 0:
            raise BadRequestError(f"older_than_seconds must not be negative (got {older_than_seconds})")
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in _list_folder(self.tmp_dir):
            try:
                if entry.stat(follow_symlinks=False).st_mtime <= cutoff:
                    Path(entry.path).unlink()
                    removed += 1
            except FileNotFoundError:  # finished or removed meanwhile
                continue
        for entry in _list_folder(self.multipart_dir):
            if not entry.is_dir(follow_symlinks=False):
                continue
            folder = Path(entry.path)
            if _newest_mtime(folder) <= cutoff:
                _remove_folder(folder)
                removed += 1
        return removed

    # -- helpers ---------------------------------------------------------------------------

    def _upload_folder(self, upload_id: str) -> Path:
        return self.multipart_dir / check_upload_id(upload_id)

    @contextmanager
    def _temporary_file(self, prefix: str) -> Iterator[_TemporaryFile]:
        """A new file in tmp/, removed on exit unless it was moved into place."""
        with _os_errors("create a temporary file in", self.tmp_dir):
            descriptor, name = tempfile.mkstemp(prefix=prefix, dir=self.tmp_dir)
        temporary = _TemporaryFile(Path(name), os.fdopen(descriptor, "wb"))
        try:
            with temporary.file:
                yield temporary
        finally:
            if not temporary.moved:
                temporary.path.unlink(missing_ok=True)

    @staticmethod
    def _receive(chunks: Iterable[bytes], verifier: StreamVerifier, temporary: _TemporaryFile) -> None:
        written = flushed = 0
        for chunk in chunks:
            verifier.update(chunk)  # raises as soon as a limit is passed, before writing more
            with _os_errors("write", temporary.path):
                temporary.file.write(chunk)
            written += len(chunk)
            if written - flushed >= WRITEBACK_STEP:
                # Let the disk start on what has arrived while the rest is still coming, so that
                # the fsync at the end waits for the last few MiB, not for the whole file.
                _start_writeback(temporary.file.fileno(), flushed, written - flushed)
                flushed = written

    def _store_verified(self, temporary: _TemporaryFile, info: BlobInfo) -> None:
        """Move a fully written, verified temporary file into place as the blob ``info`` names."""
        final_path = self.blob_path(info.sha256)
        with _os_errors("store", final_path):
            if final_path.exists():
                # Already stored: refresh its time so that garbage collection, which spares
                # young blobs, does not remove it before the caller references it.
                os.utime(final_path)
                return
            temporary.file.flush()
            os.fsync(temporary.file.fileno())
            self._make_parent_folders(final_path)
            temporary.move_to(final_path)
            _fsync_folder(final_path.parent)

    @staticmethod
    def _join_parts(upload_folder: Path, part_numbers: list[int], temporary: _TemporaryFile) -> None:
        """Append the parts, in order, to ``temporary``."""
        temporary.file.flush()
        destination = temporary.file.fileno()
        for part_number in part_numbers:
            part_path = upload_folder / str(part_number)
            try:
                part = part_path.open("rb", buffering=0)
            except FileNotFoundError:
                raise _part_not_found(upload_folder.name, part_number) from None
            with part, _os_errors("join the parts into", temporary.path):
                _copy_file(part.fileno(), destination)

    def _make_parent_folders(self, path: Path) -> None:
        """Create the shard folders of ``path``, fsyncing each folder that gained an entry."""
        missing: list[Path] = []
        folder = path.parent
        while folder != self.blobs_dir and not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)
            _fsync_folder(folder.parent)


WRITEBACK_STEP = 16 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` (not in ``os``), or None where it is missing."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


_sync_file_range = _load_sync_file_range()


def _start_writeback(descriptor: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range of a file to disk, without waiting for it.

    Only a head start for the fsync that makes the file durable: where the call is missing or
    fails, nothing changes but speed.
    """
    if _sync_file_range is not None:
        _sync_file_range(descriptor, offset, length, _SYNC_FILE_RANGE_WRITE)


def _copy_file(source: int, destination: int) -> None:
    """Copy the rest of file ``source`` to the end of ``destination`` (both file descriptors).

    ``os.copy_file_range`` copies inside the kernel, without the bytes passing through Python;
    where it is missing or the filesystem refuses it, a plain read/write loop does the same.
    """
    if hasattr(os, "copy_file_range"):
        try:
            while os.copy_file_range(source, destination, 1 << 30):
                pass
            return
        except OSError as error:
            # Not supported here (old kernel, some network or FUSE filesystems): copy by hand,
            # from where the kernel stopped; a real I/O error will show again below.
            if error.errno not in _COPY_FILE_RANGE_UNSUPPORTED:
                raise
    while chunk := os.read(source, CHUNK_SIZE):
        view = memoryview(chunk)
        while view:
            view = view[os.write(destination, view) :]


_COPY_FILE_RANGE_UNSUPPORTED = frozenset(
    {errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}
)


def _read_range(file: BinaryIO, path: Path, start: int, stop: int) -> Iterator[bytes]:
    with file:
        file.seek(start)
        position = start
        while position < stop:
            try:
                chunk = file.read(min(CHUNK_SIZE, stop - position))
            except OSError as error:
                raise _storage_error("read", path, error) from error
            if not chunk:
                raise StorageError(f"{path} ended at byte {position}, before the {stop} expected")
            position += len(chunk)
            yield chunk


@contextmanager
def _os_errors(action: str, path: Path) -> Iterator[None]:
    """Report filesystem failures (disk full, permissions) as a ``StorageError`` naming the path."""
    try:
        yield
    except OSError as error:
        raise _storage_error(action, path, error) from error


def _storage_error(action: str, path: Path, error: OSError) -> StorageError:
    return StorageError(
        f"could not {action} {path}: {error.strerror or error}",
        hint="Check that the blob store folder exists, is writable by the server and has free space.",
    )


def _blob_not_found(sha256: str) -> NotFoundError:
    return NotFoundError(f"blob {sha256} is not in the store", code="BlobNotFound")


def _upload_not_found(upload_id: str) -> NotFoundError:
    return NotFoundError(
        f"multipart upload {upload_id} has no parts",
        code="UploadNotFound",
        hint="Upload the parts first; an upload left idle is removed after a while, so start it again.",
    )


def _part_not_found(upload_id: str, part_number: int) -> BadRequestError:
    return BadRequestError(
        f"part {part_number} of multipart upload {upload_id} was not uploaded",
        code="MissingPart",
        hint="Upload every listed part before completing the upload.",
    )


def _list_folder(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []


def _newest_mtime(folder: Path) -> float:
    newest = 0.0
    for path in (folder, *(Path(entry.path) for entry in _list_folder(folder))):
        try:
            newest = max(newest, path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return newest


def _remove_folder(folder: Path) -> None:
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:  # already removed, e.g. by a concurrent cleanup
        return
    except OSError as error:
        raise _storage_error("remove", folder, error) from error


def _fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (POSIX only; a no-op elsewhere)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
