"""Safety checks on uploaded files, by their content: what loaders would unpickle, wherever it hides.

Names prove nothing (``model.bin``, ``model.pth.tar``, ``"model.bin\\u200b"``, ``weights.dat`` are
all loaded with ``torch.load`` or ``joblib.load`` by someone), so every file of a commit is read
and classified by its bytes. What loaders unpickle, and therefore what is checked:

- a pickle stream of any protocol (``pickle.load``, ``torch.load``, ``joblib.load``): its
  imports must be on the allowlist of ``baton.hub.pickles``, which also decides whether bytes
  without a header are a pickle at all;
- a zip archive (``torch.load`` of a checkpoint, ``numpy.load`` of an ``.npz``): every ``*.pkl``
  member is a pickle, and every member that starts like an ``.npy`` file is checked as one;
- an ``.npy`` array whose header declares an object dtype (also inside a structured dtype): the
  rest of it is a pickle (``numpy.load(allow_pickle=True)``);
- gzip, bzip2, xz, lzma, zlib and joblib's old zlib wrapper (``joblib.load`` undoes them by their
  magic bytes): the decompressed stream, at most ``MAX_DECOMPRESSED_BYTES`` of it, is classified
  again, through at most ``MAX_COMPRESSION_LAYERS`` layers; LZ4 (which joblib also undoes) cannot
  be opened here and is refused;
- a tar archive with the members of torch's format from before 1.0 (``storages``, ``tensors``,
  ``pickle``): refused, as Baton does not read that format.

Anything else is accepted and named (GGUF, GGML, CTranslate2, ONNX, safetensors, text, unknown
binary, ...; see ``baton.hub.formats``): a ``.bin`` that holds no pickle is not refused for its
name. Safetensors files (by name or content) also have their header checked so that readers
cannot be sent outside the file or given overlapping or mis-sized tensors.

What is not opened: Zstandard (no loader undoes it by itself), tar members after the first
``MAX_TAR_MEMBERS``, tar archives inside compression (torch.load does not decompress), zip
archives inside compression larger than ``MAX_COMPRESSED_ARCHIVE_BYTES`` (refused).

The result (format, compression layers, what the pickles import) goes back to the committer in
the commit answer's ``scans``; it is not stored. Everything here is pure: no database, no torch
import, bounded memory and time per file.
"""

from __future__ import annotations

import ast
import bz2
import io
import lzma
import os
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO, Final, NamedTuple, NoReturn, cast

import numpy as np

from baton.core import boundedjson
from baton.core.errors import UnsafeFileError
from baton.hub import formats, pickles
from baton.hub.pickles import ALLOWED_GLOBALS, MALFORMED_HINT, PICKLE_HINT

__all__ = [
    "ALLOWED_GLOBALS",
    "SAFETENSORS_EXTENSION",
    "SafetensorsHeader",
    "SafetensorsTensor",
    "ScanResult",
    "scan_file",
    "validate_safetensors_header",
]

SAFETENSORS_EXTENSION: Final = ".safetensors"

# Limits. Module attributes (not arguments) so that an operator or a test can lower them.
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_DIRECTORY_BYTES = 64 * 1024 * 1024
MAX_TAR_MEMBERS = 100_000
MAX_SAFETENSORS_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_SAFETENSORS_HEADER_DEPTH = 8  # {name: {"shape": [...]}} is three levels; JSON parsers recurse
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024  # per compressed stream
MAX_COMPRESSION_LAYERS = 3
MAX_COMPRESSED_ARCHIVE_BYTES = 64 * 1024 * 1024  # a zip inside compression is examined in memory
MAX_NPY_HEADER_BYTES = 1024 * 1024  # numpy writes a few hundred bytes

_CHUNK: Final = 1024 * 1024
_LONG_SUFFIX: Final = re.compile(r"(?<=[0-9])[lL]\b")
_LOCAL_HEADER_READ: Final = 4096  # a member's local header, its name and extra field, and its first bytes
_ZIP_METHODS: Final = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
# Members torch's pre-1.0 tar format reads (torch.serialization's legacy_load).
_TORCH_TAR_MEMBERS: Final = frozenset({"storages", "tensors", "pickle", "sys_info"})

_SAFETENSORS_HINT: Final = (
    "Write the file with the safetensors library (safetensors.torch.save_file or "
    "safetensors.numpy.save_file) and upload it whole; an interrupted upload looks like this too."
)
_NPY_HINT: Final = "Save the array again with numpy.save (or better, as safetensors) and upload it whole."


