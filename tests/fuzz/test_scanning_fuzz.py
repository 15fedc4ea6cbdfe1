"""The content scanner: whatever a file holds, a classification or a 4xx refusal.

Beyond "no crash", a differential property: when the scanner accepts bytes as harmless, a real
unpickler reading them (with its imports recorded and stubbed, never executed) imports nothing
outside the allowlist before it stops.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from baton.hub.pickles import ALLOWED_GLOBALS
from baton.hub.scanning import ScanResult, scan_file

from .support import FUZZ, json_values, refused_or_parsed

# Pieces of pickles, some harmless, some importing or calling what must be refused.
SNIPPETS = [
    b"(", b")", b"N", b"]", b"}", b"a", b"e", b"s", b"u", b"t", b"R", b"b", b"o", b"0", b"1", b"2",
    b".", b"\x85", b"\x86", b"\x87", b"\x93", b"\x94", b"q\x00", b"h\x00", b"K\x07", b"I1\n", b"F1.5\n",
    b"\x80\x02", b"\x80\x04", b"\x80\x05", b"\x95\x10\x00\x00\x00\x00\x00\x00\x00",
    b"cos\nsystem\n", b"cposix\nsystem\n", b"cbuiltins\nset\n", b"c__builtin__\neval\n",
    b"ccollections\nOrderedDict\n", b"csys\npath\n", b"cos\nenviron\n", b"ios\nsystem\n",
    b"\x8c\x05posix", b"\x8c\x06system", b"\x8c\x08builtins", b"\x8c\x03set", b"\x8c\x0bcollections",
    b"X\x02\x00\x00\x00ab", b"S'echo'\n", b"V\\u0041\n", b"B\x03\x00\x00\x00abc",
    b"\x8e\x00\x00\x00\x01\x00\x00\x00\x00", b"\x82\x01", b"\x81", b"\x92", b"\x96\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",  # LONG1, torch's legacy magic number
]  # fmt: skip
MAGICS = [
    b"\x80\x02", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x03\x00",
    b"\x1f\x8b", b"BZh9", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"x\x9c", b"ZF", b"\x04\x22\x4d\x18",
    b"GGUF", b"lmgg", b"MMIDIDX\x00\x00", b"\x08\x07\x12", b"\x06\x00\x00\x00\x05\x00Spec\x00",
]  # fmt: skip


def opcode_soup() -> st.SearchStrategy[bytes]:
    return st.lists(st.sampled_from(SNIPPETS), max_size=25).map(b"".join)


def _short_unicode(text: str) -> bytes:
    return b"\x8c" + bytes([len(text)]) + text.encode()


GLOBALS = ["os system", "posix system", "builtins eval", "sys path", "os environ", "builtins set",
           "collections OrderedDict", "builtins getattr", "__builtin__ eval", "copy_reg _reconstructor"]  # fmt: skip


def programs() -> st.SearchStrategy[bytes]:
    """Mostly well-formed pickles that import a global and use it (call, change, build), then
    end properly, end early, or end in garbage: where a scanner that misreads loaders fails."""

    def importing(spec: str, stacked: bool) -> bytes:
        module, name = spec.split()
        if stacked:
            return _short_unicode(module) + _short_unicode(name) + b"\x93"
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    gadget = st.builds(
        lambda spec, stacked, arguments, action: importing(spec, stacked) + arguments + action,
        st.sampled_from(GLOBALS),
        st.booleans(),
        st.sampled_from([b"", b")", b"(S'x'\nt", b"N\x85", b"\x8c\x01x\x8c\x01y\x86", b"}", b"(S'k'\nS'v'\nd"]),
        st.sampled_from([b"R", b"b", b"a", b"s", b"\x81", b"0", b"q\x00h\x00R", b"", b"(S'a'\nS'b'\nu", b"(S'a'\ne"]),
    )
    # Mostly without a header and cut short: a header, or a STOP, makes any refused import enough.
    ending = st.sampled_from([b"\xff", b"", b"\xff\xff.", b".", b"N."]) | st.binary(max_size=8)
    header = st.sampled_from([b"", b"", b"", b"\x80\x02"])
    gadgets = st.lists(gadget, min_size=1, max_size=3)
    return st.builds(lambda head, body, end: head + b"".join(body) + end, header, gadgets, ending)


def mutated_pickles() -> st.SearchStrategy[bytes]:
    def mutate(value: Any, protocol: int, cut: int, flips: list[tuple[int, int]]) -> bytes:
        data = bytearray(pickle.dumps(value, protocol=protocol))
        for position, byte in flips:
            data[position % len(data)] = byte
        return bytes(data[: max(1, len(data) - cut)])

    flips = st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), max_size=3)
    return st.builds(mutate, json_values(8), st.integers(0, pickle.HIGHEST_PROTOCOL), st.integers(0, 8), flips)


COMPRESSORS = [
    lambda data: data,
    gzip.compress,
    bz2.compress,
    lzma.compress,
    zlib.compress,
    lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    lambda data: b"ZF" + hex(len(data)).encode().ljust(19) + zlib.compress(data),
]


def contents() -> st.SearchStrategy[bytes]:
    inner = programs() | opcode_soup() | mutated_pickles() | st.binary(max_size=300)
    prefixed = st.builds(lambda magic, rest: magic + rest, st.sampled_from(MAGICS), st.binary(max_size=200) | inner)
    compressed = st.builds(lambda index, data: COMPRESSORS[index](data), st.integers(0, len(COMPRESSORS) - 1), inner)
    return inner | prefixed | compressed


@FUZZ
@given(contents(), st.sampled_from(["model.bin", "model.safetensors", "data.npy", "x.pkl.gz", "README.md"]))
def test_any_file_is_classified_or_refused(data: bytes, name: str) -> None:
    outcome = refused_or_parsed(scan_file, io.BytesIO(data), name, len(data))
    if isinstance(outcome, ScanResult):
        assert set(outcome.globals_found) <= ALLOWED_GLOBALS
        assert outcome.description


class _Stub:
    """What the recording unpickler gives for an allowed global: inert, accepts anything."""

    def __init__(self, *arguments: Any, **keywords: Any) -> None:
        del arguments, keywords

    def __setstate__(self, state: Any) -> None:
        del state


class _Used(Exception):
    """A refused global was called or changed: loading would have run something."""


class _Trap:
    """What the recording unpickler gives for a global outside the allowlist: calling it,
    instantiating it, or touching any attribute or item of it is recorded and stops the load."""

    def __new__(cls, *arguments: Any) -> Any:
        if isinstance(cls, _Trap):  # NEWOBJ: cls.__new__(cls, ...) on the trap itself
            cls._use("__new__")
        return object.__new__(cls)

    def __init__(self, name: str, uses: list[str]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "uses", uses)

    def _use(self, how: str) -> None:
        self.uses.append(f"{how} on {self.name}")
        raise _Used

    def __call__(self, *arguments: Any, **keywords: Any) -> Any:
        self._use("call")

    def __getattr__(self, attribute: str) -> Any:
        self._use(f"attribute {attribute}")

    def __setattr__(self, attribute: str, value: Any) -> None:
        self._use(f"setting {attribute}")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._use("setting an item")


class _RecordingUnpickler(pickle._Unpickler):  # the pure-Python unpickler: it exposes ``proto``
    def __init__(self, file: io.BytesIO, uses: list[str]) -> None:
        super().__init__(file)
        self.imports: list[str] = []
        self.uses = uses

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:  # as pickle's own find_class does with fix_imports
            if (module, name) in NAME_MAPPING:
                module, name = NAME_MAPPING[(module, name)]
            elif module in IMPORT_MAPPING:
                module = IMPORT_MAPPING[module]
        dotted = f"{module}.{name}"
        self.imports.append(dotted)
        return _Stub if dotted in ALLOWED_GLOBALS else _Trap(dotted, self.uses)


def unpickle_recording(data: bytes) -> tuple[list[str], list[str]]:
    """Read the pickles in ``data`` (up to ten) as a loader would: the globals imported by
    pickles that loaded completely, and every use of a refused global, loaded or not."""
    stream = io.BytesIO(data)
    imported: list[str] = []
    uses: list[str] = []
    for _ in range(10):
        unpickler = _RecordingUnpickler(stream, uses)
        try:
            unpickler.load()
        except Exception:  # noqa: BLE001 - any failure ends the reading, as it ends a loader's
            break
        imported += unpickler.imports
        if stream.tell() >= len(data):
            break
    return imported, uses


def assert_accepted_bytes_run_nothing_refused(data: bytes) -> None:
    outcome = refused_or_parsed(scan_file, io.BytesIO(data), "model.bin", len(data))
    if isinstance(outcome, ScanResult) and not outcome.compression:
        imported, uses = unpickle_recording(data)
        assert uses == [], outcome
        assert set(imported) <= ALLOWED_GLOBALS, outcome


@FUZZ
@given(programs())
def test_accepted_programs_run_nothing_refused_when_unpickled(data: bytes) -> None:
    assert_accepted_bytes_run_nothing_refused(data)


@FUZZ
@given(opcode_soup() | mutated_pickles())
def test_accepted_bytes_run_nothing_refused_when_unpickled(data: bytes) -> None:
    assert_accepted_bytes_run_nothing_refused(data)


def test_the_recording_unpickler_sees_what_the_scanner_must_refuse() -> None:
    # The property above is only as good as its oracle: it must notice calls and changes.
    assert unpickle_recording(b"cos\nsystem\n(S'x'\ntR.")[1] == ["call on os.system"]
    assert unpickle_recording(b"csys\npath\nS'x'\na.")[1] == ["attribute append on sys.path"]
    assert unpickle_recording(b"cbuiltins\neval\n.") == (["builtins.eval"], [])


@FUZZ
@given(json_values(), st.integers(0, pickle.HIGHEST_PROTOCOL), st.sampled_from(COMPRESSORS))
def test_plain_values_pickled_are_accepted(value: Any, protocol: int, compress: Any) -> None:
    result = scan_file(io.BytesIO(compress(pickle.dumps(value, protocol=protocol))), "values.bin")
    assert result.format == "pickle"


@FUZZ
@given(st.binary(min_size=1, max_size=300).filter(lambda data: data[:1] != b"\x80"))
def test_random_bytes_without_a_pickle_header_are_accepted(data: bytes) -> None:
    outcome = refused_or_parsed(scan_file, io.BytesIO(data), "model.bin", len(data))
    # Refused only when they start like a damaged zip archive, .npy data or safetensors, or LZ4.
    if not isinstance(outcome, ScanResult):
        safetensors_like = struct.unpack("<Q", data[:8].ljust(8, b"\0"))[0] <= len(data) - 8
        assert data.startswith((b"PK", b"\x93NUMPY", b"\x04\x22\x4d\x18")) or safetensors_like, outcome
