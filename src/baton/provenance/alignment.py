"""Align the residual bases of two models, and their layers when depths differ.

The residual stream of a transformer can be permuted, sign-flipped, rotated or rescaled without
changing the function (norm gains folded into the adjacent matrices). Such a reparametrisation
defeats any comparison done in the stored coordinates. Matrices with one side in a basis both
models share (token embedding rows of shared tokens, position embeddings, the pixel side of
patch embeddings) are *anchors*: orthogonal Procrustes on them recovers the map between the two
residual bases, up to what training changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass
class ResidualAlignment:
    """``x_a ≈ x_b @ matrix`` for residual rows; ``matrix`` is (d_b × d_a) with orthonormal columns."""

    matrix: FloatArray
    method: str
    anchors: int
    fit: float  # fraction of anchor energy explained after alignment (1.0: exact reparametrisation)

    @property
    def permutation_like(self) -> bool:
        """True when the map is (close to) a signed permutation of coordinates."""
        return bool(np.mean(np.max(self.matrix**2, axis=0)) > 0.9)

    def readers(self, matrix_b: FloatArray) -> FloatArray:
        """b's matrix that reads the residual (units × d_b) expressed in a's basis (units × d_a)."""
        return matrix_b @ self.matrix

    def residual_rows(self, vectors_b: FloatArray) -> FloatArray:
        """b's residual-space vectors (rows, × d_b) in a's basis."""
        return vectors_b @ self.matrix

    def gains(self, gains_b: FloatArray) -> FloatArray:
        """1-D residual parameters mapped by the squared entries (exact for signed permutations)."""
        return gains_b @ (self.matrix**2)


def identity(dimension_a: int, dimension_b: int, method: str = "identity") -> ResidualAlignment:
    return ResidualAlignment(np.eye(dimension_b, dimension_a), method, 0, float("nan"))


def procrustes(anchors_a: Sequence[FloatArray], anchors_b: Sequence[FloatArray], method: str) -> ResidualAlignment:
    """Orthogonal Procrustes on stacked anchor rows, each anchor block scaled to unit norm."""
    blocks_a, blocks_b = [], []
    for a, b in zip(anchors_a, anchors_b, strict=True):
        scale_a, scale_b = np.linalg.norm(a), np.linalg.norm(b)
        if scale_a == 0 or scale_b == 0:
            continue
        blocks_a.append(a / scale_a)
        blocks_b.append(b / scale_b)
    stacked_a = np.concatenate(blocks_a, axis=0)
    stacked_b = np.concatenate(blocks_b, axis=0)
    u, _, vt = np.linalg.svd(stacked_b.T @ stacked_a, full_matrices=False)
    matrix = u @ vt
    residual = np.linalg.norm(stacked_b @ matrix - stacked_a) ** 2
    fit = 1.0 - residual / max(1e-12, float(np.linalg.norm(stacked_a) ** 2))
    return ResidualAlignment(matrix, method, int(stacked_a.shape[0]), float(fit))


def shared_token_rows(
    vocabulary_a: dict[str, int] | None, vocabulary_b: dict[str, int] | None, rows_a: int, rows_b: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], str]:
    """Row indices of the tokens both models know, and how they were found."""
    if vocabulary_a and vocabulary_b:
        shared = sorted(set(vocabulary_a) & set(vocabulary_b))
        pairs = [
            (vocabulary_a[t], vocabulary_b[t]) for t in shared if vocabulary_a[t] < rows_a and vocabulary_b[t] < rows_b
        ]
        if pairs:
            index_a, index_b = zip(*pairs, strict=True)
            return np.asarray(index_a, dtype=np.int64), np.asarray(index_b, dtype=np.int64), "shared_tokens"
    if rows_a == rows_b and vocabulary_a is None and vocabulary_b is None:
        # No tokenizer on either side: the same vocabulary size is taken as the same tokenizer.
        index = np.arange(rows_a, dtype=np.int64)
        return index, index, "same_vocabulary_size"
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, "none"


def monotone_layer_alignment(similarity: FloatArray) -> list[tuple[int, int]]:
    """Pairs (i, j) maximising total similarity, strictly increasing in both i and j.

    With equal depths this is the identity unless the evidence says otherwise; with a pruned model
    (fewer layers) it finds which layers were kept; every layer of the shallower side is paired.
    """
    rows, columns = similarity.shape
    transpose = rows > columns
    matrix = similarity.T if transpose else similarity
    rows, columns = matrix.shape
    # best[i][j]: best total pairing the first i rows within the first j columns.
    best = np.full((rows + 1, columns + 1), -np.inf)
    best[0, :] = 0.0
    for i in range(1, rows + 1):
        for j in range(i, columns + 1):
            best[i, j] = max(best[i, j - 1], best[i - 1, j - 1] + matrix[i - 1, j - 1])
    pairs: list[tuple[int, int]] = []
    i, j = rows, columns
    while i > 0:
        if j > i and best[i, j] == best[i, j - 1]:
            j -= 1
            continue
        pairs.append((i - 1, j - 1))
        i, j = i - 1, j - 1
    pairs.reverse()
    return [(b, a) for a, b in pairs] if transpose else pairs
