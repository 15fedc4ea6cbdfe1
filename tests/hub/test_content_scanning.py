"""Files are judged by their bytes, not their names (issue 12, item 6).

Pickles hidden under any name, inside compression, in numpy object arrays or zip archives are
found and checked; files that hold no pickle are accepted whatever their name, and the scan
result names what they are. Every input is built here, byte by byte where it matters.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import random
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import joblib
import numpy as np
import pytest
import torch

from baton.core.errors import UnsafeFileError
from baton.hub import scanning
from baton.hub.scanning import ScanResult, scan_file

from .hub_support import headers_with_repo


class RunsShell:
    """Unpickling this would run a shell command."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, ("echo pwned",))


def scan(data: bytes, path: str = "model.bin") -> ScanResult:
    return scan_file(io.BytesIO(data), path, len(data))


def refusal(data: bytes, path: str = "model.bin") -> UnsafeFileError:
    with pytest.raises(UnsafeFileError) as caught:
        scan(data, path)
    assert path in caught.value.message
    assert caught.value.hint
    assert caught.value.status_code == 400
    return caught.value


def evil(protocol: int) -> bytes:
    return pickle.dumps({"weight": [1.0, 2.0], "payload": RunsShell()}, protocol=protocol)


def torch_zip(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def npy(array: np.ndarray[Any, Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


# --- pickles under any name ------------------------------------------------------------------------

DISGUISES = [
    "model.pth.tar",
    "checkpoint.pt.zip",
    "model.sav",
    "model.dat",
    "model.pkl.gz",
    "model.pk",
    "model.bin ",
    "model.bin.",
    "model.bin\u200b",
    "README.md",
    "weights",
]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("path", DISGUISES)
def test_malicious_pickle_is_refused_under_any_name(path: str, protocol: int) -> None:
    message = refusal(evil(protocol), path).message
    assert "system" in message  # posix.system or os.system, named as the import refused


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_pickle_is_found_and_accepted_at_every_protocol(protocol: int) -> None:
    result = scan(pickle.dumps({"weights": [1.5, -2.0], "name": "w"}, protocol=protocol), "model.dat")
    assert result.format == "pickle"
    assert result.description == "Python pickle"


@pytest.mark.parametrize("path", DISGUISES)
def test_torch_checkpoint_is_found_under_any_name(path: str) -> None:
    assert scan(torch_zip({"w": torch.ones(2)}), path).format == "torch-zip"
    archive = torch_zip({"w": torch.ones(2), "payload": RunsShell()})
    assert "system" in refusal(archive, path).message


def test_a_call_before_garbage_is_refused_without_a_stop() -> None:
    # Unpicklers execute opcodes as they read them: os.system runs before the garbage is reached.
    message = refusal(b"cos\nsystem\n(S'echo pwned'\ntR" + b"\xff" * 20).message
    assert "`os.system`" in message


def test_changing_an_imported_object_is_refused_without_any_call() -> None:
    # APPEND to sys.path and SETITEM on os.environ change the loading process without a call.
    sys_path = b"csys\npath\nS'/tmp/evil'\na."
    environ = b"cos\nenviron\nS'LD_PRELOAD'\nS'/tmp/evil.so'\ns."
    assert "APPEND to change an imported global" in refusal(sys_path).message
    assert "SETITEM to change an imported global" in refusal(environ).message


def test_bytes_that_stop_parsing_before_anything_runs_are_not_a_pickle() -> None:
    # An import alone, then bytes no unpickler accepts: loading fails before any call.
    result = scan(b"cos\nsystem\n" + b"\xff" * 20)
    assert (result.format, result.globals_found) == ("unknown", [])
    # Text that starts like an opcode or two is text.
    assert scan(b"cat\ndog\neel\n", "vocab.txt").format == "text"
    assert scan(b"images/0001.jpg\x00\x00\nb\n", "list.txt").format == "unknown"


def test_a_pickle_followed_by_text_is_a_pickle() -> None:
    result = scan(b"N. Benign text after a None: the pickle ends at its STOP.\n", "notes.txt")
    assert result.format == "pickle"


def test_long_data_is_skipped_not_read() -> None:
    data = pickle.dumps({"blob": b"x" * 20_000_000}, protocol=5)
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            reads.append(len(chunk))
            return chunk

    assert scan_file(Counting(data), "blob.pkl", len(data)).format == "pickle"
    assert sum(reads) < 1_000_000


# --- compression ---------------------------------------------------------------------------------

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
}


@pytest.mark.parametrize("kind", COMPRESSORS)
def test_compressed_pickles_are_opened(kind: str) -> None:
    compress = COMPRESSORS[kind]
    assert "system" in refusal(compress(evil(2)), "model.pkl.gz").message
    result = scan(compress(pickle.dumps([1, 2, 3], protocol=0)), "data.bin")
    assert (result.format, result.compression) == ("pickle", (kind,))
    assert result.description.startswith("Python pickle, compressed with ")


@pytest.mark.parametrize("compress", [0, "zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib_files_are_pickles(compress: int | str) -> None:
    def dump(value: Any) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(value, buffer, compress=compress)
        return buffer.getvalue()

    result = scan(dump({"coefficients": [0.5, 1.5], "name": "model"}), "model.joblib")
    assert result.format == "pickle"
    assert result.compression == (() if compress == 0 else (compress,))
    assert "system" in refusal(dump(RunsShell()), "model.sav").message
    # joblib writes numpy arrays through its own class, which is not among the allowed globals.
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in refusal(dump(np.arange(3)), "model.sav").message


def test_joblib_pre_0_10_zlib_files_are_opened() -> None:
    data = zlib.compress(evil(2))
    legacy = b"ZF" + hex(len(evil(2))).encode().ljust(19) + data
    assert "system" in refusal(legacy).message


def test_concatenated_gzip_members_are_all_read() -> None:
    assert "system" in refusal(gzip.compress(pickle.dumps(1, protocol=2)) + gzip.compress(evil(2))).message


def test_nested_compression_is_opened_up_to_a_limit() -> None:
    assert "system" in refusal(gzip.compress(bz2.compress(evil(2)))).message
    too_deep = gzip.compress(gzip.compress(gzip.compress(gzip.compress(evil(2)))))
    assert "at most 3 layers" in refusal(too_deep).message


def test_decompressed_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanning, "MAX_DECOMPRESSED_BYTES", 100_000)
    bomb = gzip.compress(b"(" + b"N" * 1_000_000)  # a pickle that never ends
    assert "decompresses (gzip) to more than 100000 bytes" in refusal(bomb).message
    # Text needs only its first bytes to be named, however long it is.
    assert scan(gzip.compress(b"hello world\n" * 100_000), "log.txt.gz").format == "text"


def test_lz4_is_refused_and_zstd_is_named() -> None:
    assert "LZ4" in refusal(b"\x04\x22\x4d\x18" + bytes(40), "model.joblib").message
    assert scan(b"\x28\xb5\x2f\xfd" + bytes(40), "data.zst").description == (
        "unknown binary (Zstandard-compressed, not examined)"
    )


def test_damaged_compression_ends_the_stream_where_it_breaks() -> None:
    data = gzip.compress(evil(2))
    assert "system" in refusal(data[:-12] + b"\x00" * 12).message  # bad checksum: read anyway
    assert scan(b"\x1f\x8b" + bytes(30), "broken.gz").format == "unknown"  # never decompresses


# --- numpy ---------------------------------------------------------------------------------------


def test_numpy_object_arrays_are_pickles() -> None:
    assert "system" in refusal(npy(np.array([RunsShell()], dtype=object)), "array.npy").message
    result = scan(npy(np.array([1, "x", None], dtype=object)), "array.npy")
    assert (result.format, result.detail) == ("numpy-object", "dtype object")
    structured = np.zeros(2, dtype=[("a", "<f4"), ("b", [("c", "O")])])
    structured["b"]["c"][0] = RunsShell()
    assert "system" in refusal(npy(structured), "table.npy").message


def test_numpy_arrays_without_objects_are_accepted() -> None:
    result = scan(npy(np.arange(12, dtype=np.float32).reshape(3, 4)), "model.bin")
    assert (result.format, result.description) == ("numpy", "NumPy array (.npy) (dtype float32)")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_archives_are_opened(save: Callable[..., None]) -> None:
    def archive(**arrays: Any) -> bytes:
        buffer = io.BytesIO()
        save(buffer, **arrays)
        return buffer.getvalue()

    assert scan(archive(a=np.zeros(3), b=np.ones(2)), "arrays.npz").format == "npz"
    assert "system" in refusal(archive(a=np.zeros(3), b=np.array([RunsShell()], dtype=object))).message


def test_npy_member_is_found_by_its_bytes_not_its_name() -> None:
    # numpy.load(...)["x"] reads member "x" as an array when it starts like one.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x", npy(np.array([RunsShell()], dtype=object)))
    assert "zip member 'x'" in refusal(buffer.getvalue(), "data.zip").message


def test_npy_headers_that_cannot_be_read_are_refused() -> None:
    huge = b"\x93NUMPY\x02\x00" + struct.pack("<I", 50_000_000) + b"{"
    assert "header of 50000000 bytes" in refusal(huge, "a.npy").message
    broken = b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'descr': [()], }   "
    assert "cannot read" in refusal(broken, "a.npy").message
    python2 = b"{'descr': '|O', 'fortran_order': False, 'shape': (1L,), }"
    old = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(python2)) + python2 + pickle.dumps([RunsShell()], protocol=2)
    assert "system" in refusal(old, "old.npy").message


def test_compressed_npy_is_opened() -> None:
    assert "system" in refusal(gzip.compress(npy(np.array([RunsShell()], dtype=object))), "a.npy.gz").message


# --- archives ------------------------------------------------------------------------------------


def tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_plain_tar_is_data_and_torch_legacy_tar_is_refused() -> None:
    assert scan(tar_with({"images/0001.jpg": b"\xff\xd8\xff" + bytes(100)}), "images.tar").format == "tar"
    legacy = tar_with({"sys_info": pickle.dumps({}, protocol=2), "pickle": pickle.dumps({}, protocol=2)})
    assert "torch's format from before version 1.0" in refusal(legacy, "model.pth.tar").message


def test_plain_zip_is_data() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", "hello")
        archive.writestr("b.bin", bytes(range(256)))
    result = scan(buffer.getvalue(), "files.zip")
    assert (result.format, result.detail) == ("zip", "2 members")


# --- files that hold no pickle -------------------------------------------------------------------


def ctranslate2_header() -> bytes:
    """The start of a CTranslate2 model.bin: binary version, spec name, revision, variable count."""
    name = b"TransformerDecoderModelSpec"
    variable = b"decoder/embeddings/weight"
    return (
        struct.pack("<IH", 6, len(name) + 1) + name + b"\0" + struct.pack("<II", 1, 1)
        + struct.pack("<H", len(variable) + 1) + variable + b"\0"
        + struct.pack("<BII", 2, 4, 4) + struct.pack("<BI", 0, 64) + bytes(64)
    )  # fmt: skip


GGML = "legacy GGML (llama.cpp before GGUF)"
NOT_PICKLES: list[tuple[bytes, str, str]] = [
    (ctranslate2_header(), "ctranslate2", "CTranslate2 model (TransformerDecoderModelSpec, binary version 6)"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 0), "gguf", "GGUF (version 3)"),
    (b"lmgg" + struct.pack("<7i", 32000, 4096, 256, 32, 32, 128, 2), "ggml", f"{GGML} (ggml)"),
    (b"tjgg" + struct.pack("<I", 3) + bytes(64), "ggml", f"{GGML} (ggjt)"),
    (b"MMIDIDX\x00\x00" + struct.pack("<QB", 1, 8) + bytes(32), "megatron-index", "Megatron indexed dataset index"),
    (b"\x08\x07\x12\x07pytorch\x1a\x032.1:\x00", "onnx", "ONNX model"),
    (np.arange(1000, dtype=np.uint16).tobytes(), "unknown", "unknown binary"),  # Megatron token data
]


