"""An ONNX graph's weights as a ``TensorSource``: the parameters among its initializers.

``model.onnx`` is parsed with the ``onnx`` package, after its size is checked against a limit
(``MAX_ONNX_BYTES``, or the hub's ``provenance_max_onnx_bytes`` setting): protobuf is parsed whole,
so the limit bounds the memory one scan takes. Initializers stored as external data are read by
byte range when asked, from files inside the checkpoint only (a location that leaves the folder is
refused), so a large graph with external weights costs no more than its structure.

What is presented, under the names of the model's parameters:

- an initializer named ``<name>.weight.T`` (Baton's export stores a Linear weight pre-transposed,
  ``[in, out]``, as the exporter uses it) as ``<name>.weight``, transposed back to ``[out, in]``;
- ``<name>_quantized`` with ``<name>_scale`` and ``<name>_zero_point`` (onnxruntime's dynamic
  quantization, int8 or uint8, one scale per tensor or per channel) as ``<name>``, dequantized:
  ``(quantized - zero_point) * scale``;
- every other floating-point initializer as stored.

Skipped, because they are not parameters: scalars, integer and boolean constants (shape and index
constants), and the exporter's unnamed temporaries (``val_12``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from baton.core.errors import BadRequestError, EntryNotFoundError, IntegrityError, NotFoundError, NotSupportedError
from baton.provenance.reader import (
    CONFIG_FILE,
    MAX_CONFIG_BYTES,
    MAX_TOKENIZER_BYTES,
    TOKENIZER_FILE,
    _Files,
    _parse_json,
    tokenizer_vocabulary,
)
from baton.provenance.source import FloatArray, TensorMeta, TensorSource

if TYPE_CHECKING:
    import onnx

__all__ = ["MAX_ONNX_BYTES", "ONNX_FILE", "OnnxCheckpoint"]

ONNX_FILE: Final = "model.onnx"
# The graph file is parsed whole (protobuf), so its size bounds the memory of one read; 2 GiB is
# protobuf's own limit. Weights kept as external data do not count (they are read by range).
MAX_ONNX_BYTES = 2 * 1024 * 1024 * 1024 - 1

TRANSPOSED_SUFFIX: Final = ".T"
_QUANTIZED: Final = "_quantized"
_TEMPORARY = re.compile(r"^val_\d+$")

# ONNX TensorProto data types read here: code -> (numpy dtype, the safetensors-style name shown).
_DTYPES: Final[dict[int, tuple[np.dtype[Any], str]]] = {
    1: (np.dtype("<f4"), "F32"),
    2: (np.dtype("u1"), "U8"),
    3: (np.dtype("i1"), "I8"),
    10: (np.dtype("<f2"), "F16"),
    11: (np.dtype("<f8"), "F64"),
}
_FLOAT_CODES: Final = frozenset({1, 10, 11, 16})
_QUANTIZED_CODES: Final = frozenset({2, 3})
_BFLOAT16: Final = 16
_HINT: Final = "Export the graph again (torch.onnx.export, then onnxruntime's quantize_dynamic for int8)."


@dataclass(frozen=True)
class _Stored:
    """One initializer: where its bytes are (inline, or an external file's byte range)."""

    name: str
    code: int  # ONNX data type
    shape: tuple[int, ...]
    tensor: onnx.TensorProto | None  # inline data
    external: tuple[str, int, int] | None  # (path in the checkpoint, offset, length)

    @property
    def dtype_name(self) -> str:
        return "BF16" if self.code == _BFLOAT16 else _DTYPES[self.code][1]


@dataclass(frozen=True)
class _Presented:
    name: str
    stored: _Stored  # the values (quantized ones for a quantized tensor)
    transposed: bool
    scale: _Stored | None = None
    zero_point: _Stored | None = None
    axis: int | None = None  # the quantization axis named by a DequantizeLinear node, if any


class OnnxCheckpoint:
    """A ``TensorSource`` over ``model.onnx`` (and its external data) in a folder or a hub revision."""

    def __init__(
        self,
        files: _Files,
        label: str,
        *,
        max_bytes: int | None = None,
        repo_id: str | None = None,
        commit_oid: str | None = None,
    ) -> None:
        self._files = files
        self._label = label
        self.repo_id = repo_id
        self.commit_oid = commit_oid
        self._config: dict[str, object] | None = None
        self._vocabulary_loaded = False
        self._vocabulary: dict[str, int] | None = None
        limit = MAX_ONNX_BYTES if max_bytes is None else max_bytes
        model = self._parse(limit)
        stored = {item.name: item for item in (self._stored(tensor) for tensor in model.graph.initializer)}
        axes = _dequantize_axes(model)
        self._tensors: dict[str, _Presented] = {}
        used: set[str] = set()
        for name, item in stored.items():
            if not name.endswith(_QUANTIZED) or item.code not in _QUANTIZED_CODES:
                continue
            base = name.removesuffix(_QUANTIZED)
            scale, zero = stored.get(f"{base}_scale"), stored.get(f"{base}_zero_point")
            used.update(part.name for part in (item, scale, zero) if part is not None)
            self._add(base, item, scale=scale, zero_point=zero, axis=axes.get(name))
        for name, item in stored.items():
            if name in used or not _is_parameter(item):
                continue
            self._add(name, item)
        self._names = list(self._tensors)
        del model

    # -- reading the graph --

    def _parse(self, limit: int) -> onnx.ModelProto:
        import onnx
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

        if not self._files.exists(ONNX_FILE):
            raise NotFoundError(
                f"{self._label} holds no {ONNX_FILE}",
                code="NoOnnx",
                hint="Point at a folder (or repo) with model.onnx beside config.json.",
            )
        size = self._files.size(ONNX_FILE)
        if size > limit:
            raise BadRequestError(
                f"{self._files.describe(ONNX_FILE)} is {size} bytes, more than the {limit} this reader parses "
                "(the graph is parsed whole, in memory)",
                code="OnnxTooLarge",
                hint="Save the graph with its weights as external data (onnx.save(..., save_as_external_data=True)); "
                "an operator can raise BATON_PROVENANCE_MAX_ONNX_BYTES.",
            )
        data = self._files.read_small(ONNX_FILE, limit)
        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise BadRequestError(
                f"{self._files.describe(ONNX_FILE)} is not a valid ONNX model ({error})", code="InvalidOnnx", hint=_HINT
            ) from error
        if not model.HasField("graph"):
            raise BadRequestError(f"{self._files.describe(ONNX_FILE)} has no graph", code="InvalidOnnx", hint=_HINT)
        return model

    def _stored(self, tensor: onnx.TensorProto) -> _Stored:
        import onnx

        shape = tuple(int(dim) for dim in tensor.dims)
        external = None
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            external = self._external(tensor, shape)
        return _Stored(tensor.name, int(tensor.data_type), shape, None if external is not None else tensor, external)

    def _external(self, tensor: onnx.TensorProto, shape: tuple[int, ...]) -> tuple[str, int, int]:
        """Where an external initializer's bytes are; refused when they would leave the checkpoint."""
        info = {entry.key: entry.value for entry in tensor.external_data}
        where = f"{self._label}: initializer {tensor.name!r}"
        location = info.get("location", "")
        parts = PurePosixPath(location).parts
        if (
            not location
            or "\\" in location
            or "\0" in location
            or location.startswith("/")
            or any(part in ("..", ".") for part in parts)
        ):
            raise BadRequestError(
                f"{where} keeps its data in {location!r}, which is outside the checkpoint's folder",
                code="InvalidOnnx",
                hint="External data files are named relative to model.onnx, inside its folder.",
            )
        path = str(PurePosixPath(ONNX_FILE).parent / location)
        if not self._files.exists(path):
            raise EntryNotFoundError(
                f"{where} keeps its data in {path}, which is missing",
                code="MissingShard",
                hint="Upload or copy the external data file beside model.onnx.",
            )
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else self._files.size(path) - offset
        except ValueError as error:
            raise BadRequestError(f"{where} has an invalid offset or length", code="InvalidOnnx") from error
        expected = _expected_bytes(int(tensor.data_type), shape)
        if (
            offset < 0
            or length < 0
            or offset + length > self._files.size(path)
            or (expected is not None and length != expected)
        ):
            raise IntegrityError(
                f"{where}: bytes [{offset}, {offset + length}) of {path} do not hold its {expected} bytes",
                code="TruncatedFile",
                hint="Save the graph and its external data again, together.",
            )
        return path, offset, length

    def _add(
        self,
        name: str,
        stored: _Stored,
        *,
        scale: _Stored | None = None,
        zero_point: _Stored | None = None,
        axis: int | None = None,
    ) -> None:
        transposed = name.endswith(f".weight{TRANSPOSED_SUFFIX}") and len(stored.shape) == 2
        shown = name.removesuffix(TRANSPOSED_SUFFIX) if transposed else name
        if shown in self._tensors:
            raise BadRequestError(
                f"{self._label}: two initializers present the tensor {shown!r}", code="DuplicateTensor", hint=_HINT
            )
        self._tensors[shown] = _Presented(shown, stored, transposed, scale, zero_point, axis)

    def _bytes(self, stored: _Stored) -> bytes:
        if stored.external is not None:
            path, offset, length = stored.external
            data = b"".join(self._files.chunks(path, offset, offset + length))
            if len(data) != length:
                raise IntegrityError(
                    f"{self._files.describe(path)} ends before the {length} bytes of {stored.name!r}",
                    code="TruncatedFile",
                    hint="Copy the external data file again, whole.",
                )
            return data
        assert stored.tensor is not None
        if stored.tensor.HasField("raw_data"):
            return bytes(stored.tensor.raw_data)
        return self._array(stored).tobytes()

    def _array(self, stored: _Stored) -> npt.NDArray[Any]:
        """The stored values in their own dtype (inline typed fields or raw bytes)."""
        if stored.code not in _DTYPES and stored.code != _BFLOAT16:
            raise NotSupportedError(
                f"{self._label}: initializer {stored.name!r} has ONNX data type {stored.code}, which this reader "
                "does not decode; it reads float32, float16, bfloat16, float64, int8 and uint8",
                code="UnsupportedDtype",
                hint=_HINT,
                extra={"tensor": stored.name, "reason": f"of ONNX data type {stored.code}"},
            )
        if stored.external is not None or (stored.tensor is not None and stored.tensor.HasField("raw_data")):
            data = self._bytes(stored)
            if stored.code == _BFLOAT16:
                import ml_dtypes

                values: npt.NDArray[Any] = np.frombuffer(data, dtype=ml_dtypes.bfloat16)
            else:
                values = np.frombuffer(data, dtype=_DTYPES[stored.code][0])
        else:
            from onnx import numpy_helper

            assert stored.tensor is not None
            values = numpy_helper.to_array(stored.tensor)
        count = int(np.prod(stored.shape)) if stored.shape else 1
        if values.size != count:
            raise IntegrityError(
                f"{self._label}: initializer {stored.name!r} holds {values.size} values, its shape "
                f"{list(stored.shape)} needs {count}",
                code="InvalidOnnx",
                hint=_HINT,
            )
        return values.reshape(stored.shape)

    # -- TensorSource --

    @property
    def label(self) -> str:
        return self._label

    def names(self) -> list[str]:
        return list(self._names)

    def _presented(self, name: str) -> _Presented:
        item = self._tensors.get(name)
        if item is None:
            raise NotFoundError(
                f"{self._label} has no tensor {name!r}",
                code="TensorNotFound",
                hint="List the tensors with names() (constants of the graph are not parameters and are not listed).",
            )
        return item

    def meta(self, name: str) -> TensorMeta:
        item = self._presented(name)
        shape = item.stored.shape[::-1] if item.transposed else item.stored.shape
        nbytes = sum(_expected_bytes(part.code, part.shape) or 0 for part in _parts(item))
        return TensorMeta(name, item.stored.dtype_name, shape, nbytes)

    def read(self, name: str) -> FloatArray:
        return self.read_with_digest(name)[0]

    def digest(self, name: str) -> str:
        """As ``source.array_digest`` of the presented float tensor for a plain initializer (so an
        fp32 export's weights match the checkpoint they came from bit for bit); over the stored
        values, scales and zero points of a quantized one."""
        return self.read_with_digest(name)[1]

    def read_with_digest(self, name: str) -> tuple[FloatArray, str]:
        item = self._presented(name)
        if item.scale is None and item.zero_point is None and not item.stored.name.endswith(_QUANTIZED):
            values = self._array(item.stored)
            if item.transposed:
                values = np.ascontiguousarray(values.T)
            digest = hashlib.sha256(f"{item.stored.dtype_name}|{','.join(map(str, values.shape))}|".encode())
            digest.update(np.ascontiguousarray(values).tobytes())
            return values.astype(np.float32), digest.hexdigest()
        return self._dequantized(item)

    def _dequantized(self, item: _Presented) -> tuple[FloatArray, str]:
        if item.scale is None or item.zero_point is None:
            missing = f"{item.stored.name.removesuffix(_QUANTIZED)}_{'scale' if item.scale is None else 'zero_point'}"
            raise IntegrityError(
                f"{self._label}: quantized tensor {item.stored.name!r} has no {missing!r}",
                code="InvalidQuantization",
                hint=_HINT,
            )
        digest = hashlib.sha256(
            f"onnx-quantized|{item.stored.dtype_name}|{','.join(map(str, item.stored.shape))}|".encode()
        )
        quantized = self._array(item.stored)
        scale = self._array(item.scale).astype(np.float32)
        zero = self._array(item.zero_point).astype(np.float32)
        for part in _parts(item):
            digest.update(self._bytes(part))
        if scale.shape != zero.shape or scale.ndim > 1:
            raise IntegrityError(
                f"{self._label}: quantized tensor {item.stored.name!r} has a scale of shape {list(scale.shape)} and a "
                f"zero point of shape {list(zero.shape)}; one number each, or one vector of the same length, is needed",
                code="InvalidQuantization",
                hint=_HINT,
            )
        values = quantized.astype(np.float32)
        if scale.ndim == 1 and scale.size != 1:
            axis = _channel_axis(item, quantized.shape, scale.size)
            if axis is None:
                raise IntegrityError(
                    f"{self._label}: quantized tensor {item.stored.name!r} of shape {list(quantized.shape)} has "
                    f"{scale.size} scales, which match none of its axes",
                    code="InvalidQuantization",
                    hint=_HINT,
                )
            view = [1] * values.ndim
            view[axis] = scale.size
            scale, zero = scale.reshape(view), zero.reshape(view)
        else:
            scale, zero = scale.reshape(()), zero.reshape(())
        values -= zero
        values *= scale
        if item.transposed:
            values = np.ascontiguousarray(values.T)
        return values, digest.hexdigest()

    def config(self) -> dict[str, object]:
        if self._config is None:
            self._config = {}
            if self._files.exists(CONFIG_FILE):
                document = _parse_json(
                    self._files.read_small(CONFIG_FILE, MAX_CONFIG_BYTES),
                    self._files.describe(CONFIG_FILE),
                    "InvalidConfig",
                )
                if not isinstance(document, dict):
                    raise BadRequestError(
                        f"{self._files.describe(CONFIG_FILE)} is not a JSON object", code="InvalidConfig"
                    )
                self._config = document
        return dict(self._config)

    def vocabulary(self) -> dict[str, int] | None:
        if not self._vocabulary_loaded:
            if self._files.exists(TOKENIZER_FILE):
                document = _parse_json(
                    self._files.read_small(TOKENIZER_FILE, MAX_TOKENIZER_BYTES),
                    self._files.describe(TOKENIZER_FILE),
                    "InvalidTokenizer",
                )
                self._vocabulary = tokenizer_vocabulary(document)
            self._vocabulary_loaded = True
        return None if self._vocabulary is None else dict(self._vocabulary)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._label!r}, {len(self._names)} tensors)"


