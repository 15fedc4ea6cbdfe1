"""Exact copying: per-tensor content digests, and bit-identical values beyond chance.

A digest (``TensorSource.digest``) covers dtype, shape and stored bytes, so equal digests mean a
bit-exact copy whatever the tensor is called: a copied vision encoder is found under any prefix.
A copied tensor that was then lightly tuned no longer hashes the same, but at low precision (BF16,
FP8) many of its values keep their exact bit pattern; ``bit_identical_fraction`` measures that
fraction and tests it against the rate two unrelated tensors with the same value distributions
would reach by chance.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from baton.core.errors import BadRequestError
from baton.provenance.source import TensorSource

# Above this many elements, a seeded sample of positions is compared instead of every position.
MAX_COMPARED_VALUES: Final = 1 << 20

_UNSIGNED_BY_WIDTH: Final[dict[int, type[np.unsignedinteger[Any]]]] = {
    1: np.uint8,
    2: np.uint16,
    4: np.uint32,
    8: np.uint64,
}


def tensor_digests(source: TensorSource) -> dict[str, str]:
    """Tensor name -> digest for every tensor of ``source`` (one tensor's bytes in memory at a time)."""
    return {name: source.digest(name) for name in source.names()}


class BitIdentity(NamedTuple):
    """Unpacks as ``(fraction, chance_rate, p_value)``."""

    fraction: float  # share of compared positions whose values have the same bit pattern
    chance_rate: float  # the share expected between unrelated tensors with these value distributions
    p_value: float  # one-sided binomial: P(at least this many identical positions | chance_rate)


def _bit_patterns(values: npt.NDArray[Any]) -> npt.NDArray[np.unsignedinteger[Any]]:
    unsigned = _UNSIGNED_BY_WIDTH.get(values.dtype.itemsize)
    if unsigned is None:
        raise BadRequestError(
            f"cannot compare bit patterns of dtype {values.dtype}", hint="Pass arrays of 1, 2, 4 or 8-byte values."
        )
    return np.ascontiguousarray(values).view(unsigned)


def _stratified_positions(count: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    """``size`` distinct sorted positions in ``range(count)``: one drawn at random in each of ``size`` equal strata.

    Unlike ``Generator.choice(count, size, replace=False)``, which may shuffle a ``count``-long
    index array (8 bytes per element: twice a float32 tensor), it needs memory only for ``size``.
    """
    edges = (np.arange(size + 1, dtype=np.int64) * count) // size
    widths = np.diff(edges)
    offsets = np.floor(np.random.default_rng(seed).random(size) * widths).astype(np.int64)
    positions: npt.NDArray[np.int64] = edges[:-1] + offsets
    return positions


def _equal_pattern_pairs(
    bits_a: npt.NDArray[np.unsignedinteger[Any]], bits_b: npt.NDArray[np.unsignedinteger[Any]], chunk: int = 1 << 16
) -> int:
    """Σ over patterns v of count_a(v) · count_b(v), i.e. pairs (i, j) with ``a[i]`` and ``b[j]`` equal.

    Both sides sorted (one copy each), then for every value of a the run of equal values in b is
    found by binary search, a chunk at a time: memory stays at the two sorted copies.
    """
    sorted_a, sorted_b = np.sort(bits_a), np.sort(bits_b)
    total = 0
    for start in range(0, sorted_a.size, chunk):
        values = sorted_a[start : start + chunk]
        high = np.searchsorted(sorted_b, values, side="right")
        low = np.searchsorted(sorted_b, values, side="left")
        total += int(np.sum(high - low))
    return total


def bit_identical_fraction(
    a: npt.NDArray[Any],
    b: npt.NDArray[Any],
    *,
    max_values: int = MAX_COMPARED_VALUES,
    seed: int = 0,
) -> BitIdentity:
    """How many positions of ``a`` and ``b`` hold bit-identical values, against chance.

    Values are compared as raw bit patterns at the precision they come in: pass the stored arrays
    (e.g. ``ml_dtypes.bfloat16``) when both have the same dtype; arrays of different dtypes are
    both converted to float32 first. Converting BF16, F16 or FP8 values to float32 is exact and
    one-to-one, so float32 arrays read from such checkpoints give the same answer as the stored
    arrays.

    The chance rate is the probability that a value of ``a`` and a value of ``b`` at *different*
    positions share a bit pattern: sum over patterns v of P_a(v)·P_b(v), estimated from the two
    histograms without the diagonal (matching positions themselves), i.e. what a random pairing
    of the positions would give. It is near 0 for float32 weights and substantial for BF16/FP8 or
    for tensors full of repeated values (norm gains at 1.0), so that those do not pass for copies.
    The p-value is the one-sided binomial probability of at least the observed number of identical
    positions at that rate; when no two values at different positions coincide, the rate used by
    the test is floored at 3/(n(n-1)) (the "rule of three" bound), while the rate reported stays 0.

    For more than ``max_values`` elements, ``max_values`` positions are compared (the same in both
    arrays): the positions are cut into ``max_values`` equal strata and one position is drawn in
    each by a generator seeded with ``seed``, so the result is deterministic, the cost is bounded
    (sorting ~1M values; memory a few arrays of ``max_values``, whatever the tensor's size) and
    fraction, rate and test all come from the same sample.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise BadRequestError(
            f"cannot compare values position by position: shapes {list(a.shape)} and {list(b.shape)} differ",
            hint="Align the tensors (same shape, same order of units) before comparing their values.",
        )
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    count = flat_a.size
    if count == 0:
        return BitIdentity(0.0, 0.0, 1.0)
    if count > max_values:
        positions = _stratified_positions(count, max_values, seed)
        flat_a, flat_b = flat_a[positions], flat_b[positions]
        del positions
        count = max_values
    if flat_a.dtype != flat_b.dtype:
        flat_a, flat_b = flat_a.astype(np.float32), flat_b.astype(np.float32)
    bits_a, bits_b = _bit_patterns(flat_a), _bit_patterns(flat_b)

    identical = int(np.count_nonzero(bits_a == bits_b))
    # Pairs (i, j) with equal patterns, i != j: the diagonal pairs are the identical positions.
    coinciding = float(_equal_pattern_pairs(bits_a, bits_b) - identical)
    pairs = float(count) * float(count - 1)
    chance = coinciding / pairs if pairs else 0.0
    if identical == 0:
        p_value = 1.0
    else:
        tested = min(1.0, max(chance, 3.0 / pairs)) if pairs else 1.0
        p_value = float(stats.binom.sf(identical - 1, count, tested))
    return BitIdentity(identical / count, chance, p_value)
