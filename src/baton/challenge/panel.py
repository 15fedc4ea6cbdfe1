"""A panel of expert users rating each team's answers on a scale: checks, aggregation, agreement.

A panel criterion (``kind: panel``) has items (the prompts each team answered) and a scale, or
several dimensions each with its own scale. A rating is one rater's integer points for one team's
answer to one item, on every dimension; its value is the dimensions' weighted mean of
``(points - min) / (max - min)``, in [0, 1].

A team's value is computed in two steps:

1. per item, the ratings of that item by the team's raters are aggregated robustly (the
   criterion's ``aggregation``: ``median``, ``trimmed_mean`` cutting ``trim`` of the ratings at each
   end, or ``mean``), so that one outlying rater moves an item little;
2. the team's value is the plain mean of its items' aggregates (every item counts the same; an
   item nobody rated is left out and reported).

Its uncertainty comes from a two-way bootstrap that resamples raters *and* items with replacement
(a rater drawn twice counts twice on every item they rated), seeded from the stage's seed, so it
reflects both who happened to rate and which prompts were asked: the standard error is the
bootstrap's standard deviation, the interval its 2.5 and 97.5 percentiles.

Agreement is Krippendorff's alpha for ordinal data over the rater × unit matrix, where a unit is
one team's answer to one item (missing ratings are allowed: a unit counts if at least two raters
rated it). Raters conflicted with a team are removed from that team's ratings before everything.
Pure functions only.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baton.challenge.scoring import Estimate, rounded
from baton.challenge.spec import SINGLE_DIMENSION, Criterion


class PanelRatingError(ValueError):
    """A rating that does not fit the panel's items or scale."""


def scale_text(criterion: Criterion) -> str:
    return ", ".join(f"{d.id} {d.min}..{d.max}" for d in criterion.panel_dimensions())


