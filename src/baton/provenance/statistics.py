"""Test statistics with their null distributions, and the multiple-testing corrections.

Every test returns a :class:`TestOutcome`: the observed statistic, the mean and spread of its
null distribution (drawn by random rotations or permutations, never hard-coded), and a one-sided
p-value for "more similar than chance". Within the range of the draws the p-value is the
permutation one, ``(1 + #draws ≥ observed) / (1 + draws)``, exact for exchangeable draws. Where the
observed value lies beyond every draw, the tail is extrapolated with the Student-t *prediction*
interval of the draws (:func:`prediction_tail`), so that strong evidence gets a small p-value
instead of being floored at ``1 / (draws + 1)``. A plug-in normal tail (``norm.sf((x - mean) / std)``
with the mean and spread estimated from the same few draws) is not used: it ignores the error of
those estimates, and with 20 draws it rejected 2 × too often at 0.01 and 3-4 × too often at 0.001
on independent tiny models (docs/provenance.md, "Calibration").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

FloatArray = npt.NDArray[np.float64]
AnyFloatArray = npt.NDArray[np.floating[Any]]  # float32 unit matrices, float64 small arrays
POOL_SPREAD_FLOOR = 1e-6  # relative spread of a null pool below which it is taken as constant


@dataclass(frozen=True)
class TestOutcome:
    statistic: float
    null_mean: float
    null_std: float
    p_value: float
    draws: int


# The stored-basis matching test draws more when its first draws leave a borderline p-value.
EXTENDED_DRAWS = 400
DECISIVE_P = 1e-12  # below this the t tail of the first draws decides (a copy, not a borderline case)


def prediction_tail(observed: float, mean: float, std: float, size: int) -> float:
    """P(a new draw ≥ ``observed``) for ``size`` draws of mean ``mean`` and spread ``std`` (ddof 1).

    The t prediction interval: ``(x - mean) / (std * sqrt(1 + 1/n))`` follows Student's t with
    n - 1 degrees of freedom when the draws and the new value are i.i.d. normal, whatever n. It
    carries the uncertainty of the estimated mean and spread, which the plug-in normal tail drops.
    """
    if size < 2 or std <= 0:
        return 1.0 if observed <= mean else 0.0
    t_value = (observed - mean) / (std * math.sqrt(1.0 + 1.0 / size))
    return float(stats.t.sf(t_value, size - 1))


def p_from_null(observed: float, null: npt.NDArray[np.float64]) -> TestOutcome:
    """One-sided p-value of ``observed`` against null draws (upper tail).

    Within the range of the draws, the permutation p-value with its +1 (exact); beyond every draw,
    the smaller of that and the t prediction tail of the draws (:func:`prediction_tail`).
    """
    null = np.asarray(null, dtype=np.float64)
    mean = float(null.mean())
    std = float(null.std(ddof=1)) if null.size > 1 else 0.0
    exceed = int(np.sum(null >= observed))
    p_permutation = (1 + exceed) / (1 + null.size)
    if exceed > 0 or null.size < 2:
        p_value = p_permutation
    else:
        p_value = min(p_permutation, prediction_tail(observed, mean, std, int(null.size)))
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
    if std <= POOL_SPREAD_FLOOR * max(1.0, abs(mean)):
        # A pool without spread (e.g. the symmetric unpaired pairs of a copied 2-layer stack); below the
        # floor, differences are rounding of the float32 statistics, not variation.
        return TestOutcome(observed, mean, std, 0.0 if observed > mean + std else 1.0, int(values.size))
    p_value = prediction_tail(observed, mean, std, int(values.size))
    return TestOutcome(float(observed), mean, std, p_value, int(values.size))


def random_signed_permutation(dimension: int, rng: np.random.Generator) -> FloatArray:
    """The matrix of a random signed permutation (for reference; the tests apply them by indexing)."""
    permutation, signs = _draw_signed_permutation(dimension, rng)
    matrix = np.zeros((dimension, dimension))
    matrix[np.arange(dimension), permutation] = signs
    return matrix


def _draw_signed_permutation(dimension: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], FloatArray]:
    # Signs first, then the permutation: the order in which earlier versions drew them
    # (``matrix[rows, rng.permutation(d)] = rng.choice(...)`` evaluates the right side first).
    signs: FloatArray = rng.choice([-1.0, 1.0], size=dimension)
    permutation = rng.permutation(dimension).astype(np.int64)
    return permutation, signs


def matching_permutation_test(
    units_a: Sequence[AnyFloatArray],
    units_b: Sequence[AnyFloatArray],
    rng: np.random.Generator,
    draws: int,
    *,
    normalised: bool = False,
) -> TestOutcome:
    """Hidden-unit matching in the stored residual basis, null by signed permutations of b's basis.

    Training is equivariant to relabelling (and sign-flipping) residual coordinates, so under
    independent training b's basis is exchangeable and this null is exact (Zhu et al.). Robust to
    hidden-unit permutation and scaling; not to residual rotations (the aligned test covers those).

    A signed permutation ``M`` (``M[i, perm[i]] = sign[i]``) of b's coordinates gives the same
    similarities as its inverse applied to a's: ``a @ (b @ M).T == (a[:, perm] * sign) @ b.T``.
    It is applied by indexing a's (fewer, sampled) rows, never as a dense matrix product, and row
    norms do not change under it, so each side is normalised once. ``normalised``: the rows of
    both sides already have unit norm.
    """
    if not normalised:
        units_a = [_normalise_rows(part) for part in units_a]
        units_b = [_normalise_rows(part) for part in units_b]
    observed, _ = matched_similarity(similarity_of_normalised(units_a, units_b))
    dimension = units_a[0].shape[1]

    def null_draws(count: int) -> FloatArray:
        null = np.empty(count)
        for draw in range(count):
            permutation, signs = _draw_signed_permutation(dimension, rng)
            relabelled = [part[:, permutation] * signs.astype(part.dtype)[None, :] for part in units_a]
            null[draw] = matched_similarity(similarity_of_normalised(relabelled, units_b))[0]
        return null

    null = null_draws(draws)
    outcome = p_from_null(observed, null)
    if not np.any(null >= observed) and outcome.p_value >= DECISIVE_P and draws < EXTENDED_DRAWS:
        # Beyond every draw, but not decisively: the t tail of a few draws is too thin for this
        # null on small blocks (issue 17: 6e-5 from 20 draws where 2,000 draws give 1.5e-3), so
        # draw up to EXTENDED_DRAWS and decide on all of them. Still valid: a p-value <= alpha
        # < 1/(draws + 1) needs the observed value beyond the first draws *and* within the
        # permutation bound of all of them, no likelier than the latter alone.
        null = np.concatenate([null, null_draws(EXTENDED_DRAWS - draws)])
        outcome = p_from_null(observed, null)
    return outcome


def random_rotation(dimension: int, rng: np.random.Generator) -> FloatArray:
    """A Haar-distributed orthogonal matrix."""
    gaussian = rng.standard_normal((dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))[None, :]


# --- CKA --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gram:
    """A linear-kernel Gram matrix with its diagonal zeroed, with the sums unbiased HSIC needs (float64)."""

    matrix: FloatArray
    total: float
    column_sums: FloatArray
    row_sums: FloatArray
    self_hsic: float

    @property
    def size(self) -> int:
        return int(self.matrix.shape[0])


def _hsic(k: Gram, gram_l: Gram) -> float:
    """Unbiased HSIC estimator (Song et al. 2012) on Gram matrices with zeroed diagonals."""
    n = k.size
    trace = float(np.vdot(k.matrix, gram_l.matrix))
    cross = float(k.column_sums @ gram_l.row_sums)
    return (trace + k.total * gram_l.total / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


def gram_summary(gram: AnyFloatArray) -> Gram:
    """``gram`` (n × n, e.g. ``x @ x.T``) as float64 with a zeroed diagonal, and its sums."""
    matrix = np.array(gram, dtype=np.float64)  # a copy: the caller's array is left as it is
    np.fill_diagonal(matrix, 0.0)
    partial = Gram(matrix, float(matrix.sum()), matrix.sum(axis=0), matrix.sum(axis=1), 0.0)
    return Gram(matrix, partial.total, partial.column_sums, partial.row_sums, _hsic(partial, partial))


def cka_of_grams(x: Gram, y: Gram) -> float:
    """Unbiased linear CKA from the two Gram matrices (same samples, same order)."""
    denominator = x.self_hsic * y.self_hsic
    if denominator <= 0:
        return 0.0
    return _hsic(x, y) / math.sqrt(denominator)


def unbiased_cka(x: AnyFloatArray, y: AnyFloatArray) -> float:
    """Linear CKA with the unbiased HSIC estimator; rows of ``x`` and ``y`` are the same samples.

    Invariant to orthogonal transforms and isotropic scaling of either feature space, and close to
    zero for unrelated features even when there are few samples (the biased estimator is not).
    """
    return cka_of_grams(gram_summary(x @ x.T), gram_summary(y @ y.T))


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


def _normalise_rows(matrix: AnyFloatArray) -> AnyFloatArray:
    """Rows scaled to unit norm, in the matrix's own precision."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: AnyFloatArray = matrix / np.maximum(norms, 1e-12).astype(matrix.dtype)
    return normalised


