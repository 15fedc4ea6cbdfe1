"""Safety checks on uploaded weights: pickles are read as opcodes, never loaded.

Loading a pickle runs whatever callables it names, so a ``.bin``/``.pt`` file can run any code on
the machine of whoever calls ``torch.load`` or ``pickle.load`` on it. We walk the opcodes with
``pickletools.genops`` (which parses but executes nothing), follow the stack and memo well enough
to know every global the file would import, and refuse the file unless each one is on an allowlist
of what plain weights need. An allowlist, not a blocklist: there are far too many dangerous
callables in the standard library and in installed packages to enumerate.

Which bytes get unpickled follows ``torch.load``: a file that starts with a zip local header is a
zip archive whose ``*.pkl`` members are pickles; a file whose first block is a tar header is the
oldest torch format (refused); anything else is a pickle stream. Safetensors files hold no code,
but their header is checked so that readers cannot be sent outside the file or given overlapping
or mis-sized tensors.

Everything here is pure: no database, no torch import, bounded memory and time per file.
"""

from __future__ import annotations

import pickletools
import struct
import zipfile
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO, Final, NamedTuple, NoReturn, cast

from baton.core import boundedjson
from baton.core.errors import UnsafeFileError

PICKLE_EXTENSIONS: Final = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"})
SAFETENSORS_EXTENSION: Final = ".safetensors"

# Limits. Module attributes (not arguments) so that an operator or a test can lower them.
MAX_PICKLE_BYTES = 256 * 1024 * 1024  # per pickle stream; torch's data.pkl is kilobytes per tensor
MAX_PICKLE_OPCODES = 10_000_000  # ~30 per tensor in torch's pickles; bounds time and stack memory
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_DIRECTORY_BYTES = 64 * 1024 * 1024
MAX_SAFETENSORS_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_SAFETENSORS_HEADER_DEPTH = 8  # {name: {"shape": [...]}} is three levels; JSON parsers recurse

_READ_CHUNK: Final = 1024 * 1024  # the most read from the file at once
_BUFFER_CHUNK: Final = 64 * 1024  # the least read from the file at once
_TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C  # first pickle of torch's pre-1.6 format
_TORCH_LEGACY_PICKLES: Final = 5  # magic, protocol version, sys info, the object, storage keys

_PICKLE_HINT: Final = (
    "Save the weights as safetensors instead, e.g. "
    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors'), and upload that file."
)
_MALFORMED_HINT: Final = (
    "Save the file again (torch.save, or better safetensors.torch.save_file) and upload it whole; "
    "an interrupted upload looks like this too."
)
_SAFETENSORS_HINT: Final = (
    "Write the file with the safetensors library (safetensors.torch.save_file or "
    "safetensors.numpy.save_file) and upload it whole; an interrupted upload looks like this too."
)


# --- the allowlist -------------------------------------------------------------------------------
#
# Modelled on what torch.load(weights_only=True) accepts (torch/_weights_only_unpickler.py,
# _get_allowed_globals), so that any checkpoint torch itself would load safely passes, plus the
# few globals that pickles of numpy arrays and of plain Python containers use. Every entry is
# a constructor of data or a torch helper that rebuilds a tensor from data; none of them imports,
# evaluates, opens files, runs processes or looks up attributes by name. A test checks that
# torch's list stays covered when torch is upgraded.

# torch pickles a dtype as the global torch.<name>, e.g. torch.float32 (str(torch.float32)).
_TORCH_DTYPES: Final = (
    *("float64", "float32", "float16", "bfloat16", "complex128", "complex64", "complex32", "bool"),
    *("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"),
    *("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu"),
    *("float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2"),
    *("qint8", "quint8", "qint32", "quint4x2", "quint2x4"),
    *("int1", "int2", "int3", "int4", "int5", "int6", "int7"),
    *("uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7"),
)
# Legacy tensor types (torch.FloatTensor ...): old checkpoints, also as torch.cuda.* / torch.sparse.*.
_TORCH_TENSOR_KINDS: Final = ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte")
# Typed storages: torch.save names them torch.<Kind>Storage in every checkpoint.
_TORCH_CUDA_STORAGE_KINDS: Final = (*_TORCH_TENSOR_KINDS, "Bool", "ComplexFloat", "ComplexDouble")
_TORCH_QUANTIZED_STORAGE_KINDS: Final = ("QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4")
_TORCH_STORAGE_KINDS: Final = (*_TORCH_CUDA_STORAGE_KINDS, *_TORCH_QUANTIZED_STORAGE_KINDS)

