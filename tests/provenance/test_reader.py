"""The streaming safetensors reader (local folders, hub revisions) and the exact-copy helpers."""

from __future__ import annotations

import gc
import hashlib
import json
import math
import re
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import numpy.typing as npt
import pytest
from safetensors.numpy import load_file, save_file

from baton.accounts import service as accounts
from baton.core.errors import (
    BadRequestError,
    EntryNotFoundError,
    GatedRepoError,
    IntegrityError,
    NotFoundError,
    NotSupportedError,
    RepoNotFoundError,
    UnsafeFileError,
)
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.hub.commits import FileEntry
from baton.provenance import reader
from baton.provenance.hashing import bit_identical_fraction, tensor_digests
from baton.provenance.reader import (
    HubCheckpoint,
    LocalCheckpoint,
    SafetensorsCheckpoint,
    open_hub_checkpoint,
    open_source,
)
from baton.provenance.source import ArraySource, TensorSource, array_digest
from baton.storage import LocalBlobStore

# Written independently of the reader's own table, so a wrong mapping there shows up here.
_DTYPE_NAMES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(ml_dtypes.bfloat16): "BF16",
    np.dtype(ml_dtypes.float8_e4m3fn): "F8_E4M3",
    np.dtype(ml_dtypes.float8_e5m2): "F8_E5M2",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint8): "U8",
    np.dtype(bool): "BOOL",
}


