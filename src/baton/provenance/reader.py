"""Streaming safetensors readers: a checkpoint's tensors, one at a time, from a folder or a hub revision.

Only headers are read up front (the 8-byte length and the JSON, checked by
``baton.hub.scanning.validate_safetensors_header``); each tensor is then read by its byte range when
asked. Nothing keeps a tensor after returning it, so memory stays within a small multiple of the
largest tensor in float32 (its stored bytes, plus the float32 result) whatever the number of layers.

Layouts (the same for a folder and for a hub revision):

- ``model.safetensors``;
- shards listed by ``model.safetensors.index.json`` (its ``weight_map`` says which shard holds which
  tensor; any other single ``*.safetensors.index.json`` is accepted too);
- several ``*.safetensors`` files and no index (read in name order);
- for ``LocalCheckpoint``, also a path to one ``.safetensors`` file.

``config.json`` and ``tokenizer.json`` beside the weights are read when present.

Dtypes: F64, F32, F16, BF16, F8_E4M3, F8_E5M2 and F8_E8M0 become float32, as do the integer types
and BOOL. FP8 weights are dequantized with their companion scale: ``<name>_scale_inv`` (DeepSeek-V3
block scales; the block size from config.json's ``weight_block_size``, else inferred from the
shapes) or ``<prefix>.weight_scale`` (per tensor or per channel), both multiplied in. torchao's
weight-only tensors (``<prefix>._weight_qdata``, ``_weight_scale``, ``_weight_zero_point`` with their
type and block size in the header metadata: ``Int8Tensor``, ``IntxUnpackedToInt8Tensor``) are
presented as one float32 ``<prefix>.weight``. ONNX graphs are read by ``onnx_reader``. Formats that
pack several values per element or need zero points (GPTQ, AWQ, bitsandbytes, packed int4, MXFP4)
are refused when such a tensor is read, with a ``NotSupportedError`` (code
``UnsupportedQuantization``) naming the tensor; their names, metadata and digests stay available,
so the exact-copy index still covers the rest of such a checkpoint.
"""

from __future__ import annotations

import abc
import contextlib
import difflib
import hashlib
import io
import math
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import ml_dtypes
import numpy as np
import numpy.typing as npt

from baton.core import boundedjson
from baton.core.errors import (
    BadRequestError,
    EntryNotFoundError,
    IntegrityError,
    NotFoundError,
    NotSupportedError,
    StorageError,
)
from baton.hub import scanning
from baton.hub.commits import FileEntry
from baton.provenance.source import FloatArray, TensorMeta, TensorSource
from baton.storage import BlobStore

if TYPE_CHECKING:
    from baton.accounts.actor import Actor
    from baton.core.runtime import Runtime
    from baton.provenance.onnx_reader import OnnxCheckpoint

    # What the openers return: safetensors, or an ONNX graph (``onnx_reader``).
    Checkpoint: TypeAlias = "SafetensorsCheckpoint | OnnxCheckpoint"

__all__ = [
    "SUPPORTED_DTYPES",
    "HubCheckpoint",
    "LocalCheckpoint",
    "SafetensorsCheckpoint",
    "hub_checkpoint",
    "open_hub_checkpoint",
    "open_local",
    "open_source",
    "safetensors_dtype_name",
    "tokenizer_vocabulary",
]

INDEX_FILE: Final = "model.safetensors.index.json"
SINGLE_FILE: Final = "model.safetensors"
INDEX_SUFFIX: Final = ".safetensors.index.json"
CONFIG_FILE: Final = "config.json"
TOKENIZER_FILE: Final = "tokenizer.json"

# Upper bounds on the JSON files read whole (module attributes, so a test or an operator can
# lower them). Index files of the largest MoE checkpoints are a few MB; tokenizers tens of MB.
MAX_INDEX_BYTES = 256 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_TOKENIZER_BYTES = 256 * 1024 * 1024

# Bytes hashed at once by ``digest``: the tensor is never held whole for hashing.
DIGEST_CHUNK = 1024 * 1024

# Little-endian numpy dtypes of the safetensors dtypes that map directly.
_NUMPY_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),  # one byte, 0 or 1
}
# 8-bit floats are decoded through a 256-entry table: exact, and faster than a cast.
_FP8_DTYPES: Final[dict[str, Any]] = {
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu,
}
_FP8_TABLES: Final[dict[str, npt.NDArray[np.float32]]] = {
    name: np.arange(256, dtype=np.uint8).view(dtype).astype(np.float32) for name, dtype in _FP8_DTYPES.items()
}
SUPPORTED_DTYPES: Final = tuple(_NUMPY_DTYPES) + tuple(_FP8_DTYPES)
_SCALED_DTYPES: Final = frozenset({"F8_E4M3", "F8_E5M2"})
_SUPPORTED_TEXT: Final = (
    "supported are F64, F32, F16, BF16, F8_E4M3 and F8_E5M2 (plain, with a per-tensor or per-channel "
    "`weight_scale`, or with block scales `<name>_scale_inv`) and plain integer tensors"
)
_QUANTIZATION_HINT: Final = (
    "Compare the unquantized checkpoint (or a BF16/F16 dequantized copy of this one) instead; the "
    "names, shapes and digests of these tensors are still available."
)

# Scale tensors of FP8 checkpoints that belong to activations or the KV cache, not to a weight:
# hidden from names() when the checkpoint holds FP8 weights.
_ACTIVATION_SCALES: Final = frozenset(
    {"input_scale", "input_scale_inv", "output_scale", "k_scale", "v_scale", "q_scale", "prob_scale"}
)
_GPTQ_AWQ: Final = frozenset({"qweight", "qzeros", "g_idx"})
_BITSANDBYTES: Final = frozenset({"absmax", "quant_map", "nested_absmax", "nested_quant_map", "SCB", "weight_format"})
_PACKED_INT: Final = frozenset({"weight_packed", "weight_zero_point", "weight_g_idx", "weight_shape"})