ALLOWED_GLOBALS: Final[frozenset[str]] = frozenset(
    {
        # Containers. OrderedDict is what state_dict() returns; Counter is a dict subclass torch
        # also accepts. The builtins are constructors of plain values (pickle names them for sets,
        # frozensets, bytearrays, complex numbers, slices and for subclasses of the containers).
        "collections.OrderedDict",
        "collections.Counter",
        "builtins.set",
        "builtins.frozenset",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.slice",
        "builtins.bytearray",
        "builtins.complex",
        # Pickles with protocol < 3 carry bytes as _codecs.encode(text, "latin1"); codec names
        # resolve only inside the encodings package, so this cannot import anything else.
        "_codecs.encode",
        # Tensors: the rebuild helpers torch.save writes; each builds a tensor from storages,
        # sizes, strides and flags. _rebuild_from_type_v2 re-applies a tensor subclass.
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_nested_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._utils._rebuild_device_tensor_from_cpu_tensor",
        "torch._tensor._rebuild_from_type_v2",
        # Values that appear inside tensors' pickles: shapes, devices, layouts (sparse tensors),
        # parameters, the tensor type itself and the storages' types.
        "torch.Size",
        "torch.device",
        "torch.serialization._get_layout",
        "torch.nn.parameter.Parameter",
        "torch.Tensor",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.UntypedStorage",
        # Quantization schemes of quantized tensors.
        "torch.per_tensor_affine",
        "torch.per_tensor_symmetric",
        "torch.per_channel_affine",
        "torch.per_channel_symmetric",
        "torch.per_channel_affine_float_qparams",
        # numpy arrays, scalars and dtypes (np.save of object arrays, pickled arrays in
        # checkpoints): ndarray reconstruction from shape, dtype and raw bytes. numpy 2 moved
        # numpy.core to numpy._core; both names occur in files on the hub.
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",  # protocol 5 pickles of arrays
        "numpy._core.numeric._frombuffer",
        "numpy.ndarray",
        "numpy.dtype",
    }
    | {f"torch.{name}" for name in _TORCH_DTYPES}
    | {f"torch.{kind}Storage" for kind in _TORCH_STORAGE_KINDS}
    | {f"torch.cuda.{kind}Storage" for kind in _TORCH_CUDA_STORAGE_KINDS}
    | {f"torch.{kind}Tensor" for kind in (*_TORCH_TENSOR_KINDS, "Bool")}
    | {f"torch.cuda.{kind}Tensor" for kind in (*_TORCH_TENSOR_KINDS, "Bool")}
    | {f"torch.sparse.{kind}Tensor" for kind in _TORCH_TENSOR_KINDS}
    | {f"torch.cuda.sparse.{kind}Tensor" for kind in _TORCH_TENSOR_KINDS}
)


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
    path: str
    format: str  # "pickle", "torch-zip", "torch-legacy" or "safetensors"
    globals_found: list[str] = field(default_factory=list)  # sorted, as module.name
    safetensors: SafetensorsHeader | None = None


# --- bounded reading -----------------------------------------------------------------------------


