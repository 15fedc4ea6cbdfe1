"""What the provenance benchmarks share: Llama-style checkpoints written as sharded safetensors.

A checkpoint is described by its tensor names and shapes (``llama_specs``) and written shard by
shard (``write_checkpoint``) from a function that returns one tensor at a time, so generating a
multi-GiB checkpoint holds one tensor (or, for derivatives, one layer) in memory. Random weights
are drawn from a normal distribution in chunks (``random_tensor``), like initialised weights and
as incompressible as trained ones; nothing is zeros.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import numpy.typing as npt
from _common import MIB

DTYPES: dict[str, np.dtype[Any]] = {"BF16": np.dtype(ml_dtypes.bfloat16), "F32": np.dtype("<f4")}
Spec = tuple[str, tuple[int, ...]]


@dataclass(frozen=True)
class LlamaShape:
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    heads: int
    kv_heads: int

    def specs(self) -> list[Spec]:
        return llama_specs(self)

    def parameters(self) -> int:
        return sum(int(np.prod(shape)) for _, shape in self.specs())


def llama_specs(shape: LlamaShape) -> list[Spec]:
    """Tensor names and shapes of transformers' LlamaForCausalLM (untied head), in its order."""
    h, m = shape.hidden, shape.intermediate
    kv = shape.kv_heads * (h // shape.heads)
    specs: list[Spec] = [("model.embed_tokens.weight", (shape.vocab, h))]
    for i in range(shape.layers):
        prefix = f"model.layers.{i}"
        specs += [
            (f"{prefix}.input_layernorm.weight", (h,)),
            (f"{prefix}.self_attn.q_proj.weight", (h, h)),
            (f"{prefix}.self_attn.k_proj.weight", (kv, h)),
            (f"{prefix}.self_attn.v_proj.weight", (kv, h)),
            (f"{prefix}.self_attn.o_proj.weight", (h, h)),
            (f"{prefix}.post_attention_layernorm.weight", (h,)),
            (f"{prefix}.mlp.gate_proj.weight", (m, h)),
            (f"{prefix}.mlp.up_proj.weight", (m, h)),
            (f"{prefix}.mlp.down_proj.weight", (h, m)),
        ]
    specs += [("model.norm.weight", (h,)), ("lm_head.weight", (shape.vocab, h))]
    return specs


def llama_config(shape: LlamaShape, dtype: str) -> dict[str, Any]:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "vocab_size": shape.vocab,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16" if dtype == "BF16" else "float32",
    }


def random_tensor(name: str, shape: tuple[int, ...], dtype: str, seed: int, chunk: int = 16 * MIB) -> npt.NDArray[Any]:
    """Seeded normal weights (std 0.02; norm gains around 1), filled ``chunk`` values at a time.

    BF16 values are the float32 draws with the low 16 bits cut off (valid, finite bfloat16),
    which keeps generation at memory speed and the temporaries at one chunk.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    count = int(np.prod(shape))
    out = np.empty(count, dtype=DTYPES[dtype])
    gain = len(shape) == 1
    for start in range(0, count, chunk):
        stop = min(count, start + chunk)
        values = rng.standard_normal(stop - start, dtype=np.float32)
        values *= np.float32(0.1 if gain else 0.02)
        if gain:
            values += np.float32(1.0)
        if dtype == "BF16":
            out.view(np.uint16)[start:stop] = (values.view(np.uint32) >> 16).astype(np.uint16)
        else:
            out[start:stop] = values
    return out.reshape(shape)


def _header(specs: list[Spec], dtype: str) -> tuple[bytes, int]:
    """The safetensors header (length prefix included) for ``specs`` in this order, and the data size."""
    itemsize = DTYPES[dtype].itemsize
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in specs:
        size = int(np.prod(shape)) * itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % 8)  # data starts 8-byte aligned, as safetensors writes it
    return len(text).to_bytes(8, "little") + text, offset


def split_shards(specs: list[Spec], dtype: str, shards: int) -> list[list[Spec]]:
    """Consecutive groups of tensors of about equal size (tensors are never split)."""
    itemsize = DTYPES[dtype].itemsize
    total = sum(int(np.prod(shape)) * itemsize for _, shape in specs)
    target = total / shards
    groups: list[list[Spec]] = [[]]
    filled = 0
    for spec in specs:
        size = int(np.prod(spec[1])) * itemsize
        if groups[-1] and filled + size / 2 > target * len(groups) and len(groups) < shards:
            groups.append([])
        groups[-1].append(spec)
        filled += size
    return groups


def write_checkpoint(
    folder: Path,
    specs: list[Spec],
    dtype: str,
    tensor: Callable[[str, tuple[int, ...]], npt.NDArray[Any]],
    *,
    shards: int,
    config: dict[str, Any] | None = None,
) -> int:
    """Write ``model-0000i-of-0000n.safetensors`` and ``model.safetensors.index.json``; total bytes.

    ``tensor(name, shape)`` is called once per tensor, in ``specs`` order, and must return an
    array of ``dtype``'s numpy type; it is written and dropped before the next one is asked for.
    """
    folder.mkdir(parents=True, exist_ok=True)
    groups = split_shards(specs, dtype, shards)
    weight_map: dict[str, str] = {}
    written = 0
    for number, group in enumerate(groups, start=1):
        file_name = f"model-{number:05d}-of-{len(groups):05d}.safetensors"
        header, data_size = _header(group, dtype)
        with (folder / file_name).open("wb") as handle:
            handle.write(header)
            for name, shape in group:
                array = np.ascontiguousarray(tensor(name, shape))
                if array.dtype != DTYPES[dtype] or array.shape != tuple(shape):
                    raise ValueError(f"{name}: got {array.dtype} {array.shape}, expected {dtype} {shape}")
                handle.write(memoryview(array.reshape(-1).view(np.uint8)))
                weight_map[name] = file_name
                del array
        written += len(header) + data_size
    total_size = sum(int(np.prod(shape)) * DTYPES[dtype].itemsize for _, shape in specs)
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return written


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


# -- the page cache ---------------------------------------------------------------------------------

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> bool:
    """``sync; echo 3 > /proc/sys/vm/drop_caches``; False when the kernel refuses (not root, a container)."""
    os.sync()
    try:
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def page_cache_droppable() -> bool:
    return os.access(DROP_CACHES, os.W_OK) and drop_page_cache()


def cat_to_null(paths: list[Path]) -> None:
    """The peer: ``cat shards > /dev/null`` (coreutils, one process, sequential)."""
    subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