def safetensors_dtype_name(dtype: npt.DTypeLike) -> str:
    """The safetensors name of a numpy dtype (``float32`` -> ``F32``, ``bfloat16`` -> ``BF16``)."""
    wanted = np.dtype(dtype)
    if wanted == np.dtype(bool):
        return "BOOL"
    for name, known in _NUMPY_DTYPES.items():
        if name != "BOOL" and known == wanted.newbyteorder("<"):
            return name
    for name, fp8 in _FP8_DTYPES.items():
        if np.dtype(fp8) == wanted:
            return name
    raise NotSupportedError(
        f"numpy dtype {wanted} has no safetensors name here", code="UnsupportedDtype", hint=_SUPPORTED_TEXT
    )


# --- where the bytes come from -------------------------------------------------------------------


class _Files(abc.ABC):
    """Read access to the files of one checkpoint, by path relative to its root."""

    @abc.abstractmethod
    def paths(self) -> list[str]:
        """Every file path, '/'-separated, relative to the root."""

    @abc.abstractmethod
    def size(self, path: str) -> int: ...

    @abc.abstractmethod
    def chunks(self, path: str, start: int, stop: int) -> Iterator[bytes]:
        """The bytes ``[start, stop)``, in chunks; fewer when the file is shorter."""

    @abc.abstractmethod
    def describe(self, path: str) -> str:
        """How to name the file in a message."""

    def exists(self, path: str) -> bool:
        return path in set(self.paths())

    def read_into(self, path: str, start: int, buffer: memoryview) -> int:
        """Fill ``buffer`` from offset ``start``; the number of bytes read (short at end of file)."""
        filled = 0
        for chunk in self.chunks(path, start, start + len(buffer)):
            buffer[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        return filled

    def read_small(self, path: str, limit: int) -> bytes:
        size = self.size(path)
        if size > limit:
            raise BadRequestError(
                f"{self.describe(path)} is {size} bytes, more than the {limit} this reader accepts",
                code="FileTooLarge",
                hint="Check that the file is what its name says.",
            )
        return b"".join(self.chunks(path, 0, size)) if size else b""


@contextlib.contextmanager
def _os_errors(path: Path) -> Iterator[None]:
    """A file that vanished or cannot be read, said plainly instead of as an OSError."""
    try:
        yield
    except FileNotFoundError as error:
        raise EntryNotFoundError(
            f"{path} disappeared while the checkpoint was being read",
            code="FileMissing",
            hint="Keep the checkpoint in place until the comparison ends, then run it again.",
        ) from error
    except OSError as error:
        raise StorageError(
            f"cannot read {path}: {error.strerror or error}", hint="Check the file's permissions and the disk."
        ) from error


class _LocalFiles(_Files):
    def __init__(self, root: Path, paths: list[str]) -> None:
        self.root = root
        self._paths = paths

    def paths(self) -> list[str]:
        return list(self._paths)

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def size(self, path: str) -> int:
        with _os_errors(self.root / path):
            return (self.root / path).stat().st_size

    def _open(self, path: str) -> io.FileIO:
        with _os_errors(self.root / path):
            return io.FileIO(self.root / path, "rb")

    def describe(self, path: str) -> str:
        return str(self.root / path)

    def chunks(self, path: str, start: int, stop: int) -> Iterator[bytes]:
        with self._open(path) as handle:
            handle.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = handle.read(min(DIGEST_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    def read_into(self, path: str, start: int, buffer: memoryview) -> int:
        with self._open(path) as handle:
            handle.seek(start)
            filled = 0
            while filled < len(buffer):
                count = handle.readinto(buffer[filled:])
                if not count:
                    break
                filled += count
            return filled


class _BlobFiles(_Files):
    """Files of a hub revision, read from the blob store by byte range."""

    def __init__(self, store: BlobStore, entries: Mapping[str, FileEntry], label: str) -> None:
        self.store = store
        self.entries = dict(entries)
        self.label = label

    def paths(self) -> list[str]:
        return sorted(self.entries)

    def exists(self, path: str) -> bool:
        return path in self.entries

    def size(self, path: str) -> int:
        return self.entries[path].size

    def describe(self, path: str) -> str:
        return f"{self.label}:{path}"

    def chunks(self, path: str, start: int, stop: int) -> Iterator[bytes]:
        if stop <= start:
            return iter(())
        sha256 = self.entries[path].sha256
        local = self.store.local_path(sha256)
        if local is not None:  # the local blob store: plain file reads, no extra copies
            return _LocalFiles(Path(local).parent, [Path(local).name]).chunks(Path(local).name, start, stop)
        return self.store.open_range(sha256, start, stop - 1)

    def read_into(self, path: str, start: int, buffer: memoryview) -> int:
        local = self.store.local_path(self.entries[path].sha256)
        if local is not None and len(buffer):
            return _LocalFiles(Path(local).parent, [Path(local).name]).read_into(Path(local).name, start, buffer)
        return super().read_into(path, start, buffer)


# --- the reader ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Location:
    path: str  # the shard holding the tensor
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the file
    stop: int


def _check_relative(path: object, where: str) -> str:
    """A shard name from an index: relative, '/'-separated, never leaving the checkpoint."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path:
        raise BadRequestError(f"{where}: {path!r} is not a file name", code="InvalidIndex")
    parts = PurePosixPath(path).parts
    if path.startswith("/") or any(part in ("..", ".") for part in parts):
        raise BadRequestError(
            f"{where}: shard {path!r} points outside the checkpoint",
            code="InvalidIndex",
            hint="Shard names in weight_map are file names beside the index.",
        )
    return path


def _parse_json(data: bytes, where: str, code: str) -> Any:
    try:
        return boundedjson.loads(data)
    except boundedjson.JsonTooDeepError as error:
        raise BadRequestError(
            f"{where} cannot be read: its {error}",
            code=code,
            hint="Write the file again with the library that made it (save_pretrained); such files nest a few levels.",
        ) from error
    except ValueError as error:  # not UTF-8, or not JSON
        raise BadRequestError(f"{where} is not valid JSON ({error})", code=code) from error


class SafetensorsCheckpoint:
    """A ``TensorSource`` over safetensors files; see ``LocalCheckpoint`` and ``HubCheckpoint``."""

    def __init__(self, files: _Files, label: str) -> None:
        self._files = files
        self._label = label
        self._locations: dict[str, _Location] = {}
        self._config: dict[str, object] | None = None
        self._vocabulary_loaded = False
        self._vocabulary: dict[str, int] | None = None
        self._weight_block_size: tuple[int, ...] | None = None
        self._metadata: dict[str, str] = {}
        for shard, wanted in self._layout():
            self._read_header(shard, wanted)
        self._scales, hidden = self._find_scales()
        self._torchao, torchao_parts = self._find_torchao()
        hidden |= torchao_parts
        self._unsupported = self._find_unsupported()
        for weight in self._torchao.values():
            try:
                _torchao_spec(weight, self._label)
            except NotSupportedError as error:  # a torchao type not decoded here: digests only
                self._unsupported[weight.name] = str(error.extra.get("reason", "stored in a torchao format"))
            except BadRequestError:
                pass  # damaged metadata: refused when read, with what is wrong
        self._names = []
        for name in self._locations:
            prefix = name.removesuffix(_TORCHAO_QDATA)
            if name.endswith(_TORCHAO_QDATA) and f"{prefix}.weight" in self._torchao:
                self._names.append(f"{prefix}.weight")  # the weight, in place of its parts
            elif name not in hidden:
                self._names.append(name)

    # -- layout and headers --

    def _layout(self) -> list[tuple[str, set[str] | None]]:
        """The shards to open, each with the tensor names the index assigns it (None: no index)."""
        top_level = [path for path in self._files.paths() if "/" not in path]
        indexes = [path for path in top_level if path.endswith(INDEX_SUFFIX)]
        index = INDEX_FILE if INDEX_FILE in indexes else (indexes[0] if len(indexes) == 1 else None)
        if index is not None:
            return self._layout_from_index(index)
        weights = sorted(path for path in top_level if path.endswith(scanning.SAFETENSORS_EXTENSION))
        if SINGLE_FILE in weights:
            return [(SINGLE_FILE, None)]
        if not weights:
            raise NotFoundError(
                f"{self._label} holds no .safetensors file",
                code="NoSafetensors",
                hint="Point at a folder (or repo) with model.safetensors, or with shards and "
                "model.safetensors.index.json, or with model.onnx; convert .bin/.pt weights with safetensors first.",
            )
        return [(path, None) for path in weights]

    def _layout_from_index(self, index: str) -> list[tuple[str, set[str] | None]]:
        where = self._files.describe(index)
        document = _parse_json(self._files.read_small(index, MAX_INDEX_BYTES), where, "InvalidIndex")
        weight_map = document.get("weight_map") if isinstance(document, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise BadRequestError(
                f"{where} has no weight_map object",
                code="InvalidIndex",
                hint='An index maps each tensor name to its shard: {"weight_map": {"name": "file"}}.',
            )
        folder = PurePosixPath(index).parent
        by_shard: dict[str, set[str]] = {}
        for name, shard in weight_map.items():
            path = str(folder / _check_relative(shard, where))
            by_shard.setdefault(path, set()).add(str(name))
        for path, names in sorted(by_shard.items()):
            if not self._files.exists(path):
                example = sorted(names)[0]
                raise EntryNotFoundError(
                    f"{self._label}: {index} maps {len(names)} tensors (e.g. {example!r}) to {path}, which is missing",
                    code="MissingShard",
                    hint="Upload or copy every shard listed in the index, or fix its weight_map.",
                )
        return [(path, names) for path, names in sorted(by_shard.items())]

    def _read_header(self, path: str, wanted: set[str] | None) -> None:
        size = self._files.size(path)
        prefix = b"".join(self._files.chunks(path, 0, min(8, size)))
        header_bytes = b""
        if len(prefix) == 8:
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size <= min(scanning.MAX_SAFETENSORS_HEADER_BYTES, size - 8):
                header_bytes = b"".join(self._files.chunks(path, 8, 8 + header_size))
        # The validator reads only the header from this buffer; the data size comes from ``size``.
        header = scanning.validate_safetensors_header(
            io.BytesIO(prefix + header_bytes), size, self._files.describe(path)
        )
        if wanted is not None:
            absent = sorted(wanted - set(header.tensors))
            if absent:
                raise BadRequestError(
                    f"{self._label}: the index maps tensor {absent[0]!r} to {path}, which does not contain it"
                    + (f" ({len(absent) - 1} more are missing too)" if len(absent) > 1 else ""),
                    code="InvalidIndex",
                    hint="Regenerate model.safetensors.index.json from the shards (save_pretrained does).",
                )
        self._metadata.update(header.metadata)
        for name, tensor in sorted(header.tensors.items(), key=lambda item: item[1].data_offsets):
            if wanted is not None and name not in wanted:
                continue  # with an index, the index says what each shard contributes (as transformers reads it)
            if name in self._locations:
                raise BadRequestError(
                    f"{self._label}: tensor {name!r} is in both {self._locations[name].path} and {path}",
                    code="DuplicateTensor",
                    hint="Keep each tensor in one file, or add a model.safetensors.index.json saying which.",
                )
            start, stop = tensor.data_offsets
            self._locations[name] = _Location(
                path, tensor.dtype, tensor.shape, header.data_start + start, header.data_start + stop
            )

    # -- quantization --

    def _find_scales(self) -> tuple[dict[str, str], set[str]]:
        """FP8 weight -> its scale tensor, and the scale tensors hidden from names()."""
        scales: dict[str, str] = {}
        hidden: set[str] = set()
        has_fp8 = False
        for name, location in self._locations.items():
            if location.dtype not in _SCALED_DTYPES:
                continue
            has_fp8 = True
            for candidate in (f"{name}_scale_inv", f"{name}_scale"):
                if candidate in self._locations:
                    scales[name] = candidate
                    hidden.add(candidate)
                    break
        if has_fp8:
            hidden.update(name for name in self._locations if name.rsplit(".", 1)[-1] in _ACTIVATION_SCALES)
        return scales, hidden

    def _find_torchao(self) -> tuple[dict[str, _TorchaoWeight], set[str]]:
        """torchao weight-only tensors: ``<prefix>.weight`` -> its parts, and the parts hidden from names().

        ``save_pretrained`` of a torchao-quantized model stores ``<prefix>._weight_qdata``,
        ``_weight_scale`` and ``_weight_zero_point``, and in the header's ``__metadata__``, under
        ``<prefix>.weight``, a JSON object whose ``_type`` names the tensor subclass and whose
        ``_data.block_size`` says how many values share one scale. Metadata is only read here;
        whether it makes sense is checked when the weight is read (``_torchao_weight``).
        """
        found: dict[str, _TorchaoWeight] = {}
        parts: set[str] = set()
        for name in self._locations:
            if not name.endswith(_TORCHAO_QDATA):
                continue
            prefix = name.removesuffix(_TORCHAO_QDATA)
            weight = f"{prefix}.weight"
            if weight in self._locations:
                continue  # a plain weight beside: not torchao's layout, leave the tensors as stored
            members = {part: f"{prefix}._weight_{part}" for part in ("qdata", "scale", "zero_point")}
            found[weight] = _TorchaoWeight(
                weight,
                qdata=name,
                scale=members["scale"] if members["scale"] in self._locations else None,
                zero_point=members["zero_point"] if members["zero_point"] in self._locations else None,
                metadata=self._metadata.get(weight),
            )
            parts.update(member for member in members.values() if member in self._locations)
        return found, parts

    def _find_unsupported(self) -> dict[str, str]:
        """Tensor -> why it cannot be read (a quantization format this reader does not decode)."""
        by_module: dict[str, set[str]] = {}
        for name in self._locations:
            module, _, leaf = name.rpartition(".")
            by_module.setdefault(module, set()).add(leaf)
        problems: dict[str, str] = {}

        def flag(module: str, leaves: set[str], reason: str) -> None:
            for leaf in leaves:
                problems.setdefault(f"{module}.{leaf}" if module else leaf, reason)

        for module, leaves in by_module.items():
            if leaves & _GPTQ_AWQ:
                flag(module, leaves & (_GPTQ_AWQ | {"scales"}), "stored as GPTQ/AWQ (int4 packed into int32)")
            if leaves & _PACKED_INT:
                flag(
                    module,
                    leaves & (_PACKED_INT | {"weight_scale", "weight"}),
                    "stored as packed integers with scales and zero points (compressed-tensors int4/int8)",
                )
            if "SCB" in leaves or "weight_format" in leaves:
                flag(module, leaves & (_BITSANDBYTES | {"weight"}), "stored as bitsandbytes int8 (LLM.int8 with SCB)")
            blocks = {leaf for leaf in leaves if leaf.endswith("_blocks")}
            for leaf in blocks:
                twin = leaf.removesuffix("_blocks") + "_scales"
                if twin in leaves:
                    flag(module, {leaf, twin}, "stored as MXFP4 (4-bit blocks with shared exponents)")
            weight = self._locations.get(f"{module}.weight" if module else "weight")
            if (
                weight is not None
                and weight.dtype in ("I8", "U8", "I16", "I32", "U32")
                and leaves & {"weight_scale", "weight_scale_inv", "scales", "weight_zero_point"}
            ):
                flag(
                    module,
                    leaves & {"weight", "weight_scale", "weight_scale_inv", "scales", "weight_zero_point"},
                    f"stored as {weight.dtype} integers with a scale (integer quantization)",
                )
        for name in self._locations:
            # bitsandbytes 4-bit: '<weight>.absmax', '<weight>.quant_map', '<weight>.quant_state.bitsandbytes__nf4'.
            for marker in (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state."):
                owner, found, _ = name.partition(marker)
                if found:
                    reason = "stored as bitsandbytes 4-bit (NF4/FP4 packed into uint8, with absmax/quant_map)"
                    problems.setdefault(name, reason)
                    if owner in self._locations:
                        problems.setdefault(owner, reason)
        for name, location in self._locations.items():
            if location.dtype not in SUPPORTED_DTYPES:
                problems.setdefault(name, f"of dtype {location.dtype}, which this reader does not decode")
        return problems

    # -- TensorSource --

    @property
    def label(self) -> str:
        return self._label

    def names(self) -> list[str]:
        return list(self._names)

    def meta(self, name: str) -> TensorMeta:
        torchao = self._torchao.get(name)
        if torchao is not None:
            qdata = self._locations[torchao.qdata]
            stored = sum(self._locations[part].stop - self._locations[part].start for part in torchao.parts())
            return TensorMeta(name, qdata.dtype, qdata.shape, stored)
        location = self._location(name)
        return TensorMeta(name, location.dtype, location.shape, location.stop - location.start)

    def read(self, name: str) -> FloatArray:
        if name in self._torchao:
            return self._read_torchao(self._torchao[name])[0]
        location = self._location(name)
        self._refuse_unsupported(name)
        return self._dequantize(name, self._convert(self._read_stored(name, location), location))

    def digest(self, name: str) -> str:
        """sha256 over dtype, shape and stored bytes, as ``source.array_digest``, hashed in chunks.

        A torchao weight's digest covers its type and all its parts (quantized values, scales and
        zero points), so it equals only another bit-exact copy of the same quantized weight.
        """
        torchao = self._torchao.get(name)
        if torchao is not None:
            digest = _torchao_digest(torchao, self._locations[torchao.qdata])
            for part in torchao.parts():
                location = self._locations[part]
                received = 0
                for chunk in self._files.chunks(location.path, location.start, location.stop):
                    digest.update(chunk)
                    received += len(chunk)
                self._check_complete(part, location, received)
            return digest.hexdigest()
        location = self._location(name)
        digest = _start_digest(location)
        received = 0
        for chunk in self._files.chunks(location.path, location.start, location.stop):
            digest.update(chunk)
            received += len(chunk)
        self._check_complete(name, location, received)
        return digest.hexdigest()

    def read_with_digest(self, name: str) -> tuple[FloatArray, str]:
        """``read`` and ``digest`` from one read of the stored bytes (fingerprinting reads each once)."""
        if name in self._torchao:
            return self._read_torchao(self._torchao[name])
        location = self._location(name)
        self._refuse_unsupported(name)
        stored = self._read_stored(name, location)
        digest = _start_digest(location)
        digest.update(stored.data)
        return self._dequantize(name, self._convert(stored, location)), digest.hexdigest()

    def config(self) -> dict[str, object]:
        if self._config is None:
            self._config = {}
            path = self._sibling(CONFIG_FILE)
            if path is not None:
                document = _parse_json(
                    self._files.read_small(path, MAX_CONFIG_BYTES), self._files.describe(path), "InvalidConfig"
                )
                if not isinstance(document, dict):
                    raise BadRequestError(f"{self._files.describe(path)} is not a JSON object", code="InvalidConfig")
                self._config = document
        return dict(self._config)

    def vocabulary(self) -> dict[str, int] | None:
        if not self._vocabulary_loaded:
            path = self._sibling(TOKENIZER_FILE)
            if path is not None:
                document = _parse_json(
                    self._files.read_small(path, MAX_TOKENIZER_BYTES), self._files.describe(path), "InvalidTokenizer"
                )
                self._vocabulary = tokenizer_vocabulary(document)
            self._vocabulary_loaded = True
        return None if self._vocabulary is None else dict(self._vocabulary)

    # -- beyond the protocol --

    def unsupported_tensors(self) -> dict[str, str]:
        """Tensor -> why ``read`` refuses it (quantization formats not decoded yet); {} when none."""
        return dict(self._unsupported)

    def scale_of(self, name: str) -> str | None:
        """The scale tensor applied to an FP8 weight by ``read``, if any."""
        return self._scales.get(name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._label!r}, {len(self._names)} tensors)"

    # -- internals --

    def _block_hint(self) -> tuple[int, ...]:
        """``quantization_config.weight_block_size`` from config.json, e.g. (128, 128); () when absent."""
        if self._weight_block_size is None:
            self._weight_block_size = ()
            try:
                quantization = self.config().get("quantization_config")
            except BadRequestError:  # an unreadable config.json: infer the blocks from the shapes
                quantization = None
            sizes = quantization.get("weight_block_size") if isinstance(quantization, dict) else None
            if isinstance(sizes, list) and all(type(size) is int and size > 0 for size in sizes):
                self._weight_block_size = tuple(sizes)
        return self._weight_block_size

    def _sibling(self, file_name: str) -> str | None:
        return file_name if self._files.exists(file_name) else None

    def _location(self, name: str) -> _Location:
        location = self._locations.get(name)
        if location is None:
            close = difflib.get_close_matches(name, list(self._locations), n=1)
            raise NotFoundError(
                f"{self._label} has no tensor {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                code="TensorNotFound",
                hint="List the tensors with names() (scale tensors of FP8 weights are applied, not listed).",
            )
        return location

    def _check_complete(self, name: str, location: _Location, received: int) -> None:
        expected = location.stop - location.start
        if received != expected:
            raise IntegrityError(
                f"{self._files.describe(location.path)} ends after {received} of the {expected} bytes of "
                f"tensor {name!r}: the file is truncated or changed while being read",
                code="TruncatedFile",
                hint="Download or copy the file again, whole.",
            )

    def _refuse_unsupported(self, name: str) -> None:
        reason = self._unsupported.get(name)
        if reason is not None:
            code = "UnsupportedDtype" if reason.startswith("of dtype") else "UnsupportedQuantization"
            raise NotSupportedError(
                f"{self._label}: tensor {name!r} is {reason}, which is not supported yet; {_SUPPORTED_TEXT}.",
                code=code,
                hint=_QUANTIZATION_HINT,
            )

    def _read_stored(self, name: str, location: _Location) -> npt.NDArray[np.uint8]:
        """The tensor's stored bytes, read straight into one buffer."""
        stored = np.empty(location.stop - location.start, dtype=np.uint8)
        received = self._files.read_into(location.path, location.start, stored.data) if stored.size else 0
        self._check_complete(name, location, received)
        return stored

    @staticmethod
    def _convert(stored: npt.NDArray[np.uint8], location: _Location) -> FloatArray:
        """Stored bytes as float32: one more buffer at most (none for F32)."""
        table = _FP8_TABLES.get(location.dtype)
        if table is not None:
            return table[stored].reshape(location.shape)
        values: FloatArray = stored.view(_NUMPY_DTYPES[location.dtype]).astype(np.float32, copy=False)
        return values.reshape(location.shape)

    def _read_torchao(self, weight: _TorchaoWeight) -> tuple[FloatArray, str]:
        """A torchao weight as float32, ``(qdata - zero_point) * scale`` block by block, and its digest."""
        spec = _torchao_spec(weight, self._label)
        qdata_location = self._locations[weight.qdata]
        digest = _torchao_digest(weight, qdata_location)
        arrays: dict[str, FloatArray] = {}
        for part in weight.parts():
            location = self._locations[part]
            stored = self._read_stored(part, location)
            digest.update(stored.data)
            arrays[part] = self._convert(stored, location)
        values = arrays.pop(weight.qdata)
        shape = values.shape
        grid = _torchao_grid(weight, shape, spec.block_size, self._label)
        scale = arrays[weight.scale] if weight.scale is not None else None
        zero = arrays.get(weight.zero_point) if weight.zero_point is not None else None
        for part_name, array in ((weight.scale, scale), (weight.zero_point, zero)):
            if array is not None and array.size != math.prod(grid):
                raise IntegrityError(
                    f"{self._label}: tensor {part_name!r} of {weight.name!r} has shape {list(array.shape)}, but the "
                    f"weight's shape {list(shape)} in blocks of {list(spec.block_size)} needs {grid}",
                    code="InvalidQuantization",
                    hint="Save the model again with save_pretrained; the file's parts do not belong together.",
                )
        assert scale is not None  # _torchao_spec refuses a weight without one
        split = [dim for pair in zip(grid, spec.block_size, strict=True) for dim in pair]
        spread = [dim for count in grid for dim in (count, 1)]
        blocked = values.reshape(split)
        if zero is not None:
            blocked -= zero.reshape(spread)
        blocked *= scale.reshape(spread)
        return values, digest.hexdigest()

    def _dequantize(self, name: str, values: FloatArray) -> FloatArray:
        scale_name = self._scales.get(name)
        if scale_name is not None:
            location = self._location(scale_name)
            scale = self._convert(self._read_stored(scale_name, location), location)
            _apply_scale(values, scale, name, scale_name, self._label, self._block_hint())
        return values


def _start_digest(location: _Location) -> hashlib._Hash:
    """The running sha256 of ``source.array_digest``: dtype and shape first, then the stored bytes."""
    return hashlib.sha256(f"{location.dtype}|{','.join(map(str, location.shape))}|".encode())


def _block_size(size: int, count: int, hint: int | None) -> int:
    """The block length along one axis of ``size`` elements cut into ``count`` blocks.

    When the last block is partial, several lengths fit; quantizers use powers of two (DeepSeek-V3:
    128), and between ceil(size/count) and the next length that would need one block fewer there is
    at most one power of two, so it is taken; ``hint`` (config.json's ``weight_block_size``) wins
    when it fits.
    """
    if count <= 1:
        return max(size, 1)
    if hint and math.ceil(size / hint) == count:
        return hint
    shortest = math.ceil(size / count)
    power = 1 << (shortest - 1).bit_length()
    return power if math.ceil(size / power) == count else shortest


def _apply_scale(
    values: FloatArray,
    scale: FloatArray,
    name: str,
    scale_name: str,
    label: str,
    block_hint: tuple[int, ...] = (),
) -> None:
    """Multiply an FP8 weight by its scale, in place: one number, or one per block of the weight.

    The block lengths are inferred from the shapes (see ``_block_size``), as DeepSeek-V3's 128x128
    blocks with ``weight_scale_inv`` of shape ceil(rows/128) x ceil(cols/128); a per-channel scale
    (rows x 1, or a vector of rows) is the same rule with one block per row. ``block_hint`` applies
    to the last axes.
    """
    if scale.size == 1:
        values *= scale.reshape(())
        return
    shape = values.shape
    scale_shape = scale.shape + (1,) * (len(shape) - scale.ndim)  # a per-channel vector: rows -> rows x 1
    hints: list[int | None] = [None] * len(shape)
    for axis, hint in zip(range(len(shape) - len(block_hint), len(shape)), block_hint, strict=True):
        if axis >= 0:
            hints[axis] = hint
    blocks = [_block_size(size, count, hint) for size, count, hint in zip(shape, scale_shape, hints, strict=False)]
    if len(scale_shape) != len(shape) or any(
        count == 0 or math.ceil(size / block) != count
        for size, block, count in zip(shape, blocks, scale_shape, strict=True)
    ):
        raise BadRequestError(
            f"{label}: scale {scale_name!r} of shape {list(scale.shape)} does not tile tensor {name!r} of shape "
            f"{list(shape)} into blocks",
            code="InvalidScale",
            hint="Block scales have shape ceil(rows/block) x ceil(cols/block), or hold one number per tensor.",
        )
    scale = scale.reshape(scale_shape)
    if all(size == block * count for size, block, count in zip(shape, blocks, scale_shape, strict=True)):
        # Whole blocks: view the weight as (count0, block0, count1, block1, ...) and broadcast.
        split = [dim for pair in zip(scale_shape, blocks, strict=True) for dim in pair]
        spread = [dim for count in scale_shape for dim in (count, 1)]
        values.reshape(split)[...] *= scale.reshape(spread)
        return
    # Partial blocks at the edges: one block-row at a time, so the expanded scale is one slab of the
    # weight divided by its block height, never a second full-size array.
    rest = [
        np.repeat(np.arange(count), block)[:size]
        for size, block, count in zip(shape[1:], blocks[1:], scale_shape[1:], strict=True)
    ]
    for row in range(scale_shape[0]):
        slab = scale[row]
        values[row * blocks[0] : (row + 1) * blocks[0]] *= slab[np.ix_(*rest)] if rest else slab


# --- torchao weight-only tensors ------------------------------------------------------------------

_TORCHAO_QDATA: Final = "._weight_qdata"
# torchao tensor subclasses whose stored values are (qdata - zero_point) * scale, block by block.
_TORCHAO_TYPES: Final = {
    "Int8Tensor": "int8 weight-only (Int8WeightOnlyConfig)",
    "IntxUnpackedToInt8Tensor": "intN weight-only, one value per int8 (IntxWeightOnlyConfig)",
}


@dataclass(frozen=True)
class _TorchaoWeight:
    name: str  # ``<prefix>.weight``: what the model calls it
    qdata: str
    scale: str | None
    zero_point: str | None
    metadata: str | None  # the JSON string stored in the header under ``name``

    def parts(self) -> list[str]:
        return [part for part in (self.qdata, self.scale, self.zero_point) if part is not None]


@dataclass(frozen=True)
class _TorchaoSpec:
    type_name: str
    block_size: tuple[int, ...]


def _torchao_spec(weight: _TorchaoWeight, label: str) -> _TorchaoSpec:
    """The weight's torchao type and block size from the header metadata, refused with a reason."""
    hint = (
        "Save the quantized model with save_pretrained(safe_serialization=True) from torchao's "
        "Int8WeightOnlyConfig or IntxWeightOnlyConfig, or compare the unquantized checkpoint."
    )
    if weight.metadata is None:
        raise IntegrityError(
            f"{label}: tensor {weight.qdata!r} looks like torchao's layout, but the header's metadata says nothing "
            f"about {weight.name!r} (its type and block size)",
            code="InvalidQuantization",
            hint=hint,
        )
    document = _parse_json(weight.metadata.encode(), f"{label}: the metadata of {weight.name!r}", "InvalidQuantization")
    type_name = document.get("_type") if isinstance(document, dict) else None
    if type_name not in _TORCHAO_TYPES:
        raise NotSupportedError(
            f"{label}: tensor {weight.name!r} is stored as torchao {type_name!r}, which this reader does not decode; "
            f"it decodes {', '.join(f'{key} ({text})' for key, text in _TORCHAO_TYPES.items())}",
            code="UnsupportedQuantization",
            hint=_QUANTIZATION_HINT,
            extra={"tensor": weight.name, "reason": f"stored as torchao {type_name!r}"},
        )
    data = document.get("_data") if isinstance(document, dict) else None
    block = data.get("block_size") if isinstance(data, dict) else None
    if not isinstance(block, list) or not block or not all(type(size) is int and size > 0 for size in block):
        raise IntegrityError(
            f"{label}: the metadata of torchao tensor {weight.name!r} has no valid _data.block_size "
            f"(positive integers, one per axis): {block!r}",
            code="InvalidQuantization",
            hint=hint,
        )
    if weight.scale is None:
        raise IntegrityError(
            f"{label}: torchao tensor {weight.name!r} has no scale {weight.name.removesuffix('.weight')}._weight_scale",
            code="InvalidQuantization",
            hint=hint,
        )
    names = document.get("_tensor_data_names") if isinstance(document, dict) else None
    if weight.zero_point is None and isinstance(names, list) and "zero_point" in names:
        raise IntegrityError(
            f"{label}: torchao tensor {weight.name!r} lists a zero point, but "
            f"{weight.name.removesuffix('.weight')}._weight_zero_point is missing",
            code="InvalidQuantization",
            hint=hint,
        )
    return _TorchaoSpec(str(type_name), tuple(block))


def _torchao_grid(weight: _TorchaoWeight, shape: tuple[int, ...], block: tuple[int, ...], label: str) -> list[int]:
    """Blocks per axis; the block size must divide the weight's shape exactly (torchao's own rule)."""
    if len(block) != len(shape) or any(size % length for size, length in zip(shape, block, strict=True)):
        raise IntegrityError(
            f"{label}: torchao tensor {weight.name!r} of shape {list(shape)} cannot be cut into blocks of "
            f"{list(block)} (the block size from its metadata)",
            code="InvalidQuantization",
            hint="Save the model again with save_pretrained; the metadata does not describe these tensors.",
        )
    return [size // length for size, length in zip(shape, block, strict=True)]


def _torchao_digest(weight: _TorchaoWeight, qdata: _Location) -> hashlib._Hash:
    return hashlib.sha256(f"torchao|{qdata.dtype}|{','.join(map(str, qdata.shape))}|{len(weight.parts())}|".encode())


def tokenizer_vocabulary(document: object) -> dict[str, int] | None:
    """token -> id from a parsed tokenizer.json: WordLevel, BPE and WordPiece map tokens to ids,
    Unigram lists [piece, score] pairs (the id is the position); added tokens are included."""
    if not isinstance(document, dict):
        return None
    model = document.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    result: dict[str, int] = {}
    if isinstance(vocab, dict):
        result = {token: index for token, index in vocab.items() if isinstance(token, str) and type(index) is int}
    elif isinstance(vocab, list):
        for index, item in enumerate(vocab):
            if isinstance(item, list | tuple) and item and isinstance(item[0], str):
                result.setdefault(item[0], index)
    added = document.get("added_tokens")
    if isinstance(added, list):
        for token in added:
            if isinstance(token, dict) and isinstance(token.get("content"), str) and type(token.get("id")) is int:
                result.setdefault(token["content"], token["id"])
    return result or None


# --- the two kinds of checkpoint -----------------------------------------------------------------


class LocalCheckpoint(SafetensorsCheckpoint):
    """A checkpoint on disk: a folder (single file, sharded with an index, or several files) or one
    ``.safetensors`` file (with config.json and tokenizer.json read from beside it)."""

    def __init__(self, path: str | os.PathLike[str], *, label: str | None = None) -> None:
        location = Path(path).expanduser()
        if location.is_file():
            if not location.name.endswith(scanning.SAFETENSORS_EXTENSION):
                raise BadRequestError(
                    f"{location} is not a .safetensors file",
                    code="NotSafetensors",
                    hint="Point at a .safetensors file or at the folder holding the checkpoint.",
                )
            root = location.parent
            siblings = [name for name in (CONFIG_FILE, TOKENIZER_FILE) if (root / name).is_file()]
            files = _LocalFiles(root, [location.name, *siblings])
        elif location.is_dir():
            root = location
            files = _LocalFiles(root, sorted(entry.name for entry in root.iterdir() if entry.is_file()))
        else:
            raise NotFoundError(
                f"{location} does not exist", code="CheckpointNotFound", hint="Check the path to the checkpoint."
            )
        self.path = location
        super().__init__(files, label or str(location))


class HubCheckpoint(SafetensorsCheckpoint):
    """A checkpoint at one hub revision: its files' blobs, read by byte range from the store."""

    def __init__(
        self,
        store: BlobStore,
        entries: list[FileEntry],
        label: str,
        *,
        repo_id: str | None = None,
        commit_oid: str | None = None,
    ) -> None:
        self.repo_id = repo_id
        self.commit_oid = commit_oid
        super().__init__(_BlobFiles(store, {entry.path: entry for entry in entries}, label), label)


def _has_safetensors(paths: list[str]) -> bool:
    return any("/" not in path and path.endswith(scanning.SAFETENSORS_EXTENSION) for path in paths) or any(
        "/" not in path and path.endswith(INDEX_SUFFIX) for path in paths
    )


def _onnx_only(paths: list[str]) -> bool:
    """The checkpoint is an ONNX graph: ``model.onnx`` and no safetensors beside it."""
    from baton.provenance.onnx_reader import ONNX_FILE

    return ONNX_FILE in paths and not _has_safetensors(paths)


def hub_checkpoint(
    store: BlobStore,
    entries: list[FileEntry],
    label: str,
    *,
    repo_id: str | None = None,
    commit_oid: str | None = None,
    max_onnx_bytes: int | None = None,
) -> Checkpoint:
    """A hub revision's files as a checkpoint: safetensors when it has any, else ``model.onnx``."""
    if _onnx_only([entry.path for entry in entries]):
        from baton.provenance.onnx_reader import OnnxCheckpoint

        files = _BlobFiles(store, {entry.path: entry for entry in entries}, label)
        return OnnxCheckpoint(files, label, max_bytes=max_onnx_bytes, repo_id=repo_id, commit_oid=commit_oid)
    return HubCheckpoint(store, entries, label, repo_id=repo_id, commit_oid=commit_oid)


def open_local(path: str | os.PathLike[str], *, label: str | None = None) -> Checkpoint:
    """A checkpoint on disk: ``LocalCheckpoint`` for safetensors, ``OnnxCheckpoint`` for a folder (or
    a ``model.onnx`` path) with ``model.onnx`` and no safetensors."""
    location = Path(path).expanduser()
    root = location.parent if location.is_file() and location.name.endswith(".onnx") else location
    if root.is_dir():
        from baton.provenance.onnx_reader import ONNX_FILE, OnnxCheckpoint

        if location.is_file() and location.name != ONNX_FILE:
            raise BadRequestError(
                f"{location} is not named {ONNX_FILE}",
                code="NotSafetensors",
                hint=f"Point at the folder holding {ONNX_FILE} (the graph is read under that name).",
            )
        paths = sorted(entry.name for entry in root.iterdir() if entry.is_file())
        if _onnx_only(paths):
            return OnnxCheckpoint(_LocalFiles(root, paths), label or str(root))
    return LocalCheckpoint(path, label=label)


def open_hub_checkpoint(
    runtime: Runtime,
    user: Actor | str | None,
    repo_type: str | None,
    repo_id: str,
    revision: str | None = None,
) -> Checkpoint:
    """Open a hub repo at a revision (default branch when None) as the given user would see it.

    Private repos the user cannot read are reported as not found; gated repos need approved access.
    ``user`` is an actor, a user name, or None (anonymous). The label is ``repo_id@revision``;
    the resolved commit is kept in ``commit_oid``. A revision with ``model.onnx`` and no safetensors
    is read as an ONNX graph (``onnx_reader.OnnxCheckpoint``).
    """
    from baton.accounts import service as accounts
    from baton.hub import commits, repos

    with runtime.database.session() as session:
        account = accounts.actor_for(accounts.get_account(session, user)) if isinstance(user, str) else user
        key = repos.parse_repo_id(repo_type, repo_id)
        repo = repos.get_repo(session, account, key)
        repos.check_file_access(session, account, repo)
        commit = commits.resolve_revision(session, repo, revision)
        entries = commits.tree_entries(session, commit.tree_id)
        shown = str(key)
        label = f"{shown}@{revision or repo.default_branch}"
        oid = commit.oid
    return hub_checkpoint(
        runtime.store,
        entries,
        label,
        repo_id=shown,
        commit_oid=oid,
        max_onnx_bytes=runtime.settings.provenance_max_onnx_bytes,
    )


def open_source(spec: str, runtime: Runtime | None = None, user: Actor | str | None = None) -> Checkpoint:
    """A local path when one exists, else a hub model repo id with an optional ``@revision``."""
    if Path(spec).expanduser().exists():
        return open_local(spec)
    if spec.startswith(("/", ".", "~")) or spec.count("/") > 2:
        raise NotFoundError(
            f"No folder or file at {spec!r}",
            code="CheckpointNotFound",
            hint="Give an existing local folder, or a hub repo id such as 'namespace/name@revision'.",
        )
    repo_id, _, revision = spec.partition("@")
    if runtime is None:
        raise NotFoundError(
            f"{spec!r} is not a local path, and there is no hub to look it up in as a repo id",
            code="CheckpointNotFound",
            hint="Check the path, or run against a Baton hub (BATON_DATABASE_URL) to use 'namespace/name@revision'.",
        )
    repo_type = None
    for prefix, kind in (("models/", "model"), ("datasets/", "dataset"), ("spaces/", "space")):
        if repo_id.startswith(prefix) and repo_id.count("/") == 2:
            repo_id, repo_type = repo_id.removeprefix(prefix), kind
    return open_hub_checkpoint(runtime, user, repo_type, repo_id, revision or None)


if TYPE_CHECKING:  # the checkpoints are TensorSources (checked by mypy, costs nothing at run time)
    _IS_TENSOR_SOURCE: type[TensorSource] = SafetensorsCheckpoint