class _LimitedReader:
    """A buffered reader for ``genops`` that stops after ``limit`` bytes.

    It needs only ``read`` from the file underneath (blob stores give seekable readers without
    ``readline``) and reads it in chunks: genops asks for one byte per opcode, which must not become
    one request to a remote store, and an opcode may claim an argument of 2**63 bytes, which a plain
    file object would try to allocate before reading.
    """

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._remaining = limit
        self._position = 0
        self._buffer = b""
        self._buffer_position = 0
        self.over_limit = False

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._remaining
        elif size > self._remaining:
            self.over_limit = True
            size = self._remaining
        parts: list[bytes] = []
        wanted = size
        while wanted > 0 and self._fill(wanted):
            piece = self._buffer[self._buffer_position : self._buffer_position + wanted]
            self._buffer_position += len(piece)
            wanted -= len(piece)
            parts.append(piece)
        return self._consume(b"".join(parts))

    def readline(self, size: int = -1) -> bytes:
        limit = self._remaining if size < 0 else min(size, self._remaining)
        parts: list[bytes] = []
        wanted = limit
        while wanted > 0 and self._fill(wanted):
            window_end = min(len(self._buffer), self._buffer_position + wanted)
            newline = self._buffer.find(b"\n", self._buffer_position, window_end)
            stop = newline + 1 if newline >= 0 else window_end
            parts.append(self._buffer[self._buffer_position : stop])
            wanted -= stop - self._buffer_position
            self._buffer_position = stop
            if newline >= 0:
                break
        line = b"".join(parts)
        if limit == self._remaining and len(line) == limit and not line.endswith(b"\n"):
            self.over_limit = True  # the line goes on past the budget
        return self._consume(line)

    def tell(self) -> int:
        return self._position

    def _fill(self, wanted: int) -> bool:
        """Make sure the buffer holds unread bytes; False at the end of the file."""
        if self._buffer_position < len(self._buffer):
            return True
        self._buffer = self._raw.read(min(max(wanted, _BUFFER_CHUNK), _READ_CHUNK))
        self._buffer_position = 0
        return bool(self._buffer)

    def _consume(self, data: bytes) -> bytes:
        self._remaining -= len(data)
        self._position += len(data)
        return data


# --- the opcode walk -----------------------------------------------------------------------------