@pytest.mark.parametrize(("data", "found", "description"), NOT_PICKLES)
def test_a_bin_that_is_no_pickle_is_accepted_and_named(data: bytes, found: str, description: str) -> None:
    result = scan(data, "model.bin")
    assert (result.format, result.description, result.globals_found) == (found, description, [])


def test_random_bytes_are_accepted() -> None:
    generator = random.Random(12)
    for _ in range(200):
        data = generator.randbytes(generator.randint(1, 4000))
        assert scan(data).format in ("unknown", "text", "pickle")


@pytest.mark.parametrize("first", [b"\x80\x02", b"\x80\x05", b"\x82", b"\x83", b"\x84"])
def test_bytes_that_only_open_like_a_pickle_are_accepted(first: bytes) -> None:
    # Found by the crash tests' random files: a PROTO header or an extension opcode (EXT1..4) first,
    # then bytes no unpickler gets through before anything runs. Loading fails; nothing is unsafe.
    generator = random.Random(first[-1])
    for _ in range(50):
        data = first + generator.randbytes(48) + b"."
        assert scan(data, "shard/0001.txt").format in ("unknown", "text", "pickle")


def test_safetensors_is_found_by_content_and_checked() -> None:
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    good = struct.pack("<Q", len(header)) + header + bytes(4)
    assert scan(good, "model.bin").format == "safetensors"
    with pytest.raises(UnsafeFileError) as caught:
        scan(good + b"extra", "model.bin")
    assert caught.value.code == "InvalidSafetensors"


