"""Test statistics with their null distributions, and the multiple-testing corrections.

Every test returns a :class:`TestOutcome`: the observed statistic, the mean and spread of its
null distribution (drawn by random rotations or permutations, never hard-coded), and a one-sided
p-value for "more similar than chance". Where the observed value lies beyond every null draw, the
p-value is taken from a normal fit to the null draws, so that strong evidence gets a small p-value
instead of being floored at ``1 / (draws + 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TestOutcome:
    statistic: float
    null_mean: float
    null_std: float
    p_value: float
    draws: int


def p_from_null(observed: float, null: npt.NDArray[np.float64]) -> TestOutcome:
    """One-sided p-value of ``observed`` against null draws (upper tail)."""
    null = np.asarray(null, dtype=np.float64)
    mean = float(null.mean())
    std = float(null.std(ddof=1)) if null.size > 1 else 0.0
    exceed = int(np.sum(null >= observed))
    p_permutation = (1 + exceed) / (1 + null.size)
    p_normal = float(stats.norm.sf((observed - mean) / std)) if std > 0 else float(observed <= mean)
    # Within the range of the draws the permutation p-value is exact; beyond it, the normal tail.
    p_value = p_permutation if exceed > 0 else min(p_permutation, p_normal)
    return TestOutcome(float(observed), mean, std, float(p_value), int(null.size))


def p_from_pool(observed: float, pool: Sequence[float]) -> TestOutcome | None:
    """P-value of ``observed`` against exchangeable null values, by the t prediction interval.

    If the observed value and the pool values are exchangeable and roughly normal, the p-value is
    exact whatever the pool size; it needs at least two pool values.
    """
    values = np.asarray(pool, dtype=np.float64)
    if values.size < 2:
        return None
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    if std <= 0:
        return TestOutcome(observed, mean, std, 0.0 if observed > mean else 1.0, int(values.size))
    t_value = (observed - mean) / (std * math.sqrt(1.0 + 1.0 / values.size))
    return TestOutcome(float(observed), mean, std, float(stats.t.sf(t_value, values.size - 1)), int(values.size))


def random_signed_permutation(dimension: int, rng: np.random.Generator) -> FloatArray:
    matrix = np.zeros((dimension, dimension))
    matrix[np.arange(dimension), rng.permutation(dimension)] = rng.choice([-1.0, 1.0], size=dimension)
    return matrix


def matching_permutation_test(
    units_a: Sequence[FloatArray], units_b: Sequence[FloatArray], rng: np.random.Generator, draws: int
) -> TestOutcome:
    """Hidden-unit matching in the stored residual basis, null by signed permutations of b's basis.

    Training is equivariant to relabelling (and sign-flipping) residual coordinates, so under
    independent training b's basis is exchangeable and this null is exact (Zhu et al.). Robust to
    hidden-unit permutation and scaling; not to residual rotations (the aligned test covers those).
    """
    observed, _ = matched_similarity(unit_similarity(units_a, units_b))
    dimension = units_a[0].shape[1]
    null = np.empty(draws)
    for draw in range(draws):
        relabel = random_signed_permutation(dimension, rng)
        null[draw] = matched_similarity(unit_similarity(units_a, [part @ relabel for part in units_b]))[0]
    return p_from_null(observed, null)


def random_rotation(dimension: int, rng: np.random.Generator) -> FloatArray:
    """A Haar-distributed orthogonal matrix."""
    gaussian = rng.standard_normal((dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))[None, :]


# --- CKA --------------------------------------------------------------------------------------


def _hsic_unbiased(k: FloatArray, gram_l: FloatArray) -> float:
    """Unbiased HSIC estimator (Song et al. 2012) on Gram matrices with zeroed diagonals."""
    n = int(k.shape[0])
    ones_k = float(k.sum())
    ones_l = float(gram_l.sum())
    trace = float(np.sum(k * gram_l))
    cross = float(k.sum(axis=0) @ gram_l.sum(axis=1))
    return (trace + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


def _gram(features: FloatArray) -> FloatArray:
    gram = features @ features.T
    np.fill_diagonal(gram, 0.0)
    return gram


def unbiased_cka(x: FloatArray, y: FloatArray) -> float:
    """Linear CKA with the unbiased HSIC estimator; rows of ``x`` and ``y`` are the same samples.

    Invariant to orthogonal transforms and isotropic scaling of either feature space, and close to
    zero for unrelated features even when there are few samples (the biased estimator is not).
    """
    gram_x, gram_y = _gram(x), _gram(y)
    denominator = _hsic_unbiased(gram_x, gram_x) * _hsic_unbiased(gram_y, gram_y)
    if denominator <= 0:
        return 0.0
    return _hsic_unbiased(gram_x, gram_y) / math.sqrt(denominator)


def cka_rotation_test(
    pairs: Sequence[tuple[FloatArray, FloatArray]], rng: np.random.Generator, draws: int
) -> TestOutcome:
    """Mean unbiased CKA over (a, b) matrix pairs whose rows are aligned residual coordinates.

    Null: b's residual coordinates are unrelated to a's, simulated by a random rotation of b's
    residual basis (the same rotation for every pair of one draw).
    """
    observed = float(np.mean([unbiased_cka(a, b) for a, b in pairs]))
    dimension = pairs[0][0].shape[0]
    null = np.empty(draws)
    for draw in range(draws):
        rotation = random_rotation(dimension, rng)
        null[draw] = np.mean([unbiased_cka(a, rotation @ b) for a, b in pairs])
    return p_from_null(observed, null)


# --- MLP hidden-unit matching -----------------------------------------------------------------


def _normalise_rows(matrix: FloatArray) -> FloatArray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: FloatArray = matrix / np.maximum(norms, 1e-12)
    return normalised


def unit_similarity(units_a: Sequence[FloatArray], units_b: Sequence[FloatArray]) -> FloatArray:
    """Mean cosine similarity over the unit's vectors (e.g. gate row, up row, down column)."""
    total = np.zeros((units_a[0].shape[0], units_b[0].shape[0]))
    for part_a, part_b in zip(units_a, units_b, strict=True):
        total += _normalise_rows(part_a) @ _normalise_rows(part_b).T
    return total / len(units_a)


