"""Scanning uploads: pickles are judged by their opcodes and never run; safetensors headers checked.

Inputs are real files made here: torch.save in both formats, numpy pickles, and malicious
pickles whose loading would create a marker file, which must never appear.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy_safetensors
from safetensors.torch import save_file as save_torch_safetensors

from baton.core.errors import UnsafeFileError
from baton.hub import pickles, scanning
from baton.hub.scanning import (
    ALLOWED_GLOBALS,
    SafetensorsTensor,
    ScanResult,
    scan_file,
    validate_safetensors_header,
)

# --- inputs --------------------------------------------------------------------------------------


def state_dict() -> OrderedDict[str, Any]:
    return OrderedDict(
        weight=torch.randn(4, 3),
        bias=torch.zeros(3, dtype=torch.bfloat16),
        steps=torch.arange(5),
        half=torch.ones(2, dtype=torch.float16),
        scale=torch.nn.Parameter(torch.ones(2)),
        mask=torch.tensor([True, False]),
    )


def torch_bytes(obj: Any, *, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def scan(data: bytes, path: str = "model.pt") -> ScanResult:
    return scan_file(io.BytesIO(data), path)


def refusal(data: bytes, path: str = "model.pt") -> UnsafeFileError:
    with pytest.raises(UnsafeFileError) as caught:
        scan_file(io.BytesIO(data), path)
    error = caught.value
    assert path in error.message
    assert error.hint
    assert error.status_code == 400
    return error


class RunsShell:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (eval, ("1 + 1",))


def rewrite_zip(archive: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """A copy of a zip archive with some members' bytes replaced (and maybe members added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, replace.get(info.filename, source.read(info)))
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def data_pkl_name(archive: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return next(name for name in source.namelist() if name.endswith("/data.pkl"))


def pickle_with_global(module: str, name: str, protocol: int = 2) -> bytes:
    """PROTO, GLOBAL module name, an empty tuple, REDUCE, STOP: calls module.name()."""
    return bytes([0x80, protocol]) + b"c" + f"{module}\n{name}\n".encode() + b")R."


def short_unicode(text: str) -> bytes:
    encoded = text.encode()
    return b"\x8c" + bytes([len(encoded)]) + encoded


# --- accepted pickles ----------------------------------------------------------------------------


def test_torch_zip_checkpoint_passes_and_lists_its_globals(tmp_path: Path) -> None:
    file = tmp_path / "pytorch_model.bin"
    torch.save(state_dict(), file)
    with file.open("rb") as handle:
        result = scan_file(handle, "pytorch_model.bin")
    assert result.format == "torch-zip"
    assert result.path == "pytorch_model.bin"
    assert {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage",
        "torch.BFloat16Storage",
        "torch.LongStorage",
        "torch.BoolStorage",
    } <= set(result.globals_found)
    assert result.globals_found == sorted(result.globals_found)


def test_torch_legacy_checkpoint_passes() -> None:
    result = scan(torch_bytes(state_dict(), legacy=True))
    assert result.format == "torch-legacy"
    assert "torch._utils._rebuild_tensor_v2" in result.globals_found


def test_checkpoint_with_dtypes_devices_sizes_and_nested_dicts_passes() -> None:
    checkpoint = {
        "model": state_dict(),
        "dtype": torch.float32,
        "device": torch.device("cpu"),
        "size": torch.Size([2, 3]),
        "epoch": 3,
        "name": "모델",
        "float8": torch.zeros(2, dtype=torch.float8_e4m3fn),
        "sparse": torch.sparse_coo_tensor(
            torch.tensor([[0, 1]]), torch.tensor([1.0, 2.0]), (3,), check_invariants=True
        ),
    }
    result = scan(torch_bytes(checkpoint))
    assert {"torch.float32", "torch.device", "torch.Size", "torch.float8_e4m3fn"} <= set(result.globals_found)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_and_builtin_value_pickles_pass(protocol: int) -> None:
    values = {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float32(1.5),
        "dtype": np.dtype("int16"),
        "objects": np.array([1, "x"], dtype=object),
        "set": {1, 2},
        "frozenset": frozenset({3}),
        "bytearray": bytearray(b"ab"),
        "bytes": b"raw",
        "complex": 1 + 2j,
        "slice": slice(1, 5, 2),
        "ordered": OrderedDict(a=1),
    }
    result = scan(pickle.dumps(values, protocol=protocol), "arrays.pkl")
    assert result.format == "pickle"
    assert set(result.globals_found) <= ALLOWED_GLOBALS


def test_torch_weights_only_allowlist_is_covered() -> None:
    # Anything torch.load(weights_only=True) accepts must pass here too; catches torch upgrades.
    from torch import _weights_only_unpickler

    torch_allowed = set(_weights_only_unpickler._get_allowed_globals())
    assert torch_allowed - ALLOWED_GLOBALS == set()


def test_several_pickles_in_a_row_are_all_scanned() -> None:
    assert scan(pickle.dumps([1, 2]) + pickle.dumps({"a": 3}), "two.pkl").format == "pickle"


# --- refused pickles -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_os_system_pickle_is_refused_and_never_run(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(RunsShell(marker), protocol=protocol)
    error = refusal(data, "evil.pkl")
    assert "posix.system" in error.message or "os.system" in error.message
    assert "safetensors" in error.hint
    assert error.code == "UnsafeFile"
    assert not marker.exists()


def test_stack_global_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(RunsShell(marker), protocol=4)
    assert b"\x93" in data  # STACK_GLOBAL, not GLOBAL
    assert b"\x8c" in data and b"c" + b"posix" not in data
    error = refusal(data)
    assert "system" in error.message
    assert not marker.exists()


def test_stack_global_follows_the_memo_not_the_last_strings_pushed() -> None:
    # Memoize "posix" and "system", push harmless strings, then fetch the memoized ones back: a
    # scanner that trusts the last two strings it saw would read collections.OrderedDict here.
    # fmt: off
    data = (
        b"\x80\x04"
        + short_unicode("posix") + b"q\x00"  # BINPUT 0
        + short_unicode("system") + b"q\x01"  # BINPUT 1
        + b"00"  # POP POP
        + short_unicode("collections") + short_unicode("OrderedDict") + b"00"
        + b"h\x00h\x01"  # BINGET 0, BINGET 1
        + b"\x93"  # STACK_GLOBAL
        + short_unicode("echo pwned") + b"\x85R."  # TUPLE1, REDUCE, STOP
    )
    # fmt: on
    assert "`posix.system`" in refusal(data).message


def test_stack_global_with_memoize_opcode_is_followed() -> None:
    # fmt: off
    data = (
        b"\x80\x04"
        + short_unicode("builtins") + b"\x94"  # MEMOIZE -> 0
        + short_unicode("eval") + b"\x94"  # MEMOIZE -> 1
        + b"0" + b"0"
        + b"h\x00h\x01\x93"
        + short_unicode("1") + b"\x85R."
    )
    # fmt: on
    assert "`builtins.eval`" in refusal(data).message


def test_stack_global_with_a_computed_name_is_refused() -> None:
    # _codecs.encode("bf", "rot13") == "os": the module name is computed, not a literal.
    # fmt: off
    data = (
        b"\x80\x04"
        + short_unicode("_codecs") + short_unicode("encode") + b"\x93"
        + short_unicode("bf") + short_unicode("rot13") + b"\x86R"  # TUPLE2, REDUCE
        + short_unicode("system") + b"\x93"
        + short_unicode("echo pwned") + b"\x85R."
    )
    # fmt: on
    assert "not a plain string literal" in refusal(data).message


def test_python2_names_are_resolved_as_the_unpickler_does() -> None:
    data = pickle.dumps(RunsEval(), protocol=2)
    assert b"__builtin__" in data
    message = refusal(data).message
    assert "`builtins.eval`" in message
    assert "`__builtin__.eval`" in message


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "Popen"),
        ("subprocess", "check_output"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("builtins", "open"),
        ("__builtin__", "eval"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("numpy", "load"),
        ("runpy", "run_path"),
        ("shutil", "rmtree"),
        ("webbrowser", "open"),
        ("collections", "OrderedDict.fromkeys"),  # a dotted name is not the allowed class
        ("baton_never_imported_module", "anything"),
    ],
)
def test_globals_outside_the_allowlist_are_refused(module: str, name: str) -> None:
    error = refusal(pickle_with_global(module, name))
    assert f"{module}.{name}" in error.message or f"builtins.{name}" in error.message
    assert "baton_never_imported_module" not in sys.modules  # scanning imports nothing