def check_rating(criterion: Criterion, item: Any, scores: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """The item id and the points as integers, or PanelRatingError saying everything that is wrong.

    ``scores`` maps each dimension to its points; with a single ``scale`` its one key is ``score``.
    """
    problems: list[str] = []
    item_id = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else ""
    items = criterion.panel_items()
    if item_id not in items:
        shown = f"1..{len(items)}" if isinstance(criterion.items, int) else ", ".join(items[:10])
        problems.append(f"item '{item}' is not an item of '{criterion.id}' ({shown})")
    dimensions = {d.id: d for d in criterion.panel_dimensions()}
    missing = sorted(set(dimensions) - set(scores))
    unknown = sorted(set(scores) - set(dimensions))
    if missing:
        problems.append("no points for " + ", ".join(missing))
    if unknown:
        problems.append("not a dimension: " + ", ".join(unknown))
    checked: dict[str, int] = {}
    for name, raw in scores.items():
        dimension = dimensions.get(name)
        if dimension is None:
            continue
        points = _integer(raw)
        label = "the score" if name == SINGLE_DIMENSION else name
        if points is None:
            problems.append(f"{label} '{raw}' is not a whole number")
        elif not dimension.min <= points <= dimension.max:
            problems.append(f"{label} {points} is outside {dimension.min}..{dimension.max}")
        else:
            checked[name] = points
    if problems:
        raise PanelRatingError("; ".join(problems))
    return item_id, checked


def _integer(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    try:
        number = float(str(raw).strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def rating_value(criterion: Criterion, scores: Mapping[str, Any]) -> float:
    """A rating's value in [0, 1]: the weighted mean of each dimension's position on its scale."""
    dimensions = criterion.panel_dimensions()
    weight = sum(d.weight for d in dimensions)
    return sum(d.weight * (float(scores[d.id]) - d.min) / (d.max - d.min) for d in dimensions) / weight


# --- Krippendorff's alpha (ordinal) ------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    alpha: float | None  # None when undefined: fewer than two pairable values, or no variation at all
    units: int  # units with at least two ratings (pairable)
    raters: int
    values: int  # pairable values


def ordinal_alpha(units: Mapping[Any, Mapping[Any, float]]) -> Agreement:
    """Krippendorff's alpha for ordinal data; ``units`` maps each unit to {rater: value}.

    From the coincidence matrix ``o[c][k]`` (each ordered pair of values within a unit of ``m``
    values adds ``1/(m-1)``), the marginals ``n_c`` and ``n``, and the ordinal distance
    ``δ²(c,k) = (Σ_{g=c..k} n_g - (n_c + n_k)/2)²``:
    ``alpha = 1 - (n - 1) Σ o[c][k] δ²(c,k) / Σ n_c n_k δ²(c,k)``.
    """
    rows = [sorted(float(value) for value in ratings.values()) for ratings in units.values()]
    rows = [row for row in rows if len(row) >= 2]
    raters = {rater for ratings in units.values() if len(ratings) >= 2 for rater in ratings}
    if not rows:
        return Agreement(None, 0, 0, 0)
    categories = sorted({value for row in rows for value in row})
    index = {value: position for position, value in enumerate(categories)}
    size = len(categories)
    coincidence = np.zeros((size, size))
    for row in rows:
        counts = np.zeros(size)
        for value in row:
            counts[index[value]] += 1
        # Ordered pairs of distinct positions: counts_c·counts_k, less the pairs of a value with itself.
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(row) - 1)
    marginal = coincidence.sum(axis=1)
    total = float(marginal.sum())
    cumulative = np.concatenate(([0.0], np.cumsum(marginal)))
    # Σ_{g=c..k} n_g for c <= k is cumulative[k+1] - cumulative[c]; δ is symmetric.
    low = np.minimum.outer(np.arange(size), np.arange(size))
    high = np.maximum.outer(np.arange(size), np.arange(size))
    delta = (cumulative[high + 1] - cumulative[low] - (marginal[:, None] + marginal[None, :]) / 2) ** 2
    observed = float((coincidence * delta).sum())
    expected = float((np.outer(marginal, marginal) * delta).sum())
    if expected <= 0:
        return Agreement(None, len(rows), len(raters), round(total))
    return Agreement(1.0 - (total - 1) * observed / expected, len(rows), len(raters), round(total))


# --- aggregation with a two-way bootstrap ------------------------------------------------------


def _column_statistic(matrix: np.ndarray, method: str, trim: float) -> np.ndarray:
    """Per column (item) of a raters × items matrix with NaN for missing: the robust aggregate, NaN if empty."""
    ordered = np.sort(matrix, axis=0)  # NaN sort last
    counts = (~np.isnan(matrix)).sum(axis=0)
    result = np.full(matrix.shape[1], np.nan)
    rated = counts > 0
    if not rated.any():
        return result
    ordered, counts = ordered[:, rated], counts[rated]
    if method == "median":
        lower = np.take_along_axis(ordered, ((counts - 1) // 2)[None, :], axis=0)[0]
        upper = np.take_along_axis(ordered, (counts // 2)[None, :], axis=0)[0]
        result[rated] = (lower + upper) / 2
        return result
    cut = np.floor(counts * trim).astype(int) if method == "trimmed_mean" else np.zeros_like(counts)
    cut = np.where(counts - 2 * cut > 0, cut, 0)
    position = np.arange(ordered.shape[0])[:, None]
    keep = (position >= cut[None, :]) & (position < (counts - cut)[None, :])
    result[rated] = np.where(keep, np.nan_to_num(ordered), 0.0).sum(axis=0) / keep.sum(axis=0)
    return result


def panel_statistic(matrix: np.ndarray, method: str, trim: float) -> float:
    """The mean over rated items of the per-item robust aggregate (0 when nothing is rated)."""
    per_item = _column_statistic(matrix, method, trim)
    rated = per_item[~np.isnan(per_item)]
    return float(rated.mean()) if rated.size else 0.0


@dataclass(frozen=True)
class PanelEstimate:
    estimate: Estimate
    lower: float
    upper: float
    items_rated: int


def estimate(matrix: np.ndarray, method: str, trim: float, *, rounds: int, seed: int) -> PanelEstimate:
    """Point value, bootstrap stderr and 95% percentile interval from a raters × items matrix (NaN: not rated).

    Each bootstrap round draws the raters and the items with replacement.
    """
    point = panel_statistic(matrix, method, trim)
    items_rated = int((~np.isnan(matrix)).any(axis=0).sum()) if matrix.size else 0
    raters, items = matrix.shape
    if raters < 2 and items < 2:
        return PanelEstimate(Estimate(point, 0.0), point, point, items_rated)
    rng = np.random.default_rng(seed)
    stats = np.empty(rounds)
    for round_ in range(rounds):
        rows = rng.integers(0, raters, size=raters)
        columns = rng.integers(0, items, size=items)
        stats[round_] = panel_statistic(matrix[np.ix_(rows, columns)], method, trim)
    low, high = np.percentile(stats, [2.5, 97.5])
    return PanelEstimate(Estimate(point, float(stats.std())), float(low), float(high), items_rated)


def matrix_of(ratings: Sequence[tuple[str, str, float]], items: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """A raters × items matrix (NaN where not rated) from (rater, item, value), raters sorted; only
    items that someone rated form columns, in the criterion's order."""
    raters = sorted({rater for rater, _item, _value in ratings})
    seen = {item for _rater, item, _value in ratings}
    rated_items = [item for item in items if item in seen]
    row = {rater: position for position, rater in enumerate(raters)}
    column = {item: position for position, item in enumerate(rated_items)}
    matrix = np.full((len(raters), len(rated_items)), np.nan)
    for rater, item, value in ratings:
        matrix[row[rater], column[item]] = value
    return matrix, raters


# --- a criterion's values for a decision -------------------------------------------------------

RatingKey = tuple[str, str, str]  # (team, item, rater pseudonym)


def criterion_values(
    criterion: Criterion,
    teams: Sequence[str],
    ratings: Mapping[RatingKey, Mapping[str, Any]],
    conflicts: Mapping[tuple[str, str], str],
    seeds: Mapping[str, int],
) -> tuple[dict[str, Estimate], dict[str, dict[str, Any]], dict[str, Any]]:
    """Per team its value in [0, 1] (natural scale, before the criterion's normalization), the
    record's per-team detail, and the criterion's published section.

    ``ratings`` are the criterion's latest ratings; ``conflicts`` maps (team, rater) to how the
    conflict became known (``declared`` or ``affiliation``): those raters' ratings of that team are
    excluded before anything is computed, and counted.
    """
    items = criterion.panel_items()
    dimensions = criterion.panel_dimensions()
    values: dict[str, Estimate] = {}
    details: dict[str, dict[str, Any]] = {}
    per_team: dict[str, Any] = {}
    used: dict[RatingKey, Mapping[str, Any]] = {}
    excluded_pairs: set[tuple[str, str]] = set()
    excluded_ratings = 0
    for key, scores in sorted(ratings.items()):
        team, _item, rater = key
        if team not in teams:
            continue
        if (team, rater) in conflicts:
            excluded_pairs.add((team, rater))
            excluded_ratings += 1
            continue
        used[key] = scores
    for team in teams:
        entries = [
            (rater, item, rating_value(criterion, scores)) for (tm, item, rater), scores in used.items() if tm == team
        ]
        matrix, raters = matrix_of(entries, items)
        result = estimate(
            matrix, criterion.aggregation, criterion.trim, rounds=criterion.bootstrap_rounds, seed=seeds[team]
        )
        units: dict[Hashable, dict[Hashable, float]] = {}
        for rater, item, value in entries:
            units.setdefault(item, {})[rater] = value
        agreement = ordinal_alpha(units)
        excluded_here = sorted(rater for tm, rater in excluded_pairs if tm == team)
        values[team] = result.estimate
        summary = {
            "raters": len(raters),
            "ratings": len(entries),
            "items_rated": result.items_rated,
            "items": len(items),
            "aggregate": rounded(result.estimate.value),
            "stderr": rounded(result.estimate.stderr),
            "lower": rounded(result.lower),
            "upper": rounded(result.upper),
            "alpha": _round_or_none(agreement.alpha),
            "excluded_raters": len(excluded_here),
            "excluded_ratings": sum(1 for tm, _i, rater in ratings if tm == team and rater in excluded_here),
        }
        details[team] = {
            "kind": "panel",
            "method": criterion.aggregation,
            **summary,
            "unrated_items": [item for item in items if item not in {entry[1] for entry in entries}][:50],
        }
        per_team[team] = summary
    all_units: dict[Hashable, dict[Hashable, float]] = {}
    for (team, item, rater), scores in used.items():
        all_units.setdefault((team, item), {})[rater] = rating_value(criterion, scores)
    overall = ordinal_alpha(all_units)
    published: dict[str, Any] = {
        "kind": "panel",
        "method": criterion.aggregation,
        "trim": criterion.trim if criterion.aggregation == "trimmed_mean" else 0.0,
        "value": "mean over items of the per-item aggregate of raters' ratings, scaled to [0, 1]",
        "interval": "two-way bootstrap over raters and items, 2.5-97.5 percentiles",
        "bootstrap_rounds": criterion.bootstrap_rounds,
        "dimensions": [{"id": d.id, "min": d.min, "max": d.max, "weight": d.weight} for d in dimensions],
        "items": len(items),
        "min_raters": criterion.min_raters,
        "ratings_total": sum(1 for team, _i, _r in ratings if team in teams),
        "ratings_used": len(used),
        "alpha": {
            "method": "krippendorff-ordinal",
            "value": _round_or_none(overall.alpha),
            "units": overall.units,
            "raters": overall.raters,
            "pairable_values": overall.values,
        },
        "excluded": {
            "reason": "conflict of interest with the team",
            "raters": len({rater for _team, rater in excluded_pairs}),
            "pairs": len(excluded_pairs),
            "ratings": excluded_ratings,
        },
        "conflicts": [
            {"team": team, "rater": rater, "source": conflicts[(team, rater)]}
            for team, rater in sorted(conflicts)
            if team in teams
        ],
        "teams": per_team,
    }
    if len(dimensions) > 1:
        published["alpha_by_dimension"] = {}
        for dimension in dimensions:
            units = {}
            for (team, item, rater), scores in used.items():
                units.setdefault((team, item), {})[rater] = float(scores[dimension.id])
            published["alpha_by_dimension"][dimension.id] = _round_or_none(ordinal_alpha(units).alpha)
    return values, details, published


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else rounded(value)


def raters_short(
    criterion: Criterion,
    teams: Sequence[str],
    ratings: Mapping[RatingKey, Any],
    conflicts: Mapping[tuple[str, str], str],
) -> list[str]:
    """Teams with fewer than ``min_raters`` raters (conflicted ones not counted), as sentences."""
    short = []
    for team in teams:
        raters = {rater for tm, _item, rater in ratings if tm == team and (team, rater) not in conflicts}
        if len(raters) < criterion.min_raters:
            short.append(f"{team} has {len(raters)} of {criterion.min_raters} raters for {criterion.id}")
    return short