def matched_similarity(similarity: FloatArray) -> tuple[float, npt.NDArray[np.int64]]:
    """Mean similarity of the best one-to-one matching of a's units to b's (Hungarian)."""
    if similarity.shape[0] * similarity.shape[1] > 2048 * 2048:
        # Too costly for an exact assignment: each unit takes its best partner.
        columns = np.argmax(similarity, axis=1)
        return float(similarity[np.arange(similarity.shape[0]), columns].mean()), columns.astype(np.int64)
    rows, columns = optimize.linear_sum_assignment(similarity, maximize=True)
    order = np.argsort(rows)
    return float(similarity[rows, columns].mean()), columns[order].astype(np.int64)


def matching_rotation_test(
    units_a: Sequence[FloatArray], units_b: Sequence[FloatArray], rng: np.random.Generator, draws: int
) -> tuple[TestOutcome, npt.NDArray[np.int64]]:
    """Hidden-unit matching (as Zhu et al.), with the matching redone under random residual rotations.

    ``units_a[i]`` is (units_a × residual) for one kind of vector (gate row, up row, down column),
    already in a's residual basis; ``units_b[i]`` likewise for b, aligned to a's basis.
    """
    observed, assignment = matched_similarity(unit_similarity(units_a, units_b))
    dimension = units_a[0].shape[1]
    null = np.empty(draws)
    for draw in range(draws):
        rotation = random_rotation(dimension, rng)
        null[draw] = matched_similarity(unit_similarity(units_a, [part @ rotation for part in units_b]))[0]
    return p_from_null(observed, null), assignment


# --- 1-D parameters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorComparison:
    """Norm gains or biases: why raw cosine says nothing, and what centered correlation says."""

    raw_cosine: float
    shuffled_raw_cosine: float  # mean raw cosine after shuffling b's coordinates
    pearson: float
    outcome: TestOutcome


def compare_vectors(a: FloatArray, b: FloatArray, rng: np.random.Generator, draws: int = 999) -> VectorComparison:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    raw = float(a @ b / norm) if norm > 0 else 0.0
    a_centered, b_centered = a - a.mean(), b - b.mean()
    spread = float(np.linalg.norm(a_centered) * np.linalg.norm(b_centered))
    pearson = float(a_centered @ b_centered / spread) if spread > 0 else 0.0
    shuffled_raw = np.empty(draws)
    null = np.empty(draws)
    for draw in range(draws):
        permuted = b[rng.permutation(b.size)]
        shuffled_raw[draw] = a @ permuted / norm if norm > 0 else 0.0
        null[draw] = a_centered @ (permuted - permuted.mean()) / spread if spread > 0 else 0.0
    if spread > 0:
        outcome = p_from_null(pearson, null)
        # Beyond the draws, the exact small-sample tail of Pearson's r under exchangeability.
        if outcome.p_value <= 1.0 / (draws + 1) and a.size > 3:
            t_value = pearson * math.sqrt((a.size - 2) / max(1e-12, 1 - pearson**2))
            outcome = TestOutcome(
                pearson, outcome.null_mean, outcome.null_std, float(stats.t.sf(t_value, a.size - 2)), draws
            )
    else:
        outcome = TestOutcome(0.0, 0.0, 0.0, 1.0, 0)
    return VectorComparison(raw, float(shuffled_raw.mean()), pearson, outcome)


# --- corrections ------------------------------------------------------------------------------


def sidak(p_values: Sequence[float]) -> float:
    """P-value of the smallest of k tests: 1 - (1 - min p)^k (exact for independent tests)."""
    if not p_values:
        return 1.0
    smallest = min(p_values)
    return float(-np.expm1(len(p_values) * np.log1p(-min(smallest, 1.0 - 1e-300)))) if smallest < 1 else 1.0


def holm_sidak(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down procedure with Šidák steps: adjusted p-values, same order as given."""
    count = len(p_values)
    order = np.argsort(p_values)
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(order):
        remaining = count - rank
        p = float(p_values[index])
        step = float(-np.expm1(remaining * np.log1p(-min(p, 1.0 - 1e-300)))) if p < 1 else 1.0
        running = max(running, step)
        adjusted[index] = min(1.0, running)
    return adjusted


def bonferroni_over_references(p_value: float, references: int) -> float:
    """Scanning against many reference models: multiply by how many were compared."""
    return min(1.0, p_value * max(1, references))