def test_inst_opcode_is_checked() -> None:
    data = b"(S'echo pwned'\nios\nsystem\n."  # protocol 0: MARK, STRING, INST os system
    assert "`os.system`" in refusal(data).message


def test_extension_registry_opcodes_are_refused() -> None:
    data = b"\x80\x02\x82\x01)R."  # EXT1 1
    assert "EXT1" in refusal(data).message


def test_calling_something_that_is_not_an_imported_global_is_refused() -> None:
    data = b"\x80\x02])R."  # EMPTY_LIST, EMPTY_TUPLE, REDUCE
    assert "not an allowed global" in refusal(data).message


def test_build_on_an_imported_class_is_refused() -> None:
    # BUILD on the class itself would set attributes on collections.OrderedDict.
    # GLOBAL, then the state (None, {"abc": 1}) as TUPLE2, then BUILD.
    data = b"\x80\x02ccollections\nOrderedDict\nN}(X\x03\x00\x00\x00abcK\x01u\x86b."
    assert "BUILD" in refusal(data).message


def test_pickle_hidden_in_a_torch_zip_archive_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    archive = torch_bytes(state_dict())
    name = data_pkl_name(archive)
    evil = rewrite_zip(archive, {name: pickle.dumps(RunsShell(marker), protocol=2)})
    error = refusal(evil, "pytorch_model.bin")
    assert name in error.message
    assert "system" in error.message
    assert not marker.exists()