def test_safetensors_whose_length_starts_like_a_pickle_header_is_accepted() -> None:
    # A header of 640 bytes is written 80 02 00 ...: PROTO 2, then bytes no pickle has.
    body = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    header = body + b" " * (640 - len(body))
    data = struct.pack("<Q", 640) + header + bytes(4)
    assert data[:2] == b"\x80\x02"
    assert scan(data, "adapter.bin").format == "safetensors"
    assert scan(data, "adapter.safetensors").format == "safetensors"


def test_a_header_with_nothing_after_it_is_said_to_be_damaged() -> None:
    # Under a checkpoint's name it is refused, to tell the uploader early that it cannot load;
    # under another name it is accepted (loading stops at the damage before anything runs).
    damaged = b"\x80\x04\x95" + bytes(3)
    assert "malformed or truncated" in refusal(damaged, "model.bin").message
    result = scan(damaged, "shard/0061.txt")
    assert result.format == "unknown"
    assert "opens like a pickle" in result.description and "malformed or truncated" in result.description


def test_a_damaged_pickle_that_imports_a_refused_global_first_is_refused() -> None:
    damaged = pickle.dumps(os.system, protocol=4)[:-1]  # STOP cut off: the import comes before the damage
    assert ".system`" in refusal(damaged, "notes.dat").message