def safetensors_bytes(tensors: dict[str, npt.NDArray[Any]]) -> bytes:
    """The safetensors layout written by hand, for dtypes safetensors.numpy cannot write (BF16, FP8)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": _DTYPE_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


def write_safetensors(path: Path, tensors: dict[str, npt.NDArray[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(tensors))
    return path


def write_sharded(folder: Path, shards: list[dict[str, npt.NDArray[Any]]]) -> dict[str, str]:
    """Shards named as transformers names them, plus model.safetensors.index.json."""
    folder.mkdir(parents=True, exist_ok=True)
    weight_map: dict[str, str] = {}
    for number, tensors in enumerate(shards, start=1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(folder / name, tensors)
        weight_map |= dict.fromkeys(tensors, name)
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return weight_map


def random_tensors(seed: int = 0) -> dict[str, npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    return {
        "model.embed_tokens.weight": rng.normal(0, 0.02, (32, 16)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.normal(0, 0.02, (16, 16)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.normal(0, 0.02, (48, 16)).astype(np.float32),
        "model.layers.0.input_layernorm.weight": (1 + rng.normal(0, 0.01, 16)).astype(np.float32),
        "model.layers.1.mlp.up_proj.weight": rng.normal(0, 0.02, (48, 16)).astype(np.float32),
        "model.norm.weight": np.ones(16, np.float32),
        "lm_head.weight": rng.normal(0, 0.02, (32, 16)).astype(np.float32),
    }


TOKENIZER = {
    "version": "1.0",
    "added_tokens": [{"id": 5, "content": "<|end|>", "special": True}],
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "안": 3, "녕": 4}, "merges": ["a b"]},
}
CONFIG = {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 2}


def assert_same_values(source: TensorSource, expected: dict[str, npt.NDArray[Any]]) -> None:
    assert sorted(source.names()) == sorted(expected)
    for name, array in expected.items():
        values = source.read(name)
        assert values.dtype == np.float32
        assert values.shape == array.shape
        np.testing.assert_array_equal(values, np.asarray(array).astype(np.float32))


# --- local checkpoints ---------------------------------------------------------------------------


def test_single_file_with_every_plain_dtype(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors: dict[str, npt.NDArray[Any]] = {
        "f64": rng.normal(size=(3, 5)),
        "f32": rng.normal(size=(2, 3, 4)).astype(np.float32),
        "f16": rng.normal(size=(7,)).astype(np.float16),
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "i8": rng.integers(-128, 127, 10, dtype=np.int8),
        "u8": rng.integers(0, 255, 10, dtype=np.uint8),
        "i16": rng.integers(-1000, 1000, 10, dtype=np.int16),
        "i32": rng.integers(-(10**6), 10**6, 10, dtype=np.int32),
        "i64": rng.integers(-(10**6), 10**6, 10, dtype=np.int64),
        "mask": rng.random(10) > 0.5,
    }
    save_file(tensors, str(tmp_path / "model.safetensors"))
    reference = load_file(str(tmp_path / "model.safetensors"))

    for source in (LocalCheckpoint(tmp_path), LocalCheckpoint(tmp_path / "model.safetensors")):
        assert isinstance(source, TensorSource)
        assert_same_values(source, reference)
        assert source.meta("f16").dtype == "F16"
        assert source.meta("mask").dtype == "BOOL"
        assert source.meta("f32").shape == (2, 3, 4)
        assert source.meta("f64").nbytes == 15 * 8
        assert source.config() == {}
        assert source.vocabulary() is None
    # A stable order: the order of the bytes in the file.
    assert LocalCheckpoint(tmp_path).names() == LocalCheckpoint(tmp_path).names()


def test_bf16_and_fp8_match_their_float32_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, (33, 65)).astype(np.float32)
    tensors = {
        "bf16": base.astype(ml_dtypes.bfloat16),
        "e4m3": (base * 10).astype(ml_dtypes.float8_e4m3fn),
        "e5m2": (base * 10).astype(ml_dtypes.float8_e5m2),
        "special": np.array([np.nan, np.inf, -0.0, 1e-40], np.float32).astype(ml_dtypes.bfloat16),
    }
    write_safetensors(tmp_path / "model.safetensors", tensors)
    source = LocalCheckpoint(tmp_path)
    for name, array in tensors.items():
        expected = array.astype(np.float32)
        values = source.read(name)
        assert values.dtype == np.float32
        # Bit for bit, NaN and negative zero included.
        np.testing.assert_array_equal(values.view(np.uint32), expected.view(np.uint32))
    assert source.meta("e4m3").dtype == "F8_E4M3"
    assert source.meta("bf16").nbytes == 33 * 65 * 2


def block_scaled(
    weight: npt.NDArray[np.float32], block: tuple[int, int], rng: np.random.Generator
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """FP8 codes, their block scale_inv and the dequantized reference, computed block by block."""
    rows, cols = weight.shape
    scale_rows, scale_cols = math.ceil(rows / block[0]), math.ceil(cols / block[1])
    scale_inv = np.empty((scale_rows, scale_cols), np.float32)
    codes = np.empty(weight.shape, ml_dtypes.float8_e4m3fn)
    reference = np.empty(weight.shape, np.float32)
    for i in range(scale_rows):
        for j in range(scale_cols):
            window = (slice(i * block[0], (i + 1) * block[0]), slice(j * block[1], (j + 1) * block[1]))
            # As quantizers do: the block's largest value maps near the format's largest (448).
            scale_inv[i, j] = np.abs(weight[window]).max() / 448 * rng.uniform(1, 1.5)
            codes[window] = (weight[window] / scale_inv[i, j]).astype(ml_dtypes.float8_e4m3fn)
            reference[window] = codes[window].astype(np.float32) * scale_inv[i, j]
    return codes, scale_inv, reference


def test_fp8_block_scales_are_applied(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    uneven = rng.normal(0, 0.5, (300, 200)).astype(np.float32)  # partial blocks at the edges
    even = rng.normal(0, 0.5, (256, 384)).astype(np.float32)
    uneven_codes, uneven_scale, uneven_reference = block_scaled(uneven, (128, 128), rng)
    even_codes, even_scale, _ = block_scaled(even, (128, 128), rng)
    small_codes, small_scale, small_reference = block_scaled(even[:40, :24], (16, 8), rng)
    write_safetensors(
        tmp_path / "model.safetensors",
        {
            "model.layers.0.mlp.up_proj.weight": uneven_codes,
            "model.layers.0.mlp.up_proj.weight_scale_inv": uneven_scale,
            "model.layers.0.mlp.down_proj.weight": even_codes,
            "model.layers.0.mlp.down_proj.weight_scale_inv": even_scale.astype(ml_dtypes.bfloat16),
            "model.layers.0.self_attn.o_proj.weight": small_codes,
            "model.layers.0.self_attn.o_proj.weight_scale_inv": small_scale,
            "model.norm.weight": np.ones(8, ml_dtypes.bfloat16),
        },
    )
    source = LocalCheckpoint(tmp_path)
    assert source.names() == [
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",
        "model.norm.weight",
    ]
    assert source.scale_of("model.layers.0.mlp.up_proj.weight") == "model.layers.0.mlp.up_proj.weight_scale_inv"
    np.testing.assert_allclose(source.read("model.layers.0.mlp.up_proj.weight"), uneven_reference, rtol=1e-6)
    even_expected = even_codes.astype(np.float32) * np.repeat(
        np.repeat(even_scale.astype(ml_dtypes.bfloat16).astype(np.float32), 128, 0), 128, 1
    )
    np.testing.assert_allclose(source.read("model.layers.0.mlp.down_proj.weight"), even_expected, rtol=1e-6)
    np.testing.assert_allclose(source.read("model.layers.0.self_attn.o_proj.weight"), small_reference, rtol=1e-6)
    # The dequantized weight is close to the original, the scale tensors still readable by name.
    assert np.abs(source.read("model.layers.0.mlp.up_proj.weight") - uneven).max() < 0.1
    assert source.meta("model.layers.0.mlp.up_proj.weight_scale_inv").shape == (3, 2)


def test_fp8_block_size_from_config(tmp_path: Path) -> None:
    """96 = 2 blocks of 48 or of 64 (the last one partial): config.json's weight_block_size decides."""
    rng = np.random.default_rng(8)
    codes, scale_inv, reference = block_scaled(rng.normal(0, 0.5, (96, 96)).astype(np.float32), (48, 48), rng)
    write_safetensors(tmp_path / "model.safetensors", {"w.weight": codes, "w.weight_scale_inv": scale_inv})
    guessed = LocalCheckpoint(tmp_path).read("w.weight")  # powers of two are assumed: 64 x 64
    expected_guess = codes.astype(np.float32) * np.repeat(np.repeat(scale_inv, 64, 0), 64, 1)[:96, :96]
    np.testing.assert_allclose(guessed, expected_guess, rtol=1e-6)
    config = {"quantization_config": {"quant_method": "fp8", "weight_block_size": [48, 48]}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    np.testing.assert_allclose(LocalCheckpoint(tmp_path).read("w.weight"), reference, rtol=1e-6)


def test_fp8_per_tensor_per_channel_and_expert_scales(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    weight = rng.normal(0, 1, (24, 40)).astype(ml_dtypes.float8_e4m3fn)
    channel = rng.uniform(0.5, 2, (24, 1)).astype(np.float32)
    experts = rng.normal(0, 1, (3, 20, 12)).astype(ml_dtypes.float8_e5m2)
    expert_scale = rng.uniform(0.5, 2, (3, 3, 2)).astype(np.float32)  # blocks of 8 x 8 (last ones partial)
    write_safetensors(
        tmp_path / "model.safetensors",
        {
            "a.weight": weight,
            "a.weight_scale": np.array(0.25, np.float32),
            "a.input_scale": np.array(3.0, np.float32),
            "b.weight": weight,
            "b.weight_scale": channel,
            "b.weight_scale_vector": channel[:, 0],  # an ordinary tensor, listed
            "c.weight": weight,
            "c.weight_scale": channel[:, 0],
            "experts.weight": experts,
            "experts.weight_scale_inv": expert_scale,
            "self_attn.k_scale": np.array(1.0, np.float32),
        },
    )
    source = LocalCheckpoint(tmp_path)
    assert source.names() == ["a.weight", "b.weight", "b.weight_scale_vector", "c.weight", "experts.weight"]
    codes = weight.astype(np.float32)
    np.testing.assert_array_equal(source.read("a.weight"), codes * np.float32(0.25))
    np.testing.assert_array_equal(source.read("b.weight"), codes * channel)
    np.testing.assert_array_equal(source.read("c.weight"), codes * channel)
    expected = experts.astype(np.float32) * np.repeat(np.repeat(expert_scale, 8, 1)[:, :20], 8, 2)[:, :, :12]
    np.testing.assert_array_equal(source.read("experts.weight"), expected)


def test_fp8_scale_that_does_not_tile_the_weight_is_refused(tmp_path: Path) -> None:
    write_safetensors(
        tmp_path / "model.safetensors",
        {
            "w.weight": np.zeros((10, 10), ml_dtypes.float8_e4m3fn),
            "w.weight_scale_inv": np.ones((4, 4), np.float32),  # blocks of 3 would need 4 x 4 ... of 12
            "v.weight": np.zeros((10, 10), ml_dtypes.float8_e4m3fn),
            "v.weight_scale_inv": np.ones((3, 11), np.float32),
        },
    )
    source = LocalCheckpoint(tmp_path)
    source.read("w.weight")  # ceil(10/3) = 4 blocks: a valid tiling
    with pytest.raises(BadRequestError, match=re.escape("does not tile tensor 'v.weight'")) as error:
        source.read("v.weight")
    assert error.value.code == "InvalidScale"


def test_sharded_checkpoint_with_index_config_and_tokenizer(tmp_path: Path) -> None:
    tensors = random_tensors()
    names = list(tensors)
    shards = [{name: tensors[name] for name in names[:3]}, {name: tensors[name] for name in names[3:]}]
    write_sharded(tmp_path, shards)
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "tokenizer.json").write_text(json.dumps(TOKENIZER, ensure_ascii=False))
    # A stray file that the index does not name is not part of the checkpoint.
    write_safetensors(tmp_path / "consolidated.safetensors", {"stray": np.zeros(3, np.float32)})

    source = LocalCheckpoint(tmp_path)
    assert_same_values(source, tensors)
    assert source.names() == names  # shard by shard, each in file order
    assert source.config() == CONFIG
    assert source.vocabulary() == {"a": 0, "b": 1, "ab": 2, "안": 3, "녕": 4, "<|end|>": 5}
    assert source.label == str(tmp_path)


def test_index_names_only_what_each_shard_contributes(tmp_path: Path) -> None:
    tensors = random_tensors()
    write_sharded(tmp_path, [tensors, {"model.norm.weight": np.full(16, 2.0, np.float32)}])
    index_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    assert index["weight_map"]["model.norm.weight"] == "model-00002-of-00002.safetensors"
    source = LocalCheckpoint(tmp_path)
    np.testing.assert_array_equal(source.read("model.norm.weight"), np.full(16, 2.0, np.float32))
    assert source.names().count("model.norm.weight") == 1


def test_several_files_without_index(tmp_path: Path) -> None:
    tensors = random_tensors()
    names = list(tensors)
    save_file({name: tensors[name] for name in names[:2]}, str(tmp_path / "b.safetensors"))
    save_file({name: tensors[name] for name in names[2:]}, str(tmp_path / "a.safetensors"))
    assert_same_values(LocalCheckpoint(tmp_path), tensors)

    save_file({names[0]: tensors[names[0]]}, str(tmp_path / "c.safetensors"))
    with pytest.raises(BadRequestError, match="is in both") as error:
        LocalCheckpoint(tmp_path)
    assert error.value.code == "DuplicateTensor"


def test_unigram_and_wordpiece_vocabularies(tmp_path: Path) -> None:
    save_file({"x": np.zeros(2, np.float32)}, str(tmp_path / "model.safetensors"))
    unigram = {"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["▁안녕", -3.2], ["s", -5.0]]}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(unigram))
    assert LocalCheckpoint(tmp_path).vocabulary() == {"<unk>": 0, "▁안녕": 1, "s": 2}
    wordpiece = {"model": {"type": "WordPiece", "vocab": {"[CLS]": 0, "##a": 1}}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(wordpiece))
    assert LocalCheckpoint(tmp_path).vocabulary() == {"[CLS]": 0, "##a": 1}
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(BadRequestError, match=re.escape("tokenizer.json is not valid JSON")):
        LocalCheckpoint(tmp_path).vocabulary()


# --- errors --------------------------------------------------------------------------------------


def test_missing_shard_is_named(tmp_path: Path) -> None:
    tensors = random_tensors()
    names = list(tensors)
    write_sharded(tmp_path, [{n: tensors[n] for n in names[:3]}, {n: tensors[n] for n in names[3:]}])
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(EntryNotFoundError, match=r"model-00002-of-00002\.safetensors, which is missing") as error:
        LocalCheckpoint(tmp_path)
    assert error.value.code == "MissingShard"
    assert "4 tensors (e.g. 'lm_head.weight')" in error.value.message


def test_index_naming_a_tensor_its_shard_lacks(tmp_path: Path) -> None:
    write_sharded(tmp_path, [random_tensors()])
    index_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["ghost.weight"] = "model-00001-of-00001.safetensors"
    index_path.write_text(json.dumps(index))
    with pytest.raises(BadRequestError, match=re.escape("'ghost.weight'")) as error:
        LocalCheckpoint(tmp_path)
    assert error.value.code == "InvalidIndex"


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "a/../../b.safetensors", 3])
def test_index_cannot_point_outside_the_checkpoint(tmp_path: Path, shard: object) -> None:
    folder = tmp_path / "model"
    write_sharded(folder, [random_tensors()])
    write_safetensors(tmp_path / "outside.safetensors", random_tensors())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": shard}}))
    with pytest.raises(BadRequestError) as error:
        LocalCheckpoint(folder)
    assert error.value.code == "InvalidIndex"