def test_duplicate_data_pkl_members_are_all_scanned() -> None:
    archive = torch_bytes(state_dict())
    name = data_pkl_name(archive)
    with pytest.warns(UserWarning, match="Duplicate name"):
        evil = rewrite_zip(archive, {}, add={name: pickle_with_global("os", "system")})
    assert "`os.system`" in refusal(evil).message


def test_pickle_member_with_an_upper_case_name_is_scanned() -> None:
    archive = torch_bytes(state_dict())
    evil = rewrite_zip(archive, {}, add={"archive/CONSTANTS.PKL": pickle_with_global("os", "system")})
    assert "`os.system`" in refusal(evil).message


def test_malicious_legacy_checkpoint_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = torch_bytes({"weights": torch.ones(2), "payload": RunsShell(marker)}, legacy=True)
    error = refusal(data)
    assert "system" in error.message
    assert not marker.exists()


def test_old_tar_checkpoint_is_refused_as_unsupported() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        payload = pickle.dumps({"a": 1})
        info = tarfile.TarInfo("pickle")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    assert "tar archive" in refusal(buffer.getvalue()).message


# --- malformed and oversized inputs ---------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 5, 20, -1])
def test_truncated_pickle_is_refused(cut: int) -> None:
    data = pickle.dumps({"weights": list(range(100))}, protocol=2)[:cut]
    assert "malformed or truncated" in refusal(data, "weights.pkl").message