# --- results -------------------------------------------------------------------------------------


class SafetensorsTensor(NamedTuple):
    """One header entry: a tuple (dtype, shape, (start, end)) with names; offsets are relative to
    the first byte after the header."""

    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: dict[str, SafetensorsTensor]
    metadata: dict[str, str]
    header_size: int  # bytes of JSON after the 8-byte length prefix

    @property
    def data_start(self) -> int:
        """Offset in the file of the first tensor byte."""
        return 8 + self.header_size


@dataclass(frozen=True)
class ScanResult:
    """What a file was found to be. ``format`` is a key of ``formats.NAMES`` ("pickle",
    "torch-zip", "numpy-object", "gguf", "unknown", ...); ``compression`` lists the layers around
    it, outermost first; ``globals_found`` what its pickles import (all allowed, or it was refused)."""

    path: str
    format: str
    globals_found: list[str] = field(default_factory=list)  # sorted, as module.name
    safetensors: SafetensorsHeader | None = None
    compression: tuple[str, ...] = ()
    detail: str = ""

    @property
    def description(self) -> str:
        """For people: e.g. "CTranslate2 model (TransformerSpec, binary version 6)"."""
        text = formats.NAMES.get(self.format, self.format)
        if self.detail:
            text += f" ({self.detail})"
        if self.compression:
            text += ", compressed with " + " around ".join(formats.COMPRESSION_NAMES[kind] for kind in self.compression)
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "description": self.description,
            "compression": list(self.compression),
            "imports": self.globals_found,
        }


class _Finding(NamedTuple):
    format: str
    detail: str = ""
    safetensors: SafetensorsHeader | None = None
    compression: tuple[str, ...] = ()  # set where the finding is made, from the source's layers


# --- sources -------------------------------------------------------------------------------------


class _DecompressionLimit(Exception):
    """A compressed stream gave more than MAX_DECOMPRESSED_BYTES."""


@dataclass(frozen=True)
class _Source:
    """Bytes to classify: the uploaded file, or a decompressed stream inside it."""

    open: Callable[[], IO[bytes]]  # a fresh reader at the first byte
    size: int | None  # None for a decompressed stream (known only by reading it all)
    where: str  # for messages: "" for the file, " inside its gzip compression" for a layer
    compression: tuple[str, ...]  # layers around these bytes, outermost first

    def head(self) -> bytes:
        return self.open().read(formats.HEAD_BYTES)


class _Decompressed:
    """A forward-only reader of the decompressed bytes of a stream (from ``offset``), giving at
    most MAX_DECOMPRESSED_BYTES and then raising _DecompressionLimit.

    Damaged data ends the stream exactly where it stops decompressing, because a loader reading
    a few bytes at a time gets everything before that point (and an unpickler runs it). The
    decompressors drop the output of a call that fails, so after a failure the stream is read
    again from the start and, past what was already given, one byte per call up to the failure.
    Concatenated gzip, bzip2 and xz members are read one after the other, as their modules do.
    """

    _STEP: Final = 64 * 1024  # output asked of the decompressor per call

    def __init__(self, open_raw: Callable[[], IO[bytes]], kind: str, offset: int) -> None:
        self._open_raw = open_raw
        self._kind = kind
        self._offset = offset
        self._output = bytearray()
        self._produced = 0
        self._finished = False
        self._byte_by_byte = False
        self._start()

    def _start(self) -> None:
        self._raw = self._open_raw()
        if self._offset:
            self._raw.read(self._offset)
        self._decompressor = self._new()
        self._input = b""

    def _new(self) -> Any:
        if self._kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._kind in ("zlib", "joblib-zlib"):
            return zlib.decompressobj()
        if self._kind == "bz2":
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor(lzma.FORMAT_XZ if self._kind == "xz" else lzma.FORMAT_ALONE)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._finished and (size < 0 or len(self._output) < size):
            self._pull()
        if size < 0:
            size = len(self._output)
        data = bytes(self._output[:size])
        del self._output[:size]
        return data

    def _pull(self) -> None:
        try:
            piece = self._call(1 if self._byte_by_byte else self._STEP)
        except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
            if self._byte_by_byte:
                self._finished = True
                return
            # Read again up to what was given, then one byte per call up to the failure.
            given = self._produced
            self._start()
            self._produced = 0
            self._byte_by_byte = True
            while self._produced < given and not self._finished:
                self._call(min(self._STEP, given - self._produced))
            return
        self._output += piece

    def _call(self, most: int) -> bytes:
        """Up to ``most`` more bytes (maybe none); sets _finished at the end of the stream."""
        decompressor = self._decompressor
        needs_input = getattr(decompressor, "needs_input", not getattr(decompressor, "unconsumed_tail", b""))
        if not self._input and needs_input:
            self._input = self._raw.read(_CHUNK)
            if not self._input:
                self._finished = True  # the compressed data ends here (whole or cut short)
                return b""
        if isinstance(decompressor, bz2.BZ2Decompressor | lzma.LZMADecompressor):
            piece = decompressor.decompress(self._input, most)
        else:
            piece = decompressor.decompress(decompressor.unconsumed_tail + self._input, most)
        self._input = b""
        self._produced += len(piece)
        if self._produced > MAX_DECOMPRESSED_BYTES:
            raise _DecompressionLimit
        if decompressor.eof:
            rest = decompressor.unused_data + self._raw.read(6)
            if self._kind in ("gzip", "bz2", "xz") and formats.compression(rest) == (self._kind, 0):
                self._decompressor = self._new()
                self._input = rest
            else:
                self._finished = True
        return piece


