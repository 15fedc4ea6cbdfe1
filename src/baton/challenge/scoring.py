"""Normalizing criterion values to [0, 1] and carrying their uncertainty into the composite.

Every criterion yields, per team, an ``Estimate`` (value and standard error). Benchmarks are
normalized per task and then averaged; the composite is ``sum(weight × value)`` with standard
error ``sqrt(sum((weight × stderr)²))`` (criteria are treated as independent) and a 95% normal
interval. All functions are pure; ``rank`` draws its uncertainty from a seeded simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
RANK_SIMULATIONS = 2000
DIGITS = 6  # published numbers are rounded so that recomputation on any machine agrees


@dataclass(frozen=True)
class Estimate:
    value: float
    stderr: float = 0.0

    @property
    def lower(self) -> float:
        return self.value - Z95 * self.stderr

    @property
    def upper(self) -> float:
        return self.value + Z95 * self.stderr

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.value * factor, abs(self.stderr * factor))


def rounded(value: float) -> float:
    result = round(float(value), DIGITS)
    return 0.0 if result == 0 else result  # no "-0.0" in published records


def clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def normalize_raw(values: Mapping[str, Estimate]) -> dict[str, Estimate]:
    """The score as it is, clipped to [0, 1] (benchmark accuracies, review fractions, win probabilities)."""
    return {team: Estimate(clip01(est.value), est.stderr) for team, est in values.items()}


def normalize_minmax(values: Mapping[str, Estimate]) -> dict[str, Estimate]:
    """Best team 1, worst 0, linear between; the spread is treated as fixed for the stderr."""
    if not values:
        return {}
    low = min(est.value for est in values.values())
    high = max(est.value for est in values.values())
    spread = high - low
    if spread <= 0:
        return {team: Estimate(1.0, 0.0) for team in values}
    return {team: Estimate((est.value - low) / spread, est.stderr / spread) for team, est in values.items()}


def normalize_ratio(
    values: Mapping[str, Estimate], targets: Mapping[str, Estimate | None], *, cap: float = 1.0
) -> dict[str, Estimate]:
    """Ratio to the team's own declared target model ("95% of the target"); ``cap`` earns full marks.

    The stderr of a ratio follows the delta method: r·sqrt((se_s/s)² + (se_t/t)²).
    A team without a target score gets 0 (the decision's detail says the target score is missing).
    """
    result: dict[str, Estimate] = {}
    for team, est in values.items():
        target = targets.get(team)
        if target is None or target.value <= 0:
            result[team] = Estimate(0.0, 0.0)
            continue
        ratio = est.value / target.value
        relative = math.hypot(est.stderr / est.value if est.value > 0 else 0.0, target.stderr / target.value)
        stderr = abs(ratio) * relative
        if ratio >= cap:
            result[team] = Estimate(1.0, 0.0 if ratio - Z95 * stderr >= cap else stderr / cap)
        else:
            result[team] = Estimate(max(0.0, ratio) / cap, stderr / cap)
    return result


def _rank_values(points: np.ndarray) -> np.ndarray:
    """(n - rank) / (n - 1) for each column of ``points`` (rows are simulations); ties share ranks."""
    n = points.shape[-1]
    if n == 1:
        return np.ones_like(points)
    # Average ranks (0 = worst) via counting: below + half of the equal ones besides itself.
    below = (points[..., :, None] > points[..., None, :]).sum(axis=-1)
    equal = (points[..., :, None] == points[..., None, :]).sum(axis=-1) - 1
    result: np.ndarray = (below + equal / 2.0) / (n - 1)
    return result


def normalize_rank(values: Mapping[str, Estimate], *, seed: int) -> dict[str, Estimate]:
    """Rank among the teams (best 1, worst 0); its stderr from a seeded simulation of the scores."""
    if not values:
        return {}
    teams = sorted(values)
    means = np.array([values[team].value for team in teams])
    errors = np.array([values[team].stderr for team in teams])
    point = _rank_values(means[None, :])[0]
    rng = np.random.default_rng(seed)
    draws = means[None, :] + rng.standard_normal((RANK_SIMULATIONS, len(teams))) * errors[None, :]
    spread = _rank_values(draws).std(axis=0)
    return {team: Estimate(float(point[i]), float(spread[i])) for i, team in enumerate(teams)}


def normalize(
    method: str,
    values: Mapping[str, Estimate],
    *,
    targets: Mapping[str, Estimate | None] | None = None,
    cap: float = 1.0,
    seed: int = 0,
) -> dict[str, Estimate]:
    if method == "raw":
        return normalize_raw(values)
    if method == "minmax":
        return normalize_minmax(values)
    if method == "rank":
        return normalize_rank(values, seed=seed)
    if method == "ratio_to_target":
        return normalize_ratio(values, targets or {}, cap=cap)
    raise ValueError(f"unknown normalization {method!r}")


def mean_estimate(estimates: Sequence[Estimate]) -> Estimate:
    """The mean of independent estimates (tasks of one criterion)."""
    if not estimates:
        return Estimate(0.0, 0.0)
    count = len(estimates)
    return Estimate(
        sum(est.value for est in estimates) / count, math.sqrt(sum(est.stderr**2 for est in estimates)) / count
    )


def weighted_mean_estimate(estimates: Sequence[Estimate], weights: Sequence[float]) -> Estimate:
    """The weighted mean of independent estimates: ``Σ wᵢ·vᵢ / Σ wᵢ`` with stderr ``sqrt(Σ (wᵢ·seᵢ)²) / Σ wᵢ``.

    Equal weights give exactly ``mean_estimate`` (a plain task list is the all-ones case).
    """
    if len(estimates) != len(weights):
        raise ValueError("one weight per estimate")
    if not estimates:
        return Estimate(0.0, 0.0)
    if all(weight == 1.0 for weight in weights):
        return mean_estimate(estimates)
    total = math.fsum(weights)
    if total <= 0:
        raise ValueError("the weights must sum to more than 0")
    return Estimate(
        math.fsum(weight * est.value for weight, est in zip(weights, estimates, strict=True)) / total,
        math.sqrt(math.fsum((weight * est.stderr) ** 2 for weight, est in zip(weights, estimates, strict=True)))
        / total,
    )


def composite(points: Sequence[Estimate]) -> Estimate:
    """Sum of independent weighted criterion points."""
    return Estimate(sum(p.value for p in points), math.sqrt(sum(p.stderr**2 for p in points)))


def win_probability(rating: float, lower: float, upper: float, field_mean: float, scale: float = 400.0) -> Estimate:
    """Expected win rate against a team rated at the field's mean (Elo-style scale), with a delta-method stderr."""
    probability = 1.0 / (1.0 + 10.0 ** (-(rating - field_mean) / scale))
    rating_stderr = max(0.0, upper - lower) / (2 * Z95)
    slope = probability * (1 - probability) * math.log(10) / scale
    return Estimate(probability, slope * rating_stderr)