def test_truncated_torch_zip_is_refused() -> None:
    archive = torch_bytes(state_dict())
    error = refusal(archive[: len(archive) // 2])
    assert "zip archive" in error.message


def test_truncated_legacy_checkpoint_is_refused() -> None:
    data = torch_bytes(state_dict(), legacy=True)
    assert "malformed or truncated" in refusal(data[:200]).message


def test_empty_file_is_not_a_pickle() -> None:
    # Issue 12, item 6: files are judged by content; an empty one holds nothing to unpickle.
    assert scan(b"", "model.bin").format == "empty"


def test_bytes_that_are_not_a_pickle_are_accepted_and_named() -> None:
    # Issue 12, item 6: a .bin that is no pickle is not refused for its name.
    result = scan(b"\xba\x16\x4f\x2f" + bytes(100), "vectors.bin")
    assert (result.format, result.description, result.globals_found) == ("unknown", "unknown binary", [])


def test_trailing_garbage_after_a_pickle_is_refused() -> None:
    error = refusal(pickle.dumps([1, 2], protocol=2) + b"\xffgarbage", "x.pkl")
    assert "follows the first one" in error.message


def test_huge_argument_claim_does_not_allocate() -> None:
    data = b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"tiny"  # BINBYTES8 of 4 EiB
    # Long data arguments are skipped, not read; this one claims more than the file holds.
    assert "claims 4611686018427387904 bytes at byte 11, past the end of the data" in refusal(data).message


def test_pickle_over_the_byte_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickles, "MAX_PICKLE_BYTES", 1000)
    assert "more than Baton scans" in refusal(pickle.dumps(b"x" * 5000, protocol=4)).message


def test_pickle_over_the_opcode_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickles, "MAX_PICKLE_OPCODES", 50)
    assert "opcodes" in refusal(pickle.dumps(list(range(100)), protocol=0)).message


def test_zip_with_too_many_members_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanning, "MAX_ZIP_MEMBERS", 5)
    archive = rewrite_zip(torch_bytes(state_dict()), {}, add={f"extra/{i}": b"" for i in range(10)})
    assert "members" in refusal(archive).message


def test_zip_bomb_member_is_refused_before_decompressing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pickles, "MAX_PICKLE_BYTES", 1024 * 1024)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + b"N0" * (2 * 1024 * 1024))
    assert len(out.getvalue()) < 100_000
    assert "declares" in refusal(out.getvalue()).message


def test_zip_member_with_unexpected_compression_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_LZMA) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2))
    assert "compression method" in refusal(out.getvalue()).message


# --- dispatch ------------------------------------------------------------------------------------


def test_scan_file_reads_the_content(tmp_path: Path) -> None:
    archive = torch_bytes(state_dict())
    result = scan_file(io.BytesIO(archive), "weights/model.PT", len(archive))
    assert result is not None and result.format == "torch-zip"

    file = tmp_path / "model.safetensors"
    save_numpy_safetensors({"a": np.zeros(3, dtype=np.float32)}, str(file))
    with file.open("rb") as handle:
        result = scan_file(handle, "model.safetensors", file.stat().st_size)
    assert result is not None and result.format == "safetensors"
    assert result.safetensors is not None and result.safetensors.tensors["a"].shape == (3,)

    # Every file is classified now (issue 12, item 6): there is no name that skips the scan.
    assert scan_file(io.BytesIO(b"hello"), "README.md", 5).format == "text"


# --- safetensors ---------------------------------------------------------------------------------