def test_unknown_tensor_suggests_a_name(tmp_path: Path) -> None:
    save_file(random_tensors(), str(tmp_path / "model.safetensors"))
    source = LocalCheckpoint(tmp_path)
    for method in (source.read, source.meta, source.digest):
        with pytest.raises(NotFoundError, match=re.escape("did you mean 'model.norm.weight'")) as error:
            method("model.norm.weights")
        assert error.value.code == "TensorNotFound"


def test_truncated_and_corrupt_files(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file(random_tensors(), str(path))
    content = path.read_bytes()

    path.write_bytes(content[:-10])
    with pytest.raises(UnsafeFileError, match=re.escape("model.safetensors")) as error:
        LocalCheckpoint(tmp_path)
    assert error.value.code == "InvalidSafetensors"

    for short in (content[:5], b""):
        path.write_bytes(short)
        with pytest.raises(UnsafeFileError, match="8-byte header length"):
            LocalCheckpoint(tmp_path)

    path.write_bytes(struct.pack("<Q", 12) + b"not json!!!!")
    with pytest.raises(UnsafeFileError, match="JSON"):
        LocalCheckpoint(tmp_path)

    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(UnsafeFileError, match="header length"):
        LocalCheckpoint(tmp_path)

    # Truncated after the headers were read: the read says so instead of returning garbage.
    path.write_bytes(content)
    source = LocalCheckpoint(tmp_path)
    last = source.names()[-1]  # names come in file order
    path.write_bytes(content[:-10])
    with pytest.raises(IntegrityError, match="truncated") as integrity:
        source.read(last)
    assert integrity.value.code == "TruncatedFile"
    with pytest.raises(IntegrityError, match="truncated"):
        source.digest(last)


def test_no_weights_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(NotFoundError, match=re.escape("no .safetensors file")) as error:
        LocalCheckpoint(tmp_path)
    assert error.value.code == "NoSafetensors"
    with pytest.raises(NotFoundError, match="does not exist"):
        LocalCheckpoint(tmp_path / "nope")
    with pytest.raises(BadRequestError, match=re.escape("not a .safetensors file")):
        LocalCheckpoint(tmp_path / "config.json")


def test_gptq_awq_tensors_are_refused_by_name(tmp_path: Path) -> None:
    prefix = "model.layers.0.mlp.up_proj"
    write_safetensors(
        tmp_path / "model.safetensors",
        {
            f"{prefix}.qweight": np.zeros((2, 48), np.int32),
            f"{prefix}.qzeros": np.zeros((1, 6), np.int32),
            f"{prefix}.scales": np.ones((1, 48), np.float16),
            f"{prefix}.g_idx": np.zeros(16, np.int32),
            f"{prefix}.bias": np.ones(48, np.float16),
            "model.embed_tokens.weight": np.ones((4, 16), np.float16),
        },
    )
    source = LocalCheckpoint(tmp_path)
    assert f"{prefix}.qweight" in source.names()  # listed, hashed, not decoded
    assert source.meta(f"{prefix}.qweight").dtype == "I32"
    source.digest(f"{prefix}.qweight")
    for leaf in ("qweight", "qzeros", "scales", "g_idx"):
        with pytest.raises(NotSupportedError, match=f"tensor '{prefix}.{leaf}' .*not supported yet") as error:
            source.read(f"{prefix}.{leaf}")
        assert error.value.code == "UnsupportedQuantization"
        assert "BF16" in error.value.message and "F8_E4M3" in error.value.message
    assert set(source.unsupported_tensors()) == {
        f"{prefix}.{leaf}" for leaf in ("qweight", "qzeros", "scales", "g_idx")
    }
    np.testing.assert_array_equal(source.read(f"{prefix}.bias"), np.ones(48, np.float32))
    np.testing.assert_array_equal(source.read("model.embed_tokens.weight"), np.ones((4, 16), np.float32))


@pytest.mark.parametrize(
    ("tensors", "refused", "format_name"),
    [
        (  # bitsandbytes 4-bit
            {
                "l.weight": np.zeros((32, 1), np.uint8),
                "l.weight.absmax": np.ones(1, np.float32),
                "l.weight.quant_map": np.ones(16, np.float32),
                "l.weight.quant_state.bitsandbytes__nf4": np.zeros(8, np.uint8),
            },
            {"l.weight", "l.weight.absmax", "l.weight.quant_map", "l.weight.quant_state.bitsandbytes__nf4"},
            "bitsandbytes 4-bit",
        ),
        (  # bitsandbytes int8
            {"l.weight": np.zeros((4, 4), np.int8), "l.SCB": np.ones(4, np.float32)},
            {"l.weight", "l.SCB"},
            "bitsandbytes int8",
        ),
        (  # compressed-tensors packed int4
            {
                "l.weight_packed": np.zeros((4, 1), np.int32),
                "l.weight_scale": np.ones((4, 1), ml_dtypes.bfloat16),
                "l.weight_shape": np.array([4, 8], np.int64),
            },
            {"l.weight_packed", "l.weight_scale", "l.weight_shape"},
            "packed integers",
        ),
        (  # int8 weights with a scale
            {"l.weight": np.zeros((4, 4), np.int8), "l.weight_scale": np.ones((4, 1), np.float32)},
            {"l.weight", "l.weight_scale"},
            "integer quantization",
        ),
        (  # MXFP4 experts
            {
                "e.gate_up_proj_blocks": np.zeros((2, 4, 16), np.uint8),
                "e.gate_up_proj_scales": np.zeros((2, 4), np.uint8),
            },
            {"e.gate_up_proj_blocks", "e.gate_up_proj_scales"},
            "MXFP4",
        ),
    ],
)
def test_other_quantization_formats_are_refused(
    tmp_path: Path, tensors: dict[str, npt.NDArray[Any]], refused: set[str], format_name: str
) -> None:
    write_safetensors(tmp_path / "model.safetensors", tensors | {"ok": np.arange(3, dtype=np.int8)})
    source = LocalCheckpoint(tmp_path)
    assert set(source.unsupported_tensors()) == refused
    for name in refused:
        with pytest.raises(NotSupportedError, match=f"'{name}' is .*{format_name}.*not supported yet"):
            source.read(name)
    np.testing.assert_array_equal(source.read("ok"), np.arange(3, dtype=np.float32))  # plain integers are fine


def test_unknown_dtype_is_refused_by_name(tmp_path: Path) -> None:
    header = json.dumps({"c": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    with pytest.raises(NotSupportedError, match="'c' is of dtype C64") as error:
        LocalCheckpoint(tmp_path).read("c")
    assert error.value.code == "UnsupportedDtype"


# --- digests -------------------------------------------------------------------------------------


def test_digest_is_array_digest_of_the_stored_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "DIGEST_CHUNK", 100)  # many chunks per tensor
    tensors = random_tensors()
    bf16 = tensors["lm_head.weight"].astype(ml_dtypes.bfloat16)
    stored = tensors | {"copy.of.lm_head.weight": tensors["lm_head.weight"], "head.bf16": bf16}
    write_safetensors(tmp_path / "model.safetensors", stored)
    source = LocalCheckpoint(tmp_path)
    for name, array in stored.items():
        meta = source.meta(name)
        assert source.digest(name) == array_digest(meta.dtype, meta.shape, np.ascontiguousarray(array).tobytes())
    digests = tensor_digests(source)
    for name in source.names():
        values, digest = source.read_with_digest(name)
        assert digest == digests[name]
        np.testing.assert_array_equal(values, source.read(name))
    assert digests["copy.of.lm_head.weight"] == digests["lm_head.weight"]
    assert digests["head.bf16"] != digests["lm_head.weight"]
    assert len(set(digests.values())) == len(digests) - 1
    # The same bytes in another checkpoint, under another name, give the same digest.
    other = tmp_path / "other"
    changed = tensors["lm_head.weight"].copy()
    changed.view(np.uint32)[0, 0] ^= 1  # one bit
    write_safetensors(other / "model.safetensors", {"vision.head": tensors["lm_head.weight"], "changed": changed})
    other_digests = tensor_digests(LocalCheckpoint(other))
    assert other_digests["vision.head"] == digests["lm_head.weight"]
    assert other_digests["changed"] != digests["lm_head.weight"]
    # Without I/O: hashing the same bytes in one piece gives the same answer.
    data = tensors["lm_head.weight"].tobytes()
    assert digests["lm_head.weight"] == hashlib.sha256(b"F32|32,16|" + data).hexdigest()
    assert ArraySource({"x": np.zeros(3, np.float32)}).read("x").dtype == np.float32


# --- hub revisions -------------------------------------------------------------------------------


class RangeOnlyStore(LocalBlobStore):
    """A blob store that serves bytes only by range (as S3 does) and records what was asked."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ranges: list[tuple[int, int | None]] = []

    def local_path(self, sha256: str) -> str | None:
        return None

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.ranges.append((start, end))
        return super().open_range(sha256, start, end)


def store_folder(store: LocalBlobStore, folder: Path) -> list[FileEntry]:
    entries = []
    for path in sorted(folder.iterdir()):
        content = path.read_bytes()
        info = store.put([content])
        entries.append(FileEntry(path.name, info.sha256, info.size, True, ""))
    return entries


def sharded_folder(folder: Path) -> dict[str, npt.NDArray[np.float32]]:
    tensors = random_tensors()
    names = list(tensors)
    write_sharded(folder, [{n: tensors[n] for n in names[:4]}, {n: tensors[n] for n in names[4:]}])
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "tokenizer.json").write_text(json.dumps(TOKENIZER, ensure_ascii=False))
    return tensors


def assert_same_checkpoint(first: SafetensorsCheckpoint, second: SafetensorsCheckpoint) -> None:
    assert first.names() == second.names()
    for name in first.names():
        assert first.meta(name) == second.meta(name)
        np.testing.assert_array_equal(first.read(name), second.read(name))
    assert tensor_digests(first) == tensor_digests(second)
    assert first.config() == second.config()
    assert first.vocabulary() == second.vocabulary()


def test_blob_checkpoint_reads_by_range(tmp_path: Path) -> None:
    sharded_folder(tmp_path / "model")
    store = RangeOnlyStore(tmp_path / "store")
    hub = HubCheckpoint(store, store_folder(store, tmp_path / "model"), "lab/model@main")
    assert hub.label == "lab/model@main"
    header_ranges = list(store.ranges)
    assert all(end is not None and end - start < 4096 for start, end in header_ranges)  # headers only
    assert_same_checkpoint(LocalCheckpoint(tmp_path / "model"), hub)
    largest = max(hub.meta(name).nbytes for name in hub.names())
    tensor_ranges = store.ranges[len(header_ranges) :]
    assert all(end is not None and end - start + 1 <= max(largest, 1 << 20) for start, end in tensor_ranges)


def test_blob_checkpoint_errors(tmp_path: Path) -> None:
    store = RangeOnlyStore(tmp_path / "store")
    empty = store.put([b""])
    with pytest.raises(UnsafeFileError, match="8-byte header length"):
        HubCheckpoint(store, [FileEntry("model.safetensors", empty.sha256, 0, True, "")], "lab/empty@main")
    write_sharded(tmp_path / "model", [random_tensors()])
    entries = [entry for entry in store_folder(store, tmp_path / "model") if entry.path.startswith("model.")]
    with pytest.raises(EntryNotFoundError, match=re.escape("lab/m@main: model.safetensors.index.json maps 7 tensors")):
        HubCheckpoint(store, entries, "lab/m@main")
    # A blob shorter than the tree says: the header check names the file and its size.
    shard = store_folder(store, tmp_path / "model")[0]
    assert shard.path == "model-00001-of-00001.safetensors"
    shorter = FileEntry(shard.path, shard.sha256, shard.size + 100, True, "")
    with pytest.raises(UnsafeFileError, match=re.escape("lab/m@main:model-00001-of-00001.safetensors")):
        HubCheckpoint(store, [shorter], "lab/m@main")


def commit_checkpoint(runtime: Runtime, owner: str, repo_id: str, folder: Path, *, private: bool = False) -> None:
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="weights")


def test_hub_revision_matches_the_local_folder(runtime: Runtime, users: dict[str, str], tmp_path: Path) -> None:
    sharded_folder(tmp_path / "model")
    commit_checkpoint(runtime, "bob", "lab/tiny", tmp_path / "model")

    hub = open_hub_checkpoint(runtime, "carol", "model", "lab/tiny")
    assert hub.label == "lab/tiny@main"
    assert hub.repo_id == "lab/tiny" and hub.commit_oid is not None and len(hub.commit_oid) == 40
    assert_same_checkpoint(LocalCheckpoint(tmp_path / "model"), hub)

    pinned = open_source(f"lab/tiny@{hub.commit_oid}", runtime, None)
    assert isinstance(pinned, HubCheckpoint)
    assert pinned.label == f"lab/tiny@{hub.commit_oid}"
    assert tensor_digests(pinned) == tensor_digests(hub)
    with runtime.database.session() as session:
        carol = accounts.act_as(session, "carol")
    assert open_source("models/lab/tiny@main", runtime, carol).names() == hub.names()


def test_hub_access_control(runtime: Runtime, users: dict[str, str], tmp_path: Path) -> None:
    sharded_folder(tmp_path / "model")
    commit_checkpoint(runtime, "alice", "alice/secret", tmp_path / "model", private=True)
    commit_checkpoint(runtime, "alice", "lab/gated", tmp_path / "model")
    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        repos.update_settings(session, alice, repos.parse_repo_id("model", "lab/gated"), gated="manual")

    assert open_hub_checkpoint(runtime, "alice", "model", "alice/secret").names()
    for user in ("carol", None):
        with pytest.raises(RepoNotFoundError):
            open_hub_checkpoint(runtime, user, "model", "alice/secret")
        with pytest.raises(RepoNotFoundError):
            open_source("alice/secret@main", runtime, user)
        with pytest.raises(GatedRepoError):
            open_hub_checkpoint(runtime, user, "model", "lab/gated")
    assert open_hub_checkpoint(runtime, "bob", "model", "lab/gated").names()  # a member of lab


def test_open_source_picks_a_path_or_a_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_file(random_tensors(), str(tmp_path / "model.safetensors"))
    assert isinstance(open_source(str(tmp_path)), LocalCheckpoint)
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_source("model.safetensors"), LocalCheckpoint)
    with pytest.raises(NotFoundError, match="no hub to look it up"):
        open_source("lab/model@main")


# --- bounded memory ------------------------------------------------------------------------------


def test_memory_stays_bounded_by_the_largest_tensor(tmp_path: Path) -> None:
    """48 layers, ~24 MB of weights: iterating them all peaks near the largest tensor, not the total."""
    rng = np.random.default_rng(5)
    width, hidden, layers = 128, 512, 48
    shards: list[dict[str, npt.NDArray[Any]]] = []
    for first in range(0, layers, 12):
        shard: dict[str, npt.NDArray[Any]] = {}
        for layer in range(first, first + 12):
            prefix = f"model.layers.{layer}."
            shard[prefix + "mlp.up_proj.weight"] = rng.normal(0, 0.02, (hidden, width)).astype(ml_dtypes.bfloat16)
            shard[prefix + "mlp.down_proj.weight"] = rng.normal(0, 0.02, (width, hidden)).astype(np.float32)
            shard[prefix + "self_attn.q_proj.weight"] = rng.normal(0, 0.02, (width, width)).astype(np.float16)
            shard[prefix + "input_layernorm.weight"] = np.ones(width, ml_dtypes.bfloat16)
        shards.append(shard)
    write_sharded(tmp_path / "model", shards)
    total = sum(path.stat().st_size for path in (tmp_path / "model").glob("*.safetensors"))
    largest_float32 = hidden * width * 4
    bound = 3 * largest_float32 + 2 * 1024 * 1024
    assert total > 5 * bound

    store = RangeOnlyStore(tmp_path / "store")
    entries = store_folder(store, tmp_path / "model")
    for open_checkpoint in (lambda: LocalCheckpoint(tmp_path / "model"), lambda: HubCheckpoint(store, entries, "x")):
        gc.collect()
        tracemalloc.start()
        try:
            source = open_checkpoint()
            checksum = 0.0
            for name in source.names():
                checksum += float(source.read(name)[0].sum())
                source.digest(name)
                source.read_with_digest(name)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(source.names()) == 4 * layers
        assert peak < bound, f"peak {peak / 2**20:.1f} MiB over the bound {bound / 2**20:.1f} MiB"


# --- bit-identical values ------------------------------------------------------------------------


def test_bit_identical_fraction_separates_tuned_copies_from_chance() -> None:
    rng = np.random.default_rng(6)
    base = rng.normal(0, 0.02, (256, 256)).astype(np.float32)
    tuned = base + rng.normal(0, 0.0002, base.shape).astype(np.float32)
    independent = rng.normal(0, 0.02, base.shape).astype(np.float32)

    copy = bit_identical_fraction(base.astype(ml_dtypes.bfloat16), tuned.astype(ml_dtypes.bfloat16))
    assert copy.fraction > 0.1 and copy.chance_rate < 0.01 and copy.p_value < 1e-100
    unrelated = bit_identical_fraction(base.astype(ml_dtypes.bfloat16), independent.astype(ml_dtypes.bfloat16))
    assert 0 < unrelated.chance_rate < 0.01
    assert abs(unrelated.fraction - unrelated.chance_rate) < 0.002 and unrelated.p_value > 0.01
    # float32 values read from BF16 give the same answer as the stored BF16 values.
    widened = bit_identical_fraction(
        base.astype(ml_dtypes.bfloat16).astype(np.float32), tuned.astype(ml_dtypes.bfloat16).astype(np.float32)
    )
    assert widened == copy
    mixed = bit_identical_fraction(base.astype(ml_dtypes.bfloat16), tuned.astype(ml_dtypes.bfloat16).astype(np.float32))
    assert mixed == copy
    # At float32 precision chance is ~0: a few identical values are already significant, none are not.
    assert bit_identical_fraction(base, independent).p_value == 1.0
    partly = independent.copy()
    partly.flat[:20] = base.flat[:20]
    assert bit_identical_fraction(base, partly).p_value < 1e-6
    # Fraction, rate and p-value unpack as a tuple.
    fraction, chance, p_value = copy
    assert (fraction, chance, p_value) == (copy.fraction, copy.chance_rate, copy.p_value)


def test_repeated_values_are_not_evidence() -> None:
    ones = np.ones(4096, ml_dtypes.bfloat16)  # norm gains initialized to one, in both models
    result = bit_identical_fraction(ones, ones.copy())
    assert result.fraction == 1.0 and result.chance_rate == 1.0 and result.p_value == 1.0
    empty = bit_identical_fraction(np.zeros(0, np.float32), np.zeros(0, np.float32))
    assert empty == (0.0, 0.0, 1.0)
    with pytest.raises(BadRequestError, match="shapes"):
        bit_identical_fraction(np.zeros(3), np.zeros(4))


def test_large_inputs_are_subsampled_deterministically() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0, 1, 300_000).astype(ml_dtypes.float8_e4m3fn)
    b = rng.normal(0, 1, 300_000).astype(ml_dtypes.float8_e4m3fn)
    first = bit_identical_fraction(a, b, max_values=10_000)
    assert first == bit_identical_fraction(a, b, max_values=10_000)
    assert first != bit_identical_fraction(a, b, max_values=10_000, seed=1)
    full = bit_identical_fraction(a, b)
    assert abs(first.chance_rate - full.chance_rate) < 0.01
    assert full.p_value > 0.001  # independent draws