def normalise_rows(matrix: AnyFloatArray) -> AnyFloatArray:
    return _normalise_rows(matrix)


def similarity_of_normalised(units_a: Sequence[AnyFloatArray], units_b: Sequence[AnyFloatArray]) -> FloatArray:
    """Mean over the unit's vectors of ``a @ b.T`` for rows already of unit norm (accumulated in float64)."""
    total = np.zeros((units_a[0].shape[0], units_b[0].shape[0]))
    for part_a, part_b in zip(units_a, units_b, strict=True):
        total += part_a @ part_b.T
    total /= len(units_a)
    return total


def unit_similarity(units_a: Sequence[AnyFloatArray], units_b: Sequence[AnyFloatArray]) -> FloatArray:
    """Mean cosine similarity over the unit's vectors (e.g. gate row, up row, down column)."""
    return similarity_of_normalised([_normalise_rows(p) for p in units_a], [_normalise_rows(p) for p in units_b])


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


def compare_vectors(a: AnyFloatArray, b: AnyFloatArray, rng: np.random.Generator, draws: int = 999) -> VectorComparison:
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


# --- corrections (Holm, Holm–Šidák, Šidák: baton.core.multiple_testing) -------------------------


def bonferroni_over_references(p_value: float, references: int) -> float:
    """Scanning against many reference models: multiply by how many were compared."""
    return min(1.0, p_value * max(1, references))
