"""Align the residual bases of two models, and their layers when depths differ.

The residual stream of a transformer can be permuted, sign-flipped, rotated or rescaled without
changing the function (norm gains folded into the adjacent matrices). Such a reparametrisation
defeats any comparison done in the stored coordinates. Matrices with one side in a basis both
models share (token embedding rows of shared tokens, position embeddings, the pixel side of
patch embeddings) are *anchors*: orthogonal Procrustes on them recovers the map between the two
residual bases, up to what training changed.

Anchors can be large (a 128k-token embedding), so :class:`AnchorStatistics` accumulates what the
alignment needs (d × d cross-products, in float64) over row blocks of float32 anchors: the memory
is the two anchors as read plus a few d × d matrices, never float64 copies of whole anchors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
AnyFloatArray = npt.NDArray[np.floating[Any]]
IndexArray = npt.NDArray[np.int64]
BLOCK_BYTES = 4 << 20  # float64 row blocks of about this size


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


def _row_blocks(array: AnyFloatArray, index: IndexArray | None, rows_per_block: int) -> Iterator[FloatArray]:
    """The rows of ``array`` (or ``array[index]``) as float64 copies, a block at a time."""
    count = int(index.size) if index is not None else int(array.shape[0])
    for start in range(0, count, rows_per_block):
        stop = min(count, start + rows_per_block)
        part = array[index[start:stop]] if index is not None else array[start:stop]
        yield part.astype(np.float64)


class AnchorStatistics:
    """What orthogonal Procrustes and a's anchor covariance need, accumulated over row blocks.

    Each anchor pair (a block of rows of a and the matching rows of b) is scaled to unit Frobenius
    norm, as if all normalised anchors were stacked: ``cross = Σ_k B_kᵀ A_k / (|A_k| |B_k|)``. The
    unnormalised rows of a (every anchor) also give a's mean and Gram matrix, from which the
    principal directions of a's anchors follow without an SVD of the anchors themselves.
    """

    def __init__(self) -> None:
        self.cross: FloatArray | None = None  # d_b × d_a
        self.gram_b: FloatArray | None = None  # d_b × d_b, normalised anchors (only when d_b > d_a)
        self.kept = 0  # anchors with non-zero norm on both sides
        self.kept_rows = 0
        self.rows_a = 0
        self.sum_a: FloatArray | None = None
        self.gram_a: FloatArray | None = None  # d_a × d_a, unnormalised rows of every anchor

    def add(
        self,
        anchor_a: AnyFloatArray,
        anchor_b: AnyFloatArray,
        index_a: IndexArray | None = None,
        index_b: IndexArray | None = None,
    ) -> None:
        """One anchor pair: rows of ``anchor_a`` (or ``anchor_a[index_a]``) against those of b."""
        width_a, width_b = int(anchor_a.shape[1]), int(anchor_b.shape[1])
        step = max(1, BLOCK_BYTES // (8 * max(width_a, width_b, 1)))
        energy_a = sum(float(np.vdot(x, x)) for x in _row_blocks(anchor_a, index_a, step))
        energy_b = sum(float(np.vdot(y, y)) for y in _row_blocks(anchor_b, index_b, step))
        if self.sum_a is None or self.gram_a is None:
            self.sum_a, self.gram_a = np.zeros(width_a), np.zeros((width_a, width_a))
        use = energy_a > 0 and energy_b > 0
        if use and self.cross is None:
            self.cross = np.zeros((width_b, width_a))
            self.gram_b = np.zeros((width_b, width_b)) if width_b > width_a else None
        scale = 1.0 / math.sqrt(energy_a * energy_b) if use else 0.0
        blocks = zip(_row_blocks(anchor_a, index_a, step), _row_blocks(anchor_b, index_b, step), strict=True)
        for block_a, block_b in blocks:
            self.rows_a += int(block_a.shape[0])
            self.sum_a += block_a.sum(axis=0)
            self.gram_a += block_a.T @ block_a
            if use and self.cross is not None:
                self.kept_rows += int(block_a.shape[0])
                self.cross += (block_b.T @ block_a) * scale
                if self.gram_b is not None:
                    self.gram_b += (block_b.T @ block_b) * (1.0 / energy_b)
        self.kept += int(use)

    def alignment(self, method: str, width_a: int | None = None, width_b: int | None = None) -> ResidualAlignment:
        """Orthogonal Procrustes on the stacked normalised anchors, and the fraction of their energy it explains."""
        if self.cross is None or self.kept == 0:
            if width_a is None or width_b is None:
                raise ValueError("no anchor with non-zero norm on both sides")
            return identity(width_a, width_b, "identity (no non-zero anchors)")
        u, singular, vt = np.linalg.svd(self.cross, full_matrices=False)
        matrix: FloatArray = u @ vt
        # |B R - A|² = |B R|² - 2 tr(Rᵀ Bᵀ A) + |A|², with |A|² = kept (unit blocks) and tr(Rᵀ Bᵀ A) = Σσ;
        # |B R|² = |B|² = kept unless R has fewer columns than rows (then it needs Bᵀ B).
        stretched = float(np.sum((self.gram_b @ matrix) * matrix)) if self.gram_b is not None else float(self.kept)
        residual = max(0.0, stretched - 2.0 * float(singular.sum()) + self.kept)
        fit = 1.0 - residual / max(1e-12, float(self.kept))
        return ResidualAlignment(matrix, method, self.kept_rows, float(fit))

    def principal_directions(self, count: int) -> FloatArray | None:
        """The ``count`` leading principal directions of a's anchor rows (d_a × count), or None without anchors."""
        if self.sum_a is None or self.gram_a is None or self.rows_a == 0:
            return None
        mean = self.sum_a / self.rows_a
        covariance = self.gram_a - self.rows_a * np.outer(mean, mean)
        covariance = (covariance + covariance.T) / 2.0
        _, vectors = np.linalg.eigh(covariance)
        count = min(count, self.rows_a, int(covariance.shape[0]))
        leading: FloatArray = vectors[:, ::-1][:, :count]
        return leading

    @property
    def width_a(self) -> int | None:
        return None if self.gram_a is None else int(self.gram_a.shape[0])


def procrustes(
    anchors_a: Sequence[AnyFloatArray], anchors_b: Sequence[AnyFloatArray], method: str
) -> ResidualAlignment:
    """Orthogonal Procrustes on stacked anchor rows, each anchor block scaled to unit norm."""
    statistics = AnchorStatistics()
    for a, b in zip(anchors_a, anchors_b, strict=True):
        statistics.add(a, b)
    return statistics.alignment(method)


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
