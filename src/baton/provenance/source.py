"""What the provenance engine reads: named tensors, one at a time.

A ``TensorSource`` is a checkpoint seen as a flat mapping from tensor names (as stored, e.g.
``model.layers.2.mlp.up_proj.weight``) to arrays. Readers (``reader.py``) stream them from a local
folder or a hub revision; tests can wrap a dict of numpy arrays with ``ArraySource``. The engine
must never hold more than a few tensors at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TensorMeta:
    name: str
    dtype: str  # the stored safetensors dtype, e.g. "BF16", "F8_E4M3"
    shape: tuple[int, ...]
    nbytes: int  # bytes as stored


@runtime_checkable
class TensorSource(Protocol):
    """A checkpoint whose tensors are read one at a time."""

    @property
    def label(self) -> str:
        """Human-readable name (folder, ``repo@revision``) used in reports."""
        ...

    def names(self) -> list[str]:
        """Every tensor name, in a stable order (scale tensors of FP8 weights excluded)."""
        ...

    def meta(self, name: str) -> TensorMeta: ...

    def read(self, name: str) -> FloatArray:
        """The tensor as float32, dequantized (FP8 scales applied)."""
        ...

    def digest(self, name: str) -> str:
        """sha256 over dtype, shape and the stored bytes: equal digests mean a bit-exact copy."""
        ...

    def config(self) -> dict[str, object]:
        """config.json, or {} when absent (context only, never evidence)."""
        ...

    def vocabulary(self) -> dict[str, int] | None:
        """token -> id from tokenizer.json when present (to align embeddings by shared tokens)."""
        ...


def array_digest(dtype: str, shape: tuple[int, ...], data: bytes) -> str:
    digest = hashlib.sha256(f"{dtype}|{','.join(map(str, shape))}|".encode())
    digest.update(data)
    return digest.hexdigest()


def _stored_dtype(array: npt.NDArray[np.generic]) -> str:
    # The safetensors spelling ("F32", "BF16"), so in-memory digests equal the readers' digests.
    from baton.provenance.reader import safetensors_dtype_name  # the reader imports this module

    return safetensors_dtype_name(array.dtype)


class ArraySource:
    """An in-memory TensorSource over numpy arrays (tests, and derivatives made in memory)."""

    def __init__(
        self,
        tensors: Mapping[str, npt.NDArray[np.generic]],
        *,
        label: str = "arrays",
        config: dict[str, object] | None = None,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        self._tensors = dict(tensors)
        self._label = label
        self._config = config or {}
        self._vocabulary = vocabulary

    @property
    def label(self) -> str:
        return self._label

    def names(self) -> list[str]:
        return list(self._tensors)

    def meta(self, name: str) -> TensorMeta:
        array = self._tensors[name]
        return TensorMeta(name, _stored_dtype(array), tuple(array.shape), int(array.nbytes))

    def read(self, name: str) -> FloatArray:
        return np.asarray(self._tensors[name], dtype=np.float32)

    def digest(self, name: str) -> str:
        array = np.ascontiguousarray(self._tensors[name])
        return array_digest(_stored_dtype(array), tuple(array.shape), array.tobytes())

    def config(self) -> dict[str, object]:
        return dict(self._config)

    def vocabulary(self) -> dict[str, int] | None:
        return self._vocabulary