class _Marker:
    """A stack value the scan does not need to know (or the MARK pickle pushes)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MARK: Final = _Marker("MARK")
_OTHER: Final = _Marker("value")


@dataclass(frozen=True)
class _GlobalRef:
    """A global the pickle imported (already checked against the allowlist)."""

    name: str


_StackValue = str | _GlobalRef | _Marker

_STRING_OPCODES: Final = frozenset(
    {"UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_PUT_OPCODES: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPCODES: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
_EXTENSION_OPCODES: Final = frozenset({"EXT1", "EXT2", "EXT4"})


class _Malformed(Exception):
    """The opcodes do not form a pickle that an unpickler would accept."""


def _resolve_global(module: str, name: str, protocol: int) -> str:
    """The global an unpickler really imports: like pickle.Unpickler.find_class with fix_imports,
    protocols < 3 rename Python 2 modules (``__builtin__.eval`` is ``builtins.eval``)."""
    if protocol < 3:
        if (module, name) in NAME_MAPPING:
            module, name = NAME_MAPPING[(module, name)]
        elif module in IMPORT_MAPPING:
            module = IMPORT_MAPPING[module]
    return f"{module}.{name}"


@dataclass
class _PickleWalk:
    path: str
    where: str
    found: set[str]
    protocol: int = 0
    stack: list[_StackValue] = field(default_factory=list)
    memo: dict[int, _StackValue] = field(default_factory=dict)
    head: list[tuple[str, Any]] = field(default_factory=list)  # first opcodes, to spot torch's magic

    def refuse(self, problem: str, position: int | None, hint: str = _PICKLE_HINT) -> UnsafeFileError:
        at = f"at byte {position}, " if position is not None else ""
        return UnsafeFileError(f"{self.path}: {at}the pickle{self.where} {problem}.", hint=hint)

    def check_global(self, module: str, name: str, position: int | None) -> _GlobalRef:
        resolved = _resolve_global(module, name, self.protocol)
        if resolved not in ALLOWED_GLOBALS:
            written = f"{module}.{name}"
            alias = f" (written as `{written}`)" if written != resolved else ""
            raise self.refuse(
                f"imports `{resolved}`{alias}, which is not among the globals that plain weights "
                "need; loading the file with pickle or torch.load would call it",
                position,
            )
        self.found.add(resolved)
        return _GlobalRef(resolved)

    def pop(self) -> _StackValue:
        if not self.stack or self.stack[-1] is _MARK:
            raise _Malformed("an opcode takes more values than the stack holds")
        return self.stack.pop()

    def pop_to_mark(self) -> list[_StackValue]:
        items: list[_StackValue] = []
        while self.stack:
            value = self.stack.pop()
            if value is _MARK:
                items.reverse()
                return items
            items.append(value)
        raise _Malformed("an opcode looks for a MARK that was never pushed")

    def top(self) -> _StackValue:
        if not self.stack or self.stack[-1] is _MARK:
            raise _Malformed("an opcode reads the top of an empty stack")
        return self.stack[-1]

    def require_global_callable(self, value: _StackValue, opcode: str, position: int | None) -> None:
        # Every global was checked when imported; this refuses calls on anything else (a value
        # computed by the pickle), so the only code that can run is the allowlisted callables.
        if not isinstance(value, _GlobalRef):
            raise self.refuse(f"uses {opcode} on a value that is not an allowed global", position)

    def step(self, opcode: pickletools.OpcodeInfo, arg: Any, position: int | None) -> None:
        name = opcode.name
        if len(self.head) < 4:
            self.head.append((name, arg))
        if name == "PROTO":
            self.protocol = int(arg)
        elif name in _STRING_OPCODES:
            self.stack.append(str(arg))
        elif name == "GLOBAL":
            module, _, global_name = str(arg).partition(" ")
            self.stack.append(self.check_global(module, global_name, position))
        elif name == "STACK_GLOBAL":
            name_value, module_value = self.pop(), self.pop()
            if not isinstance(module_value, str) or not isinstance(name_value, str):
                raise self.refuse(
                    "uses STACK_GLOBAL with a module or name that is not a plain string literal, "
                    "so the global it imports cannot be known without running it",
                    position,
                )
            self.stack.append(self.check_global(module_value, name_value, position))
        elif name == "INST":
            module, _, global_name = str(arg).partition(" ")
            self.check_global(module, global_name, position)
            self.pop_to_mark()
            self.stack.append(_OTHER)
        elif name in _EXTENSION_OPCODES:
            raise self.refuse(f"uses {name}, which imports a global through copyreg's extension registry", position)
        elif name in _PUT_OPCODES:
            self.memo[int(arg)] = self.top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif name in _GET_OPCODES:
            if int(arg) not in self.memo:
                raise _Malformed(f"{name} reads memo entry {arg}, which was never stored")
            self.stack.append(self.memo[int(arg)])
        elif name == "DUP":
            self.stack.append(self.top())
        elif name == "POP":
            if not self.stack:
                raise _Malformed("POP on an empty stack")
            self.stack.pop()  # like the unpickler, POP also discards a MARK
        elif name in ("REDUCE", "NEWOBJ"):  # callable (or class), then its arguments
            self.pop()
            self.require_global_callable(self.pop(), name, position)
            self.stack.append(_OTHER)
        elif name == "NEWOBJ_EX":
            self.pop()
            self.pop()
            self.require_global_callable(self.pop(), name, position)
            self.stack.append(_OTHER)
        elif name == "OBJ":
            items = self.pop_to_mark()
            if not items:
                raise _Malformed("OBJ without a class")
            self.require_global_callable(items[0], name, position)
            self.stack.append(_OTHER)
        elif name == "BUILD":
            self.pop()
            if isinstance(self.top(), _GlobalRef):
                # BUILD on a class would set attributes on it (monkey-patching torch or numpy).
                raise self.refuse("uses BUILD to set attributes on an imported global", position)
        else:
            self.generic(opcode)

    def generic(self, opcode: pickletools.OpcodeInfo) -> None:
        """Any other opcode only moves data: apply its declared stack effect."""
        before = opcode.stack_before
        if pickletools.markobject in before:
            self.pop_to_mark()
            for _ in range(before.index(pickletools.markobject)):
                self.pop()
        else:
            for _ in before:
                self.pop()
        for kind in opcode.stack_after:
            self.stack.append(_MARK if kind is pickletools.markobject else _OTHER)


def _scan_one_pickle(
    reader: _LimitedReader, path: str, where: str, found: set[str], *, may_be_other_format: bool = False
) -> list[tuple[str, Any]]:
    """Walk one pickle up to its STOP; return its first opcodes. Raises UnsafeFileError.

    ``may_be_other_format``: the bytes have no pickle header, so a parse error more likely means
    the file is some other binary format (still refused: loaders would unpickle it)."""
    walk = _PickleWalk(path=path, where=where, found=found)
    count = 0
    try:
        for opcode, arg, position in pickletools.genops(cast(IO[bytes], reader)):
            count += 1
            if count > MAX_PICKLE_OPCODES:
                raise walk.refuse(f"has more than {MAX_PICKLE_OPCODES} opcodes, more than Baton scans", position)
            walk.step(opcode, arg, position)
            if opcode.name == "STOP":
                return walk.head
    except (ValueError, OverflowError, struct.error, _Malformed) as error:
        if reader.over_limit:
            raise walk.refuse(f"needs more than {MAX_PICKLE_BYTES} bytes, more than Baton scans", None) from error
        if may_be_other_format:
            raise UnsafeFileError(
                f"{path}: the file is neither a zip archive (a torch checkpoint) nor a readable "
                f"pickle ({error}), yet its extension makes torch.load and pickle.load read it.",
                hint="If it is not a pickle, give it the extension of its real format; otherwise "
                + _PICKLE_HINT[0].lower()
                + _PICKLE_HINT[1:],
            ) from error
        raise walk.refuse(f"is malformed or truncated ({error})", reader.tell(), hint=_MALFORMED_HINT) from error
    raise walk.refuse("ends without a STOP opcode", reader.tell(), hint=_MALFORMED_HINT)


def _is_torch_legacy_magic(head: list[tuple[str, Any]]) -> bool:
    opcodes = [name for name, _ in head if name not in ("PROTO", "FRAME")]
    values = [arg for name, arg in head if name not in ("PROTO", "FRAME", "STOP")]
    return opcodes[-1:] == ["STOP"] and values == [_TORCH_LEGACY_MAGIC]


def _scan_pickle_stream(fileobj: BinaryIO, path: str, size: int, found: set[str]) -> str:
    """A file that is one or more pickles in a row; returns the format name."""
    fileobj.seek(0)
    has_header = fileobj.read(1) == b"\x80"  # PROTO, the first opcode of protocols 2 and later
    fileobj.seek(0)
    reader = _LimitedReader(fileobj, MAX_PICKLE_BYTES)
    head = _scan_one_pickle(reader, path, "", found, may_be_other_format=not has_header)
    if _is_torch_legacy_magic(head):
        # torch.save(..., _use_new_zipfile_serialization=False): five pickles, then raw storage
        # bytes that torch reads without unpickling, so the scan stops after the fifth.
        for index in range(2, _TORCH_LEGACY_PICKLES + 1):
            start = reader.tell()
            if start >= size:
                raise UnsafeFileError(
                    f"{path}: the file starts like torch's legacy format but ends after pickle "
                    f"{index - 1} of {_TORCH_LEGACY_PICKLES}.",
                    hint=_MALFORMED_HINT,
                )
            _scan_one_pickle(reader, path, f" number {index} (at byte {start})", found)
        return "torch-legacy"
    # Some readers call pickle.load repeatedly: every pickle in the file is scanned, and bytes
    # after the last one that are not a pickle are refused rather than left unexamined.
    while reader.tell() < size:
        start = reader.tell()
        _scan_one_pickle(reader, path, f" that follows the first one (at byte {start})", found)
    return "pickle"


# --- containers ----------------------------------------------------------------------------------


def _looks_like_tar(block: bytes) -> bool:
    """Whether tarfile would accept this first block as a header (checksum test, as tarfile does).

    torch.load tries tar before pickle for non-zip files, so a file that passes is torch's pre-1.0
    tar format, whatever its first byte."""
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


def _is_pickle_member(info: zipfile.ZipInfo) -> bool:
    # Case-insensitive, and ignoring anything after a NUL, because torch's own zip reader may
    # match names differently from Python's zipfile.
    names = {info.filename, info.orig_filename, info.orig_filename.split("\0", 1)[0]}
    return any(name.lower().endswith(".pkl") for name in names)


def _read_at(fileobj: BinaryIO, offset: int, size: int) -> bytes:
    fileobj.seek(offset)
    return fileobj.read(size)


def _check_zip_directory(fileobj: BinaryIO, path: str, size: int) -> None:
    """Refuse archives whose central directory is too big, before zipfile loads all of it."""
    tail_start = max(0, size - (22 + 65535))
    tail = _read_at(fileobj, tail_start, size - tail_start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise UnsafeFileError(
            f"{path}: the file starts like a zip archive (a torch checkpoint) but has no end of "
            "central directory record; it is truncated or not a zip archive.",
            hint=_MALFORMED_HINT,
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
            hint=_PICKLE_HINT,
        )
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise UnsafeFileError(
            f"{path}: the zip archive's central directory is {directory_size} bytes; "
            f"Baton reads at most {MAX_ZIP_DIRECTORY_BYTES}.",
            hint=_PICKLE_HINT,
        )


def _scan_zip(fileobj: BinaryIO, path: str, size: int, found: set[str]) -> None:
    _check_zip_directory(fileobj, path, size)
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise UnsafeFileError(
                    f"{path}: the zip archive has {len(members)} members; Baton scans at most {MAX_ZIP_MEMBERS}.",
                    hint=_PICKLE_HINT,
                )
            for info in members:
                if _is_pickle_member(info):
                    _scan_zip_member(archive, info, path, found)
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
    ) as error:
        raise UnsafeFileError(
            f"{path}: the file starts like a zip archive (a torch checkpoint) but cannot be read as one ({error}).",
            hint=_MALFORMED_HINT,
        ) from error


def _scan_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, found: set[str]) -> None:
    member = f"zip member {info.filename!r}"
    if info.flag_bits & 0x1:
        raise UnsafeFileError(f"{path}: {member} is encrypted, so it cannot be scanned.", hint=_PICKLE_HINT)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeFileError(
            f"{path}: {member} uses zip compression method {info.compress_type}; Baton scans "
            "stored or deflated members only (torch.save stores them uncompressed).",
            hint=_PICKLE_HINT,
        )
    if info.file_size > MAX_PICKLE_BYTES:
        # Checked on the declared size, before decompressing anything (zip bombs).
        raise UnsafeFileError(
            f"{path}: {member} declares {info.file_size} bytes uncompressed; Baton scans pickles of "
            f"at most {MAX_PICKLE_BYTES} bytes.",
            hint=_PICKLE_HINT,
        )
    with archive.open(info) as stream:
        _scan_one_pickle(_LimitedReader(stream, MAX_PICKLE_BYTES), path, f" in {member}", found)


# --- entry points --------------------------------------------------------------------------------


def needs_pickle_scan(path: str) -> bool:
    """Whether a repo file's extension says it may be a pickle (torch.load, pickle.load, joblib)."""
    return PurePosixPath(path).suffix.lower() in PICKLE_EXTENSIONS


