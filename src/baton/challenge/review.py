"""Expert review: rubric totals, conflict-of-interest checks, and robust aggregation with an interval.

A reviewer's total for a team is the rubric's weighted fraction of the maximum, in [0, 1]. The
reviewers' totals are aggregated robustly (trimmed mean by default, or median) so that one
outlying reviewer moves the result little; the interval comes from a seeded bootstrap over
reviewers. Pure functions only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from baton.challenge.scoring import Estimate
from baton.challenge.spec import Criterion

BOOTSTRAP_ROUNDS = 1000


class RubricError(ValueError):
    """Scores that do not fit the rubric."""


def check_scores(criterion: Criterion, scores: Mapping[str, float]) -> dict[str, float]:
    """The scores as floats, or RubricError naming every item missing, unknown or out of range."""
    items = {item.id: item for item in criterion.rubric}
    problems = []
    missing = sorted(set(items) - set(scores))
    unknown = sorted(set(scores) - set(items))
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("not in the rubric: " + ", ".join(unknown))
    checked: dict[str, float] = {}
    for name, raw in scores.items():
        if name not in items:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            problems.append(f"{name} is not a number")
            continue
        if not math.isfinite(value) or value < 0 or value > items[name].max:
            problems.append(f"{name}={raw} outside 0..{items[name].max:g}")
            continue
        checked[name] = value
    if problems:
        rubric = ", ".join(f"{item.id} (0..{item.max:g})" for item in criterion.rubric)
        raise RubricError(f"scores do not fit the rubric of '{criterion.id}': {'; '.join(problems)}. Rubric: {rubric}")
    return checked


def rubric_total(criterion: Criterion, scores: Mapping[str, float]) -> float:
    """Weighted fraction of the maximum, in [0, 1]."""
    weight = sum(item.weight for item in criterion.rubric)
    return sum(item.weight * float(scores.get(item.id, 0.0)) / item.max for item in criterion.rubric) / weight


def conflicted(reviewer_organizations: Iterable[str], team_organizations: Iterable[str]) -> list[str]:
    """The organizations a person shares with a team (a non-empty result excludes them)."""
    return sorted(set(reviewer_organizations) & set(team_organizations))


def aggregate(values: Sequence[float], method: str, trim: float = 0.2) -> float:
    array = np.sort(np.asarray(values, dtype=float))
    if array.size == 0:
        return 0.0
    if method == "median":
        return float(np.median(array))
    if method == "mean":
        return float(array.mean())
    cut = math.floor(array.size * trim)
    kept = array[cut : array.size - cut] if array.size - 2 * cut > 0 else array
    return float(kept.mean())


@dataclass(frozen=True)
class Aggregate:
    estimate: Estimate
    lower: float
    upper: float
    count: int


def aggregate_with_interval(values: Sequence[float], method: str, trim: float, *, seed: int) -> Aggregate:
    """Robust aggregate, bootstrap stderr and percentile 95% interval over reviewers."""
    point = aggregate(values, method, trim)
    if len(values) < 2:
        return Aggregate(Estimate(point, 0.0), point, point, len(values))
    array = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    samples = np.sort(array[rng.integers(0, array.size, size=(BOOTSTRAP_ROUNDS, array.size))], axis=1)
    if method == "median":
        stats = np.median(samples, axis=1)
    elif method == "mean":
        stats = samples.mean(axis=1)
    else:
        cut = math.floor(array.size * trim)
        stats = samples[:, cut : array.size - cut].mean(axis=1) if array.size - 2 * cut > 0 else samples.mean(axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return Aggregate(Estimate(point, float(stats.std())), float(low), float(high), len(values))