def _parts(item: _Presented) -> list[_Stored]:
    return [part for part in (item.stored, item.scale, item.zero_point) if part is not None]


def _expected_bytes(code: int, shape: tuple[int, ...]) -> int | None:
    width = 2 if code == _BFLOAT16 else (_DTYPES[code][0].itemsize if code in _DTYPES else None)
    if width is None:
        return None
    count = 1
    for dim in shape:
        count *= dim
    return count * width


def _is_parameter(item: _Stored) -> bool:
    """Floating-point tensors with at least one axis and a name of their own; not graph constants."""
    return (
        item.code in _FLOAT_CODES
        and len(item.shape) >= 1
        and not _TEMPORARY.match(item.name)
        and not item.name.endswith(".inv_freq")
    )


def _channel_axis(item: _Presented, shape: tuple[int, ...], count: int) -> int | None:
    """The axis the per-channel scales run along: the graph's DequantizeLinear ``axis`` when it
    names one; else the output axis (the last for onnxruntime's MatMul weights, stored [in, out])."""
    if not shape:
        return None
    if item.axis is not None:
        named = int(item.axis) % len(shape)
        return named if shape[named] == count else None
    for axis in [len(shape) - 1, *range(len(shape) - 1)]:
        if shape[axis] == count:
            return int(axis)
    return None


def _dequantize_axes(model: onnx.ModelProto) -> dict[str, int]:
    """Quantized initializer -> the ``axis`` of the DequantizeLinear node that reads it."""
    axes: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or not node.input:
            continue
        axis = next((int(attribute.i) for attribute in node.attribute if attribute.name == "axis"), 1)
        axes[node.input[0]] = axis
    return axes


if TYPE_CHECKING:  # an OnnxCheckpoint is a TensorSource (checked by mypy, costs nothing at run time)
    _IS_TENSOR_SOURCE: type[TensorSource] = OnnxCheckpoint