def scan_pickle_file(fileobj: BinaryIO, path: str) -> ScanResult:
    """Scan a file that loaders would unpickle; nothing in it is ever executed.

    ``fileobj`` must be a seekable binary file; ``path`` is the repo path, used in messages.
    Raises UnsafeFileError naming the file and the refused global or the defect.
    """
    size = fileobj.seek(0, 2)
    head = _read_at(fileobj, 0, 512)
    fileobj.seek(0)
    found: set[str] = set()
    if not head:
        raise UnsafeFileError(
            f"{path}: the file is empty, so it is not a pickle or a torch checkpoint.", hint=_MALFORMED_HINT
        )
    if head.startswith(b"PK\x03\x04"):
        _scan_zip(fileobj, path, size, found)
        file_format = "torch-zip"
    elif _looks_like_tar(head):
        raise UnsafeFileError(
            f"{path}: the file is a tar archive, torch's format from before version 1.0, which Baton does not scan.",
            hint="Load it once in a trusted environment and save it again with "
            "safetensors.torch.save_file, then upload the .safetensors file.",
        )
    else:
        file_format = _scan_pickle_stream(fileobj, path, size, found)
    return ScanResult(path=path, format=file_format, globals_found=sorted(found))


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


def scan_file(fileobj: BinaryIO, path: str, size: int) -> ScanResult | None:
    """Check a file by its extension: safetensors headers, pickles; None when nothing applies."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == SAFETENSORS_EXTENSION:
        header = validate_safetensors_header(fileobj, size, path)
        return ScanResult(path=path, format="safetensors", safetensors=header)
    if suffix in PICKLE_EXTENSIONS:
        return scan_pickle_file(fileobj, path)
    return None