# --- classification ------------------------------------------------------------------------------


def _classify(source: _Source, path: str, found: set[str]) -> _Finding:
    """What the bytes of ``source`` are, after checking everything a loader would unpickle in
    them. Raises UnsafeFileError naming ``path``."""
    finding = _classify_layer(source, path, found)
    return finding if finding.compression else finding._replace(compression=source.compression)


def _classify_layer(source: _Source, path: str, found: set[str]) -> _Finding:
    head = source.head()
    pickled = pickles.scan_pickle_stream(source.open(), path, found, where=source.where, size=source.size)
    if pickled.format == "torch-legacy":
        return _Finding("torch-legacy")
    # The checks below apply whatever the pickle walk found: a file can be a valid pickle and a
    # valid zip at once, and loaders differ in which they read it as.
    container: _Finding | None = None
    if formats.is_zip(head):
        container = _scan_zip(source, path, found)
    elif formats.is_npy(head):
        container = _scan_npy(source.open(), source.size, path, source.where, found)
    elif _looks_like_tar(head):
        container = _scan_tar(source, path)
    else:
        container = _scan_compressed(source, head, path, found)
    if container is not None:
        return container
    if pickled.format is not None:
        return _Finding("pickle")
    named = formats.identify(head, source.size)
    if named.format == "unknown" and pickled.declared and pickled.damage is not None:
        if not pickled.harmless or _named_like_a_pickle(path):
            # Refused: a damaged pickle that imports or calls something refused before the damage,
            # or a checkpoint by name that cannot load (an interrupted upload, said early).
            raise pickled.damage
        # It opens like a pickle and breaks before anything runs: loading it fails harmlessly, so it
        # is accepted (random or compressed bytes start with 80 02..05 one time in 16,000).
        detail = "opens like a pickle but breaks before anything in it runs: " + pickled.damage.message
        return _Finding("unknown", detail)
    if named.format == "safetensors" and not source.compression:
        return _safetensors(source, path)
    return _Finding(*named)


# Names under which people save pickles. The name never lets a pickle through (the content decides
# that); it only decides whether bytes that cannot load are worth telling the uploader about.
_PICKLE_SUFFIXES: Final = frozenset({".pkl", ".pickle", ".pk", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".sav"})


def _named_like_a_pickle(path: str) -> bool:
    return any(suffix.lower() in _PICKLE_SUFFIXES for suffix in PurePosixPath(path).suffixes)


def _safetensors(source: _Source, path: str) -> _Finding:
    fileobj = source.open()
    assert source.size is not None  # only files (not decompressed streams) are read as safetensors
    header = validate_safetensors_header(fileobj, source.size, path)  # type: ignore[arg-type]
    return _Finding("safetensors", safetensors=header)


# --- compression ---------------------------------------------------------------------------------