def handmade(header: dict[str, Any] | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def check(data: bytes, path: str = "model.safetensors") -> scanning.SafetensorsHeader:
    return validate_safetensors_header(io.BytesIO(data), len(data), path)


def invalid(data: bytes, path: str = "model.safetensors") -> str:
    with pytest.raises(UnsafeFileError) as caught:
        check(data, path)
    error = caught.value
    assert error.code == "InvalidSafetensors"
    assert path in error.message
    assert "safetensors" in error.hint
    return error.message


def tensor(dtype: str, shape: list[Any], start: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}


def test_safetensors_written_by_the_library_pass(tmp_path: Path) -> None:
    file = tmp_path / "model.safetensors"
    arrays: dict[str, np.ndarray[Any, Any]] = {
        "embed.weight": np.ones((4, 3), dtype=np.float32),
        "norm.bias": np.zeros(3, dtype=np.float16),
        "ids": np.arange(5, dtype=np.int64),
        "flags": np.array([True, False]),
        "empty": np.zeros((0, 2), dtype=np.float32),
    }
    save_numpy_safetensors(arrays, str(file), metadata={"format": "np", "설명": "테스트"})
    with file.open("rb") as handle:
        header = validate_safetensors_header(handle, file.stat().st_size, "model.safetensors")
    assert header.metadata == {"format": "np", "설명": "테스트"}
    assert set(header.tensors) == set(arrays)
    weight = header.tensors["embed.weight"]
    assert weight == SafetensorsTensor("F32", (4, 3), weight.data_offsets)
    dtype, shape, (start, end) = weight  # usable as a plain (dtype, shape, (start, end)) tuple
    assert (dtype, shape, end - start) == ("F32", (4, 3), 48)
    assert header.tensors["flags"].dtype == "BOOL"
    raw = file.read_bytes()
    assert raw[header.data_start + start : header.data_start + end] == arrays["embed.weight"].tobytes()


def test_torch_safetensors_with_bfloat16_pass(tmp_path: Path) -> None:
    file = tmp_path / "model.safetensors"
    save_torch_safetensors({"w": torch.ones(2, 2, dtype=torch.bfloat16)}, str(file))
    data = file.read_bytes()
    assert check(data).tensors["w"].dtype == "BF16"


def test_empty_safetensors_passes() -> None:
    assert check(handmade({})).tensors == {}


def test_header_length_beyond_the_limit_is_refused() -> None:
    message = invalid(struct.pack("<Q", 2**40) + b"{}")
    assert "at most 100000000" in message


def test_header_length_beyond_the_file_is_refused() -> None:
    message = invalid(struct.pack("<Q", 1000) + b"{}")
    assert "1000 bytes" in message


def test_file_shorter_than_the_length_prefix_is_refused() -> None:
    assert "8-byte header length" in invalid(b"\x01\x02")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": ', "not valid JSON"),
        (b"[1, 2]", "does not start with '{'"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"\xff": 1}', "not valid UTF-8"),
        (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": 1}', "appears twice"),
    ],
)
def test_unreadable_headers_are_refused(raw: bytes, expected: str) -> None:
    assert expected in invalid(handmade(raw, bytes(4)))


def test_offsets_outside_the_file_are_refused() -> None:
    message = invalid(handmade({"w": tensor("F32", [4], 0, 16)}, bytes(8)))
    assert "'w'" in message and "holds only 8 bytes" in message