def test_damage_after_a_pickle_does_not_hide_it() -> None:
    # A loader reading a few bytes at a time gets the pickle before it reaches the damage; the
    # scan must see the same bytes, though a decompressor drops the output of a failing call.
    # (1.2 MB of noise: bzip2 blocks hold 900 kB, and damage spoils its whole block.)
    noise = random.Random(1).randbytes(1_200_000)
    for compress in (gzip.compress, bz2.compress, lzma.compress, zlib.compress):
        data = bytearray(compress(evil(2) + noise))
        data[-1000:-936] = bytes(64)
        assert "system" in refusal(bytes(data)).message, compress


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, zlib.compress])
def test_damage_right_after_a_pickle_does_not_hide_it(compress: Callable[[bytes], bytes]) -> None:
    # The damage is inside the first call's worth of data: the scan reads again byte by byte.
    data = bytearray(compress(evil(2) + random.Random(2).randbytes(3000)))
    data[1500:1600] = bytes(100)
    assert "system" in refusal(bytes(data)).message


# --- through the commit route --------------------------------------------------------------------


def commit(client: Any, headers: dict[str, str], files: dict[str, bytes]) -> Any:
    import base64
    import json

    lines = [{"key": "header", "value": {"summary": "weights"}}] + [
        {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}
        for path, data in files.items()
    ]
    return client.post(
        "/api/models/bob/content/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers=headers | {"Content-Type": "application/x-ndjson"},
    )


def test_commits_are_judged_by_content_and_say_what_they_found(client: Any, users: Any) -> None:
    bob = headers_with_repo(client, users, "bob", "content")
    accepted = commit(client, bob, {"ct2/model.bin": ctranslate2_header(), "README.md": b"# weights\n"})
    assert accepted.status_code == 200, accepted.text
    scans = {scan["path"]: scan for scan in accepted.json()["scans"]}
    assert scans["ct2/model.bin"]["format"] == "ctranslate2"
    assert scans["ct2/model.bin"]["description"].startswith("CTranslate2 model (TransformerDecoderModelSpec")
    assert scans["README.md"]["format"] == "text"
    refused = commit(client, bob, {"model.pkl.gz": gzip.compress(evil(0))})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "UnsafeFile"
    assert "model.pkl.gz" in refused.json()["message"] and "system" in refused.json()["message"]


def test_a_long_line_where_a_pickle_needs_a_short_one_ends_the_pickle() -> None:
    # 'P' (a persistent id) then no newline for 300 kB: every unpickler fails on such a line,
    # so the file is not read to its end (nor refused for being long).
    result = scan(b"PAR1" + bytes(300_000), "data.parquet")
    assert result.format == "unknown"
    # STRING and UNICODE lines hold data and are read whole: what follows them is checked.
    assert "system" in refusal(b"V" + b"x" * 100_000 + b"\ncos\nsystem\n(S'x'\ntR.").message


def test_a_refused_global_passed_to_an_allowed_one_is_refused_without_a_stop() -> None:
    # torch._tensor._rebuild_from_type_v2(func, type, args, state) calls func(*args): os.system
    # handed to it runs although only the allowed global is called, before the garbage.
    data = (
        b"ctorch._tensor\n_rebuild_from_type_v2\n"
        + b"(cos\nsystem\nN(S'echo pwned'\ntNtR"  # MARK, os.system, None, ("echo pwned",), None, TUPLE, REDUCE
        + b"\xff" * 8
    )
    assert "`os.system`" in refusal(data).message