def _scan_compressed(source: _Source, head: bytes, path: str, found: set[str]) -> _Finding | None:
    """Classify what a compressed stream holds; None if the head is not really compressed."""
    candidate = formats.compression(head)
    if candidate is None:
        return None
    kind, offset = candidate
    name = formats.COMPRESSION_NAMES[kind]
    if kind == "lz4":
        raise UnsafeFileError(
            f"{path}: the file{source.where} is LZ4-compressed, which joblib.load undoes and Baton cannot "
            "open, so whatever pickle it holds cannot be checked.",
            hint="Compress it with gzip or xz instead (joblib.dump(..., compress='gzip')), or better, save "
            "the weights as safetensors.",
        )
    if kind == "zstd":  # no loader undoes it on its own: named, not opened
        return _Finding("unknown", "Zstandard-compressed, not examined")
    if not formats.decompresses(kind, head[offset:]):
        return None
    if len(source.compression) >= MAX_COMPRESSION_LAYERS:
        raise UnsafeFileError(
            f"{path}: the file{source.where} is compressed again ({name}); Baton opens at most "
            f"{MAX_COMPRESSION_LAYERS} layers of compression.",
            hint="Upload the data with one layer of compression, or none.",
        )
    inner = _Source(
        open=lambda: cast(IO[bytes], _Decompressed(source.open, kind, offset)),
        size=None,
        where=f"{source.where} inside its {name} compression",
        compression=(*source.compression, kind),
    )
    try:
        finding = _classify(inner, path, found)
    except _DecompressionLimit:
        raise UnsafeFileError(
            f"{path}: the file{source.where} decompresses ({name}) to more than {MAX_DECOMPRESSED_BYTES} "
            "bytes of what may be a pickle; Baton examines at most that much.",
            hint="Upload it uncompressed, or save the weights as safetensors.",
        ) from None
    return finding


# --- numpy ---------------------------------------------------------------------------------------


def _npy_dtype(header: str, version: tuple[int, int]) -> np.dtype[Any]:
    """The dtype an ``.npy`` header declares, read as numpy reads it (a Python literal, whose
    ``descr`` numpy.lib.format.descr_to_dtype turns into a dtype). Raises ValueError."""
    try:
        literal = ast.literal_eval(header)
    except SyntaxError:
        if version > (2, 0):
            raise ValueError("the header is not a Python literal") from None
        # Headers written by Python 2 may hold longs such as 3L, which numpy also reads.
        literal = ast.literal_eval(_without_long_suffixes(header))
    if not isinstance(literal, dict) or "descr" not in literal:
        raise ValueError("the header is not a dictionary with a 'descr'")
    dtype: np.dtype[Any] = np.lib.format.descr_to_dtype(literal["descr"])
    return dtype


def _without_long_suffixes(header: str) -> str:
    """Python 2's ``3L`` as ``3`` (a Python 2 header holds no strings that end so)."""
    return _LONG_SUFFIX.sub("", header)