def test_overlapping_tensors_are_refused() -> None:
    header = {"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}
    message = invalid(handmade(header, bytes(12)))
    assert "'b'" in message and "overlaps" in message and "'a'" in message


def test_gap_between_tensors_is_refused() -> None:
    header = {"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}
    assert "belong to no tensor" in invalid(handmade(header, bytes(12)))


def test_trailing_bytes_after_the_tensors_are_refused() -> None:
    message = invalid(handmade({"a": tensor("F32", [1], 0, 4)}, bytes(4) + b"\x80\x02hidden"))
    assert "trailing bytes" in message


def test_wrong_byte_length_is_refused() -> None:
    message = invalid(handmade({"layer.0.weight": tensor("F32", [2, 2], 0, 12)}, bytes(12)))
    assert "'layer.0.weight'" in message and "needs 16 bytes" in message


@pytest.mark.parametrize("dtype", ["F128", "float32", "", 5, None])
def test_unknown_dtype_is_refused(dtype: Any) -> None:
    message = invalid(handmade({"w": tensor(dtype, [1], 0, 4)}, bytes(4)))
    assert "'w'" in message and "not a safetensors dtype" in message


@pytest.mark.parametrize("shape", [[-1], [1.0], [True], "4", [[2]], None])
def test_bad_shape_is_refused(shape: Any) -> None:
    assert "non-negative integers" in invalid(handmade({"w": tensor("F32", shape, 0, 4)}, bytes(4)))


@pytest.mark.parametrize("offsets", [[4, 0], [0], [0, 4, 8], [-4, 0], "0,4", [0.0, 4.0]])
def test_bad_offsets_are_refused(offsets: Any) -> None:
    header = {"w": {"dtype": "F32", "shape": [1], "data_offsets": offsets}}
    assert "'w'" in invalid(handmade(header, bytes(4)))


def test_missing_fields_are_refused() -> None:
    assert "lacks data_offsets" in invalid(handmade({"w": {"dtype": "F32", "shape": [1]}}, bytes(4)))
    assert "not a JSON object" in invalid(handmade({"w": [1, 2]}, bytes(4)))


def test_metadata_must_map_strings_to_strings() -> None:
    header = {"__metadata__": {"epoch": 3}, "a": tensor("F32", [1], 0, 4)}
    assert "__metadata__" in invalid(handmade(header, bytes(4)))


def test_sub_byte_dtypes_must_fill_whole_bytes() -> None:
    assert check(handmade({"q": tensor("F4", [4], 0, 2)}, bytes(2))).tensors["q"].dtype == "F4"
    assert "whole bytes" in invalid(handmade({"q": tensor("F4", [3], 0, 2)}, bytes(2)))


def test_zero_sized_tensors_are_allowed_anywhere() -> None:
    header = {"empty": tensor("F32", [0, 5], 0, 0), "a": tensor("I8", [4], 0, 4)}
    assert set(check(handmade(header, bytes(4))).tensors) == {"empty", "a"}


# --- robustness ----------------------------------------------------------------------------------


def test_damaged_inputs_are_refused_cleanly_never_with_a_raw_exception() -> None:
    import random

    rng = random.Random(20260101)
    seeds = [
        torch_bytes(state_dict()),
        torch_bytes(state_dict(), legacy=True),
        pickle.dumps({"a": np.arange(4), "b": [1, 2.0, "x"]}, protocol=2),
        pickle.dumps({"a": np.arange(4), "b": {1}}, protocol=5),
    ]
    for _ in range(400):
        damaged = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(damaged))
            if rng.random() < 0.7:
                damaged[at] = rng.randrange(256)
            else:
                del damaged[at : at + rng.randint(1, 16)]
        with contextlib.suppress(UnsafeFileError):  # anything else fails the test
            scan(bytes(damaged))


def test_large_state_dict_scans_quickly() -> None:
    import time

    many = OrderedDict((f"layers.{i}.weight", torch.zeros(1)) for i in range(5000))
    data = torch_bytes(many)
    started = time.perf_counter()
    assert scan(data).format == "torch-zip"
    assert time.perf_counter() - started < 10


class RemoteBlob:
    """Like a blob store's reader: seek, tell and read only (no readline), every read counted."""

    def __init__(self, data: bytes) -> None:
        self.data, self.position, self.reads = data, 0, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = max(0, {0: 0, 1: self.position, 2: len(self.data)}[whence] + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def read(self, count: int = -1) -> bytes:
        self.reads += 1
        end = len(self.data) if count < 0 else self.position + count
        chunk = self.data[self.position : end]
        self.position += len(chunk)
        return chunk


@pytest.mark.parametrize("legacy", [False, True])
def test_readers_without_readline_work_with_few_reads(legacy: bool) -> None:
    data = torch_bytes(state_dict(), legacy=legacy)
    blob = RemoteBlob(data)
    result = scan_file(blob, "model.pt")  # type: ignore[arg-type]
    assert result.format == ("torch-legacy" if legacy else "torch-zip")
    assert blob.reads < 30  # not one read per opcode


def test_protocol_0_pickle_from_a_reader_without_readline_is_refused() -> None:
    blob = RemoteBlob(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(UnsafeFileError, match=r"`os\.system`"):
        scan_file(blob, "evil.pkl")  # type: ignore[arg-type]
