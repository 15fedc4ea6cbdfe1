"""Pickles are read as opcodes, never loaded: which globals a pickle would import and call.

Loading a pickle runs whatever callables it names, so a checkpoint can run any code on the
machine of whoever calls ``torch.load``, ``pickle.load``, ``joblib.load`` or
``numpy.load(allow_pickle=True)`` on it. We walk the opcodes (decoding them with the tables of
``pickletools``, executing nothing), follow the stack and memo well enough to know every global
the pickle would import, and refuse it unless each one is on an allowlist of what plain weights
need. An allowlist, not a blocklist: there are far too many dangerous callables in the standard
library and in installed packages to enumerate.

Whether bytes are a pickle at all is decided by content. Since protocol 2 a pickle opens with a
PROTO opcode; such a stream is *declared* a pickle, and anything in it that does not parse is
refused as damaged. Protocols 0 and 1 have no header, so any file may be one: it is a pickle if
its opcodes parse through to STOP, and then every import it makes must be allowed. A file whose
opcodes stop parsing first is not a pickle, and is let through only if nothing before that point
would have run: unpicklers execute each opcode as they read it, so a call placed before garbage
still runs when someone loads the file. Calls, and changes to imported objects, therefore refuse
the file wherever they appear.

Everything here is pure: no database, no torch import, bounded memory and time per stream.
"""

from __future__ import annotations

import pickle
import pickletools
import struct
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final, cast

from baton.core.errors import UnsafeFileError
from baton.hub import formats

# Limits. Module attributes (not arguments) so that an operator or a test can lower them.
MAX_PICKLE_BYTES = 256 * 1024 * 1024  # read per pickle stream (skipped data does not count)
MAX_PICKLE_OPCODES = 10_000_000  # ~30 per tensor in torch's pickles; bounds time and stack memory
# Data arguments (bytes, strings) longer than this are skipped, not read: no global has such a name.
SKIP_ARGUMENT_BYTES = 64 * 1024

_READ_CHUNK: Final = 1024 * 1024  # the most read from the file at once
_BUFFER_CHUNK: Final = 64 * 1024  # the least read from the file at once
_TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C  # first pickle of torch's pre-1.6 format
_TORCH_LEGACY_PICKLES: Final = 5  # magic, protocol version, sys info, the object, storage keys