def _scan_npy(
    stream: IO[bytes], size: int | None, path: str, where: str, found: set[str], *, compressed: bool = False
) -> _Finding:
    """An ``.npy`` array (a whole file or a zip member): its header, and when its dtype holds
    objects, the pickle after it, which numpy.load(allow_pickle=True) unpickles. ``compressed``:
    the bytes are decompressed as they are read, so an object array of more than
    MAX_DECOMPRESSED_BYTES is refused before any of it is."""
    label = f"{path}: the .npy data{where}"
    prefix = stream.read(8)
    if len(prefix) < 8:
        raise UnsafeFileError(f"{label} ends inside its header.", hint=_NPY_HINT)
    version = (prefix[6], prefix[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        return _Finding("numpy", f"format version {version[0]}.{version[1]}, which numpy does not read")
    length_layout = "<H" if version == (1, 0) else "<I"
    length_bytes = stream.read(struct.calcsize(length_layout))
    if len(length_bytes) < struct.calcsize(length_layout):
        raise UnsafeFileError(f"{label} ends inside its header.", hint=_NPY_HINT)
    (header_length,) = struct.unpack(length_layout, length_bytes)
    if header_length > MAX_NPY_HEADER_BYTES:
        raise UnsafeFileError(
            f"{label} has a header of {header_length} bytes; Baton reads headers of at most "
            f"{MAX_NPY_HEADER_BYTES} bytes (numpy writes a few hundred).",
            hint=_NPY_HINT,
        )
    raw_header = stream.read(header_length)
    if len(raw_header) < header_length:
        raise UnsafeFileError(f"{label} ends inside its header.", hint=_NPY_HINT)
    try:
        dtype = _npy_dtype(raw_header.decode("utf-8" if version >= (3, 0) else "latin-1"), version)
    # numpy's own parser of a hostile literal (ast, then dtype construction) may fail in many
    # ways (IndexError, RecursionError, MemoryError, ...): each means numpy could not load it.
    except Exception as error:
        raise UnsafeFileError(
            f"{label} has a header Baton cannot read ({type(error).__name__}: {str(error)[:200]}).",
            hint=_NPY_HINT,
        ) from error
    if not dtype.hasobject:
        return _Finding("numpy", f"dtype {dtype}")
    payload_size = None if size is None else max(0, size - 8 - len(length_bytes) - header_length)
    if compressed and payload_size is not None and payload_size > MAX_DECOMPRESSED_BYTES:
        raise UnsafeFileError(
            f"{label} is a compressed object array of {payload_size} bytes; Baton examines at most "
            f"{MAX_DECOMPRESSED_BYTES} bytes of a compressed pickle.",
            hint="Save arrays without Python objects (or as safetensors) instead.",
        )
    pickles.scan_pickle_stream(stream, path, found, where=f"{where} in the object array", size=payload_size)
    return _Finding("numpy-object", f"dtype {dtype}")


# --- tar -----------------------------------------------------------------------------------------


def _looks_like_tar(block: bytes) -> bool:
    """Whether tarfile would accept this first block as a header (checksum test, as tarfile does).

    torch.load tries tar before pickle for files that are not zip archives."""
    if len(block) < 512 or block[:512] == bytes(512):
        return False
    field_bytes = block[148:156]
    try:
        if field_bytes[0] in (0o200, 0o377):
            checksum = int.from_bytes(field_bytes[1:], "big", signed=field_bytes[0] == 0o377)
        else:
            checksum = int(field_bytes.split(b"\0", 1)[0].decode("ascii").strip() or "0", 8)
    except (UnicodeDecodeError, ValueError):
        return False
    header = block[:148] + b" " * 8 + block[156:512]
    unsigned = sum(header)
    signed = sum(byte - 256 if byte > 127 else byte for byte in header)
    return checksum in (unsigned, signed)


def _scan_tar(source: _Source, path: str) -> _Finding:
    """A tar archive is refused when it has the members of torch's pre-1.0 format, which
    torch.load reads (and unpickles) from any tar; other tar archives are plain data."""
    if source.compression:
        # torch.load does not decompress: a compressed tar is data for whoever unpacks it.
        return _Finding("tar")
    try:
        with tarfile.open(fileobj=source.open(), mode="r:") as archive:
            for count, member in enumerate(archive, start=1):
                if os.path.normpath(member.name).lstrip("./") in _TORCH_TAR_MEMBERS:
                    raise UnsafeFileError(
                        f"{path}: the file is a tar archive in torch's format from before version 1.0 "
                        f"(it has a member {member.name!r}), which Baton does not scan.",
                        hint="Load it once in a trusted environment and save it again with "
                        "safetensors.torch.save_file, then upload the .safetensors file.",
                    )
                if count >= MAX_TAR_MEMBERS:
                    return _Finding("tar", f"members after the first {MAX_TAR_MEMBERS} not examined")
                cast(Any, archive).members.clear()  # tarfile keeps every member read; none is needed again
    except (tarfile.TarError, EOFError, OSError, ValueError, OverflowError):
        return _Finding("tar", "damaged; torch.load cannot read it either")
    return _Finding("tar")


# --- zip -----------------------------------------------------------------------------------------


def _is_pickle_member(info: zipfile.ZipInfo) -> bool:
    # Case-insensitive, and ignoring anything after a NUL, because torch's own zip reader may
    # match names differently from Python's zipfile.
    return any(name.lower().endswith(".pkl") for name in _member_names(info))


def _member_names(info: zipfile.ZipInfo) -> set[str]:
    return {info.filename, info.orig_filename, info.orig_filename.split("\0", 1)[0]}


def _is_torch_data(info: zipfile.ZipInfo) -> bool:
    return any(name.lower() == "data.pkl" or name.lower().endswith("/data.pkl") for name in _member_names(info))


def _read_at(fileobj: IO[bytes], offset: int, size: int) -> bytes:
    fileobj.seek(offset)
    return fileobj.read(size)


def _zip_file(source: _Source, path: str) -> tuple[IO[bytes], int]:
    """A seekable reader of a zip archive and its size: the file itself, or a decompressed
    archive read into memory (at most MAX_COMPRESSED_ARCHIVE_BYTES)."""
    if source.size is not None:
        return source.open(), source.size
    data = source.open().read(MAX_COMPRESSED_ARCHIVE_BYTES + 1)
    if len(data) > MAX_COMPRESSED_ARCHIVE_BYTES:
        raise UnsafeFileError(
            f"{path}: the file holds a zip archive{source.where} larger than {MAX_COMPRESSED_ARCHIVE_BYTES} "
            "bytes; Baton cannot examine such an archive (numpy.load and torch.load would read it).",
            hint="Upload the zip archive itself; it is compressed already.",
        )
    return io.BytesIO(data), len(data)


def _check_zip_directory(fileobj: IO[bytes], path: str, size: int) -> None:
    """Refuse archives whose central directory is too big, before zipfile loads all of it."""
    tail_start = max(0, size - (22 + 65535))
    tail = _read_at(fileobj, tail_start, size - tail_start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise UnsafeFileError(
            f"{path}: the file starts like a zip archive (a torch checkpoint) but has no end of "
            "central directory record; it is truncated or not a zip archive.",
            hint=MALFORMED_HINT,
        )
    entries, directory_size = struct.unpack_from("<10xHL", tail, at)
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        locator_offset = tail_start + at - 20
        locator = _read_at(fileobj, locator_offset, 20) if locator_offset >= 0 else b""
        if len(locator) == 20 and locator[:4] == b"PK\x06\x07":
            (record_offset,) = struct.unpack_from("<8xQ", locator)
            record = _read_at(fileobj, record_offset, 56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                entries, directory_size = struct.unpack_from("<32xQQ", record)
    if entries > MAX_ZIP_MEMBERS:
        raise UnsafeFileError(
            f"{path}: the zip archive declares {entries} members; Baton scans at most {MAX_ZIP_MEMBERS}.",
            hint=PICKLE_HINT,
        )
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise UnsafeFileError(
            f"{path}: the zip archive's central directory is {directory_size} bytes; "
            f"Baton reads at most {MAX_ZIP_DIRECTORY_BYTES}.",
            hint=PICKLE_HINT,
        )


def _scan_zip(source: _Source, path: str, found: set[str]) -> _Finding:
    """A zip archive, as torch.load and numpy.load read one: ``*.pkl`` members are pickles
    (torch's ``data.pkl`` among them), and any member that starts like ``.npy`` data is an array
    numpy.load gives by its name."""
    fileobj, size = _zip_file(source, path)
    _check_zip_directory(fileobj, path, size)
    fileobj.seek(0)
    arrays = 0
    torch_data = False
    try:
        with zipfile.ZipFile(fileobj) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise UnsafeFileError(
                    f"{path}: the zip archive{source.where} has {len(members)} members; Baton scans at most "
                    f"{MAX_ZIP_MEMBERS}.",
                    hint="Split the archive into smaller ones.",
                )
            for info in members:
                torch_data = torch_data or _is_torch_data(info)
                if _is_pickle_member(info):
                    _scan_zip_pickle(archive, info, path, source.where, found)
                elif _scan_zip_array(archive, info, path, source.where, found):
                    arrays += 1
    # zipfile reports damaged archives through many types: bad names (UnicodeDecodeError, a
    # ValueError), impossible offsets (ValueError), unknown versions (NotImplementedError), ...
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        ValueError,
        OverflowError,
        struct.error,
        lzma.LZMAError,
        OSError,
    ) as error:
        raise UnsafeFileError(
            f"{path}: the file{source.where} starts like a zip archive but cannot be read as one ({error}).",
            hint=MALFORMED_HINT,
        ) from error
    if torch_data:
        return _Finding("torch-zip")
    if arrays:
        return _Finding("npz", f"{arrays} arrays")
    return _Finding("zip", f"{len(members)} members")


def _member_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The first 6 bytes of a stored or deflated member, in one read of the archive (blob stores
    answer each read with a request, and a checkpoint has a member per tensor); None when that
    read is not enough (zipfile then reads the member as numpy would)."""
    fileobj = archive.fp
    if fileobj is None or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    fileobj.seek(info.header_offset)
    block = fileobj.read(_LOCAL_HEADER_READ)
    if len(block) < 30 or block[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack_from("<HH", block, 26)
    data = block[30 + name_length + extra_length :]
    if info.compress_type == zipfile.ZIP_STORED:
        return data[:6] if len(data) >= 6 else None
    try:
        head = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, 6)
    except zlib.error:
        return None
    return head if len(head) == 6 else None


def _member_label(info: zipfile.ZipInfo, where: str) -> str:
    return f"zip member {info.filename!r}{where}"


def _scan_zip_pickle(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, where: str, found: set[str]) -> None:
    member = _member_label(info, where)
    if info.flag_bits & 0x1:
        raise UnsafeFileError(f"{path}: {member} is encrypted, so it cannot be scanned.", hint=PICKLE_HINT)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeFileError(
            f"{path}: {member} uses zip compression method {info.compress_type}; Baton scans "
            "stored or deflated members only (torch.save stores them uncompressed).",
            hint=PICKLE_HINT,
        )
    if info.file_size > pickles.MAX_PICKLE_BYTES:
        # Checked on the declared size, before decompressing anything (zip bombs).
        raise UnsafeFileError(
            f"{path}: {member} declares {info.file_size} bytes uncompressed; Baton scans pickles of "
            f"at most {pickles.MAX_PICKLE_BYTES} bytes.",
            hint=PICKLE_HINT,
        )
    with archive.open(info) as stream:
        pickles.scan_one_declared_pickle(stream, path, f" in {member}", found, info.file_size)


def _scan_zip_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, where: str, found: set[str]) -> bool:
    """Check a member if it is ``.npy`` data; whether it was. Members numpy cannot open
    (encrypted, or compressed with a method zipfile lacks) cannot be loaded and are skipped."""
    if info.flag_bits & 0x1 or info.compress_type not in _ZIP_METHODS or info.file_size < 6:
        return False
    head = _member_head(archive, info)
    if head is None:
        with archive.open(info) as stream:
            head = stream.read(6)
    if not formats.is_npy(head):
        return False
    with archive.open(info) as stream:
        compressed = info.compress_type != zipfile.ZIP_STORED
        _scan_npy(stream, info.file_size, path, f" in {_member_label(info, where)}", found, compressed=compressed)
    return True


# --- entry point ---------------------------------------------------------------------------------


def scan_file(fileobj: BinaryIO, path: str, size: int | None = None) -> ScanResult:
    """Classify a file by its content, after checking everything in it that a loader would
    unpickle; nothing in it is ever executed.

    ``fileobj`` must be a seekable binary file; ``path`` is the repo path, used in messages (a
    ``.safetensors`` name also makes the file's safetensors header mandatory). ``size``: the
    file's size, when the caller knows it. Raises UnsafeFileError naming the file and the refused
    global or the defect.
    """
    if size is None:
        size = fileobj.seek(0, 2)

    def reopen() -> IO[bytes]:
        fileobj.seek(0)
        return fileobj

    found: set[str] = set()
    source = _Source(open=reopen, size=size, where="", compression=())
    if PurePosixPath(path).suffix.lower() == SAFETENSORS_EXTENSION:
        pickles.scan_pickle_stream(reopen(), path, found, size=size)  # refuses a pickle named so
        finding = _safetensors(source, path)
    else:
        finding = _classify(source, path, found)
    return ScanResult(
        path=path,
        format=finding.format,
        globals_found=sorted(found),
        safetensors=finding.safetensors,
        compression=finding.compression,
        detail=finding.detail,
    )


# --- safetensors ---------------------------------------------------------------------------------

# Bits per element; sub-byte types (F4, F6_*) must still fill whole bytes, as the library checks.
SAFETENSORS_DTYPE_BITS: Final[dict[str, int]] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


def _tensor_name(name: str) -> str:
    return repr(name) if len(name) <= 120 else repr(name[:120]) + "…"


def _invalid(path: str, problem: str) -> UnsafeFileError:
    return UnsafeFileError(f"{path}: {problem}.", hint=_SAFETENSORS_HINT, code="InvalidSafetensors")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Readers disagree on which duplicate wins, so the file would mean different things.
            raise ValueError(f"the key {_tensor_name(key)} appears twice in one JSON object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0  # bool is an int subclass; JSON true is no count


def _parse_tensor(path: str, name: str, entry: Any, data_size: int) -> SafetensorsTensor:
    label = f"tensor {_tensor_name(name)}"
    if not isinstance(entry, dict):
        raise _invalid(path, f"the header entry of {label} is not a JSON object")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in entry]
    if missing:
        raise _invalid(path, f"the header entry of {label} lacks {', '.join(missing)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
        known = " ".join(SAFETENSORS_DTYPE_BITS)
        raise _invalid(path, f"{label} has dtype {dtype!r}, which is not a safetensors dtype ({known})")
    if not isinstance(shape, list) or not all(_is_count(dim) for dim in shape):
        raise _invalid(path, f"{label} has shape {shape!r}; a shape is a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        raise _invalid(path, f"{label} has data_offsets {offsets!r}; expected [start, end] in bytes")
    start, end = offsets
    if start > end:
        raise _invalid(path, f"{label} has data_offsets [{start}, {end}], which end before they start")
    if end > data_size:
        raise _invalid(
            path,
            f"{label} ends at byte {end} of the data section, but the data section holds only {data_size} bytes",
        )
    elements = 1
    for dim in shape:
        elements *= dim
    bits = elements * SAFETENSORS_DTYPE_BITS[dtype]
    if bits % 8:
        raise _invalid(path, f"{label} has {elements} elements of {dtype}, which do not fill whole bytes")
    if bits // 8 != end - start:
        raise _invalid(
            path,
            f"{label} of dtype {dtype} and shape {shape} needs {bits // 8} bytes, but its data_offsets "
            f"[{start}, {end}] span {end - start}",
        )
    return SafetensorsTensor(dtype, tuple(shape), (start, end))


def _parse_metadata(path: str, metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise _invalid(path, "__metadata__ must map strings to strings")
    return {str(key): str(value) for key, value in metadata.items()}


def validate_safetensors_header(fileobj: BinaryIO, file_size: int, path: str) -> SafetensorsHeader:
    """Read and check a safetensors header; reads only the header, never the tensors.

    Checks what the safetensors library checks when it opens a file: bounded header, JSON object,
    known dtypes, sizes matching shapes, tensors covering the data section exactly, without gaps
    or overlaps. Raises UnsafeFileError with code "InvalidSafetensors" naming the tensor.
    """
    fileobj.seek(0)
    prefix = fileobj.read(8)
    if len(prefix) < 8 or file_size < 8:
        raise _invalid(
            path,
            f"the file has {min(len(prefix), file_size)} bytes; a safetensors file starts with an 8-byte header length",
        )
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > MAX_SAFETENSORS_HEADER_BYTES:
        raise _invalid(
            path,
            f"the header length is {header_size} bytes; safetensors allows at most {MAX_SAFETENSORS_HEADER_BYTES}",
        )
    if header_size > file_size - 8:
        raise _invalid(
            path,
            f"the header length is {header_size} bytes, but the file has only {file_size - 8} bytes after the length",
        )
    raw_header = fileobj.read(header_size)
    if len(raw_header) != header_size:
        raise _invalid(path, f"the file ends inside the {header_size}-byte header")
    if not raw_header.startswith(b"{"):
        raise _invalid(path, "the header does not start with '{'; it must be a JSON object")
    try:
        header = boundedjson.loads(
            raw_header.decode("utf-8"),
            max_depth=MAX_SAFETENSORS_HEADER_DEPTH,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as error:
        raise _invalid(path, f"the header is not valid UTF-8 (byte {error.start})") from error
    except boundedjson.JsonTooDeepError as error:
        raise _invalid(
            path,
            f"the header nests arrays and objects {error.depth} levels deep, more than the "
            f"{error.max_depth} Baton reads (a safetensors header nests three)",
        ) from error
    except ValueError as error:
        raise _invalid(path, f"the header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise _invalid(path, "the header is not a JSON object")

    data_size = file_size - 8 - header_size
    metadata = _parse_metadata(path, header.get("__metadata__"))
    tensors = {
        name: _parse_tensor(path, name, entry, data_size) for name, entry in header.items() if name != "__metadata__"
    }
    covered = 0
    previous = ""
    for name, tensor in sorted(tensors.items(), key=lambda item: item[1].data_offsets):
        start, end = tensor.data_offsets
        if start < covered:
            raise _invalid(
                path,
                f"tensor {_tensor_name(name)} (bytes {start}..{end}) overlaps tensor "
                f"{_tensor_name(previous)}, which ends at byte {covered}",
            )
        if start > covered:
            raise _invalid(
                path,
                f"bytes {covered}..{start} of the data section belong to no tensor (before tensor "
                f"{_tensor_name(name)}); safetensors requires tensors to cover the data without gaps",
            )
        covered, previous = end, name
    if covered != data_size:
        raise _invalid(
            path,
            f"the tensors cover {covered} bytes of the data section, but it holds {data_size}; "
            "the file has trailing bytes that belong to no tensor",
        )
    return SafetensorsHeader(tensors=tensors, metadata=metadata, header_size=header_size)