PICKLE_HINT: Final = (
    "Save the weights as safetensors instead, e.g. "
    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors'), and upload that file."
)
MALFORMED_HINT: Final = (
    "Save the file again (torch.save, or better safetensors.torch.save_file) and upload it whole; "
    "an interrupted upload looks like this too."
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


# --- bounded reading -----------------------------------------------------------------------------


class LimitedReader:
    """A buffered reader over a stream that gives at most ``limit`` bytes, and skips the rest.

    It needs only ``read`` from the stream underneath (blob stores give seekable readers without
    ``readline``; decompressed streams cannot seek) and reads it in chunks: the walk asks for one
    byte per opcode, which must not become one request to a remote store. ``skip`` moves past
    data the walk does not need to see (a tensor's bytes in a protocol-5 pickle), by seeking when
    the stream can, without counting against ``limit``. ``size``, when known, is what the stream
    holds from its current position: a claim past it is a truncation, found without reading.
    """

    def __init__(self, raw: IO[bytes], limit: int, size: int | None = None) -> None:
        self._raw = raw
        self._remaining = limit
        self._size = size
        self._position = 0
        self._buffer = b""
        self._buffer_position = 0
        self._seekable = bool(getattr(raw, "seekable", lambda: False)())
        self.over_limit = False
        self.line_limit: int | None = None  # set while an opcode reads a line that cannot be long

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
        data = b"".join(parts)
        self._remaining -= len(data)
        self._position += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.line_limit is not None and not 0 <= size <= self.line_limit + 1:
            line = self.readline(self.line_limit + 1)
            if len(line) == self.line_limit + 1 and not line.endswith(b"\n"):
                raise _Malformed(f"a line of more than {self.line_limit} bytes where unpicklers expect a short one")
            return line
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
        self._remaining -= len(line)
        self._position += len(line)
        return line

    def skip(self, count: int) -> None:
        """Move ``count`` bytes on without returning them; _Malformed if the stream ends first."""
        if self._size is not None and self._position + count > self._size:
            raise _Malformed(f"it claims {count} bytes at byte {self._position}, past the end of the data")
        buffered = min(count, len(self._buffer) - self._buffer_position)
        self._buffer_position += buffered
        self._position += buffered
        left = count - buffered
        if left and self._seekable:
            self._raw.seek(left, 1)
            self._position += left
            return
        while left:
            piece = self._raw.read(min(left, _READ_CHUNK))
            if not piece:
                raise _Malformed(f"the data ends at byte {self._position}, inside an argument of {count} bytes")
            left -= len(piece)
            self._position += len(piece)

    def at_end(self) -> bool:
        return not self._fill(1)

    def peek(self, count: int) -> bytes:
        """Up to ``count`` of the next bytes (fewer near the end), without consuming them."""
        self._fill(count)
        return self._buffer[self._buffer_position : self._buffer_position + count]

    def tell(self) -> int:
        return self._position

    def _fill(self, wanted: int) -> bool:
        """Make sure the buffer holds unread bytes; False at the end of the stream."""
        if self._buffer_position < len(self._buffer):
            return True
        self._buffer = self._raw.read(min(max(wanted, _BUFFER_CHUNK), _READ_CHUNK))
        self._buffer_position = 0
        return bool(self._buffer)


# --- decoding opcodes ----------------------------------------------------------------------------


class _Malformed(Exception):
    """The opcodes do not form a pickle that an unpickler would accept."""


class _Uncallable(_Malformed):
    """The pickle calls a value that is not a global: unpicklers fail there, and a pickle
    with a header is refused with ``refusal``."""

    def __init__(self, refusal: UnsafeFileError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class _Skipped:
    """A data argument of ``size`` bytes that was skipped, not read."""

    size: int


# Opcodes whose argument is a length, then that many bytes: (length layout, how to decode them).
_COUNTED: Final[dict[str, tuple[str, str]]] = {
    "SHORT_BINBYTES": ("<B", "bytes"),
    "BINBYTES": ("<I", "bytes"),
    "BINBYTES8": ("<Q", "bytes"),
    "BYTEARRAY8": ("<Q", "bytes"),
    "SHORT_BINSTRING": ("<B", "latin-1"),
    "BINSTRING": ("<i", "latin-1"),
    "SHORT_BINUNICODE": ("<B", "utf-8"),
    "BINUNICODE": ("<I", "utf-8"),
    "BINUNICODE8": ("<Q", "utf-8"),
    "LONG1": ("<B", "long"),
    "LONG4": ("<i", "long"),
}


def _counted_argument(reader: LimitedReader, name: str, layout: str, kind: str) -> Any:
    width = struct.calcsize(layout)
    raw_count = reader.read(width)
    if len(raw_count) < width:
        raise _Malformed(f"the data ends inside the argument of {name}")
    (count,) = struct.unpack(layout, raw_count)
    if count < 0:
        raise _Malformed(f"{name} claims a negative length")
    if count > SKIP_ARGUMENT_BYTES:
        reader.skip(count)
        return _Skipped(count)
    data = reader.read(count)
    if len(data) < count:
        raise _Malformed(f"the data ends inside the {count}-byte argument of {name}")
    if kind == "bytes":
        return data
    if kind == "long":
        return pickle.decode_long(data)
    return data.decode(kind, "surrogatepass" if kind == "utf-8" else "strict")


_DATA_LINE_OPCODES: Final = frozenset({"STRING", "UNICODE"})
_OPCODE_BY_CODE: Final = {opcode.code.encode("latin-1"): opcode for opcode in pickletools.opcodes}


def _opcodes(reader: LimitedReader) -> Iterator[tuple[pickletools.OpcodeInfo, Any, int]]:
    """(opcode, argument, position) up to and including STOP, like ``pickletools.genops``, but
    long data arguments are skipped rather than read (see LimitedReader.skip)."""
    while True:
        position = reader.tell()
        code = reader.read(1)
        if not code:
            raise _Malformed("the data ends before a STOP opcode")
        opcode = _OPCODE_BY_CODE.get(code)
        if opcode is None:
            raise _Malformed(f"byte {code!r} at {position} is not a pickle opcode")
        counted = _COUNTED.get(opcode.name)
        if counted is not None:
            argument = _counted_argument(reader, opcode.name, *counted)
        elif opcode.arg is None:
            argument = None
        else:  # fixed-size, or up to a newline (bounded by the reader's limit)
            # Only STRING and UNICODE lines hold data; on any other opcode a long line (a number,
            # a module name, a persistent id) makes every unpickler fail, so it is not read to its end.
            reader.line_limit = None if opcode.name in _DATA_LINE_OPCODES else SKIP_ARGUMENT_BYTES
            try:
                argument = opcode.arg.reader(cast(IO[bytes], reader))
            finally:
                reader.line_limit = None
        yield opcode, argument, position
        if opcode.name == "STOP":
            return


# --- the walk ------------------------------------------------------------------------------------


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
    """A global the pickle imports; ``refusal`` says why when it is not on the allowlist."""

    name: str
    refusal: UnsafeFileError | None = field(default=None, compare=False)


_StackValue = str | _GlobalRef | _Marker

_STRING_OPCODES: Final = frozenset(
    {"UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"}
)
_PUT_OPCODES: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPCODES: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
_EXTENSION_OPCODES: Final = frozenset({"EXT1", "EXT2", "EXT4"})
# Opcodes that change the object below their arguments (list.append, obj[key] = value, set.add).
_MUTATING_OPCODES: Final = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"})


def _importable(dotted: str) -> bool:
    return all(part.isidentifier() for part in dotted.split("."))


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
    declared: bool  # the stream opens with PROTO: refuse at the first import outside the allowlist
    protocol: int = 0
    stack: list[_StackValue] = field(default_factory=list)
    memo: dict[int, _StackValue] = field(default_factory=dict)
    head: list[tuple[str, Any]] = field(default_factory=list)  # first opcodes, to spot torch's magic
    # Without a header, the first import outside the allowlist: it refuses the stream once the
    # stream proves to be a pickle (reaches STOP), or at once when the global is called.
    pending: UnsafeFileError | None = None

    def refuse(self, problem: str, position: int | None, hint: str = PICKLE_HINT) -> UnsafeFileError:
        at = f"at byte {position}, " if position is not None else ""
        return UnsafeFileError(f"{self.path}: {at}the pickle{self.where} {problem}.", hint=hint)

    def unsafe(self, problem: str, position: int | None, name: str) -> _GlobalRef:
        """An import outside the allowlist: refused now in a declared pickle, else remembered."""
        refusal = self.refuse(problem, position)
        if self.declared:
            raise refusal
        if self.pending is None:
            self.pending = refusal
        return _GlobalRef(name, refusal)

    def check_global(self, module: str, name: str, position: int | None) -> _GlobalRef:
        if not self.declared and not (_importable(module) and _importable(name)):
            # The unpickler's import fails on such a name, so without a header parsing ends here
            # (a tar header or a line of text read as GLOBAL or INST, say).
            raise _Malformed(f"{module!r} {name!r} is not a global that could be imported")
        resolved = _resolve_global(module, name, self.protocol)
        if resolved not in ALLOWED_GLOBALS:
            written = f"{module}.{name}"
            alias = f" (written as `{written}`)" if written != resolved else ""
            return self.unsafe(
                f"imports `{resolved}`{alias}, which is not among the globals that plain weights "
                "need; loading the file with pickle or torch.load would call it",
                position,
                resolved,
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

    def acts(self) -> None:
        """An opcode is about to run code (its arguments are on the stack, so the unpickler gets
        this far). A refused global may sit in the arguments of an allowed callable that calls it
        (torch._tensor._rebuild_from_type_v2 calls its first argument): once one has been
        imported, nothing may act."""
        if self.pending is not None:
            raise self.pending

    def call(self, value: _StackValue, opcode: str, position: int | None) -> None:
        """The unpickler calls ``value`` here: only allowlisted globals may be called."""
        if isinstance(value, _GlobalRef) and value.refusal is None:
            self.acts()
        if isinstance(value, _GlobalRef):
            if value.refusal is not None:
                raise value.refusal
            return
        refusal = self.refuse(f"uses {opcode} on a value that is not an allowed global", position)
        if self.declared:
            raise refusal
        # Calling data fails in the unpickler too: without a header, this is where parsing ends.
        raise _Uncallable(refusal)

    def step(self, opcode: pickletools.OpcodeInfo, arg: Any, position: int | None) -> None:
        name = opcode.name
        if len(self.head) < 4:
            self.head.append((name, arg))
        if name == "PROTO":
            self.protocol = int(arg)
        elif name in _STRING_OPCODES:
            self.stack.append(arg if isinstance(arg, str) else _OTHER)
        elif name == "GLOBAL":
            module, _, global_name = str(arg).partition(" ")
            self.stack.append(self.check_global(module, global_name, position))
        elif name == "STACK_GLOBAL":
            name_value, module_value = self.pop(), self.pop()
            if not isinstance(module_value, str) or not isinstance(name_value, str):
                self.stack.append(
                    self.unsafe(
                        "uses STACK_GLOBAL with a module or name that is not a plain string literal, "
                        "so the global it imports cannot be known without running it",
                        position,
                        "a computed global",
                    )
                )
            else:
                self.stack.append(self.check_global(module_value, name_value, position))
        elif name == "INST":
            module, _, global_name = str(arg).partition(" ")
            self.call(self.check_global(module, global_name, position), name, position)
            self.pop_to_mark()
            self.stack.append(_OTHER)
        elif name in _EXTENSION_OPCODES:
            if not self.declared:
                # An extension code imports only what copyreg.add_extension registered, and nothing
                # registers any by default: without a header, loading fails here (random bytes
                # starting with 0x82 read as EXT1, say).
                raise _Malformed(f"{name} needs a registered extension code, which unpicklers do not have")
            self.stack.append(
                self.unsafe(f"uses {name}, which imports a global through copyreg's extension registry", position, name)
            )
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
            self.call(self.pop(), name, position)
            self.stack.append(_OTHER)
        elif name == "NEWOBJ_EX":
            self.pop()
            self.pop()
            self.call(self.pop(), name, position)
            self.stack.append(_OTHER)
        elif name == "OBJ":
            items = self.pop_to_mark()
            if not items:
                raise _Malformed("OBJ without a class")
            self.call(items[0], name, position)
            self.stack.append(_OTHER)
        elif name == "BUILD":
            self.pop()
            if isinstance(self.top(), _GlobalRef):
                # BUILD on a class would set attributes on it (monkey-patching torch or numpy).
                raise self.refuse("uses BUILD to set attributes on an imported global", position)
            self.acts()
        elif name in _MUTATING_OPCODES:
            if name in ("APPEND", "SETITEM"):
                for _ in range(1 if name == "APPEND" else 2):
                    self.pop()
            else:
                self.pop_to_mark()
            if isinstance(self.top(), _GlobalRef):
                # e.g. APPEND to sys.path, SETITEM on os.environ: a change without any call.
                raise self.refuse(f"uses {name} to change an imported global", position)
            self.acts()
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


@dataclass(frozen=True)
class _NotAPickle:
    """The bytes stop parsing before STOP; ``damage`` is the refusal to give if they must be a
    pickle (the import outside the allowlist seen on the way, else where parsing stopped), and
    ``harmless`` says that nothing refused is imported or called before that point."""

    damage: UnsafeFileError
    harmless: bool


def _scan_one_pickle(
    reader: LimitedReader, path: str, where: str, found: set[str], *, declared: bool
) -> list[tuple[str, Any]] | _NotAPickle:
    """Walk one pickle up to its STOP and return its first opcodes. Raises UnsafeFileError.

    Without ``declared``, bytes that stop parsing before STOP give _NotAPickle: nothing before
    that point imports or calls anything refused, so loaders fail there harmlessly."""
    # Globals are added to ``found`` only once the bytes prove to be a pickle.
    walk = _PickleWalk(path=path, where=where, found=set(), declared=declared)
    count = 0
    try:
        for opcode, arg, position in _opcodes(reader):
            count += 1
            if count > MAX_PICKLE_OPCODES:
                raise walk.refuse(f"has more than {MAX_PICKLE_OPCODES} opcodes, more than Baton scans", position)
            walk.step(opcode, arg, position)
    except (ValueError, OverflowError, struct.error, _Malformed) as error:
        if reader.over_limit:
            raise walk.refuse(f"needs more than {MAX_PICKLE_BYTES} bytes, more than Baton scans", None) from error
        damage = walk.pending or (
            error.refusal
            if isinstance(error, _Uncallable)
            else walk.refuse(f"is malformed or truncated ({error})", reader.tell(), hint=MALFORMED_HINT)
        )
        if declared:
            raise damage from error
        return _NotAPickle(damage, harmless=walk.pending is None and not isinstance(error, _Uncallable))
    if walk.pending is not None:
        raise walk.pending
    found.update(walk.found)
    return walk.head


def _is_torch_legacy_magic(head: list[tuple[str, Any]]) -> bool:
    opcodes = [name for name, _ in head if name not in ("PROTO", "FRAME")]
    values = [arg for name, arg in head if name not in ("PROTO", "FRAME", "STOP")]
    return opcodes[-1:] == ["STOP"] and values == [_TORCH_LEGACY_MAGIC]


@dataclass(frozen=True)
class PickleScan:
    """What a stream holds: ``format`` "pickle" or "torch-legacy", or None when its bytes do not
    parse as a pickle. Then ``declared`` says whether they open with a pickle header anyway
    (PROTO 2-5), and ``damage`` is the refusal to give if nothing else explains the bytes."""

    format: str | None
    declared: bool = False
    damage: UnsafeFileError | None = None
    harmless: bool = True


def scan_pickle_stream(
    raw: IO[bytes], path: str, found: set[str], *, where: str = "", size: int | None = None
) -> PickleScan:
    """Scan the pickles of a stream from its current position, adding every global they import
    to ``found``; raises UnsafeFileError naming ``path`` when loading would run something refused.

    ``size``: what the stream holds, when known. A first pickle that opens with PROTO 2-5 and
    completes declares the stream a pickle file: what follows must be pickles too."""
    reader = LimitedReader(raw, MAX_PICKLE_BYTES, size)
    declared = formats.is_pickle_header(reader.peek(2))
    head = _scan_one_pickle(reader, path, where, found, declared=False)
    if isinstance(head, _NotAPickle):
        return PickleScan(None, declared, head.damage, head.harmless)
    if _is_torch_legacy_magic(head):
        # torch.save(..., _use_new_zipfile_serialization=False): five pickles, then raw storage
        # bytes that torch reads without unpickling, so the scan stops after the fifth.
        for index in range(2, _TORCH_LEGACY_PICKLES + 1):
            start = reader.tell()
            if reader.at_end():
                raise UnsafeFileError(
                    f"{path}: the file starts like torch's legacy format but ends after pickle "
                    f"{index - 1} of {_TORCH_LEGACY_PICKLES}.",
                    hint=MALFORMED_HINT,
                )
            _scan_one_pickle(reader, path, f"{where} number {index} (at byte {start})", found, declared=True)
        return PickleScan("torch-legacy")
    # Some readers call pickle.load repeatedly: every pickle in the stream is scanned. After a
    # first pickle with a header, bytes that are not a pickle are refused rather than left
    # unexamined; without a header they end the pickles, as they would end such a reader.
    while not reader.at_end():
        start = reader.tell()
        follow = f"{where} that follows the first one (at byte {start})"
        if isinstance(_scan_one_pickle(reader, path, follow, found, declared=declared), _NotAPickle):
            break
    return PickleScan("pickle")


def scan_one_declared_pickle(raw: IO[bytes], path: str, where: str, found: set[str], size: int | None) -> None:
    """Scan exactly one pickle that a loader will read as one whatever its bytes (a ``.pkl``
    member of a torch zip): anything unreadable in it is refused. Raises UnsafeFileError."""
    _scan_one_pickle(LimitedReader(raw, MAX_PICKLE_BYTES, size), path, where, found, declared=True)
