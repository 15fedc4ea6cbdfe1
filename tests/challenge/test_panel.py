"""A panel criterion's pure parts: the spec, rating checks, Krippendorff's ordinal alpha, robust
aggregation with a two-way bootstrap, and exclusion of conflicted raters."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from baton.challenge import panel
from baton.challenge.errors import InvalidSpecError
from baton.challenge.spec import Criterion, load_spec

PANEL = Criterion.model_validate(
    {"id": "users", "kind": "panel", "weight": 25, "scale": {"min": 1, "max": 5}, "items": 4, "trim": 0.1}
)
RUBRIC = Criterion.model_validate(
    {
        "id": "users",
        "kind": "panel",
        "weight": 25,
        "items": ["q1", "q2"],
        "dimensions": [{"id": "helpful", "min": 1, "max": 5, "weight": 3}, {"id": "fluent", "min": 0, "max": 10}],
    }
)

SPEC = """challenge: c
title: T
stages:
  - id: s1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 2
    advance: 1
    criteria:
      - {id: bench, kind: benchmark, weight: 75, tasks: [t]}
      - id: users
        kind: panel
        weight: 25
{panel}
"""


def _spec(panel_lines: str) -> str:
    """The spec with the panel criterion's own lines (given without their indentation)."""
    return SPEC.replace("{panel}", "\n".join(" " * 8 + line for line in panel_lines.split("\n")))


def _problem(panel_lines: str) -> str:
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(_spec(panel_lines))
    return str(caught.value)


def test_the_spec_reads_a_scale_or_dimensions_and_items() -> None:
    spec = load_spec(_spec("scale: {min: 1, max: 5}\nitems: 3\nmin_raters: 2"))
    criterion = spec.stages[0].criterion("users")
    assert criterion.panel_items() == ["1", "2", "3"]
    assert [(d.id, d.min, d.max) for d in criterion.panel_dimensions()] == [("score", 1, 5)]
    assert RUBRIC.panel_items() == ["q1", "q2"] and [d.id for d in RUBRIC.panel_dimensions()] == ["helpful", "fluent"]
    # Other criteria's recorded spec (and its hash) carry no panel fields.
    assert "scale" not in spec.to_json()["stages"][0]["criteria"][0]
    assert spec.to_json()["stages"][0]["criteria"][1]["scale"] == {"min": 1, "max": 5}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("scale: {min: 5, max: 1}\nitems: 3", "line 13: stages[0].criteria[1].scale.max: the scale's max 1"),
        ("items: 3", "line 11: stages[0].criteria[1].kind: panel criterion 'users' has no scale"),
        ("scale: {min: 1, max: 5}", "line 11: stages[0].criteria[1].kind: panel criterion 'users' lists no items"),
        ("scale: {max: 5}\nitems: [a, a]", "line 14: stages[0].criteria[1].items: panel criterion 'users'"),
        ("scale: {max: 5}\nitems: [a, 'B C']", "line 14: stages[0].criteria[1].items[1]: panel criterion"),
        ("scale: {max: 5}\nitems: 0", "line 14: stages[0].criteria[1].items: panel criterion"),
        (
            "scale: {max: 5}\ndimensions: [{id: x}]\nitems: 2",
            "line 14: stages[0].criteria[1].dimensions: panel criterion 'users' has both",
        ),
        ("dimensions: [{id: x}, {id: x}]\nitems: 2", "dimension ids repeat: x"),
    ],
)
def test_spec_problems_name_their_line(lines: str, expected: str) -> None:
    assert expected in _problem(lines)


def test_panel_fields_on_another_criterion_are_refused_at_their_line() -> None:
    text = _spec("scale: {max: 5}\nitems: 2").replace("tasks: [t]}", "tasks: [t], items: 3}")
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(text)
    assert "line 9: stages[0].criteria[0].items: criterion 'bench': `items` applies to panel criteria only" in str(
        caught.value
    )


def test_ratings_are_checked_against_items_and_scale() -> None:
    assert panel.check_rating(PANEL, 2, {"score": "4"}) == ("2", {"score": 4})
    assert panel.check_rating(RUBRIC, "q1", {"helpful": 5, "fluent": 0.0}) == ("q1", {"helpful": 5, "fluent": 0})
    with pytest.raises(panel.PanelRatingError) as caught:
        panel.check_rating(PANEL, 9, {"score": 6})
    assert "item '9' is not an item of 'users' (1..4)" in str(caught.value)
    assert "the score 6 is outside 1..5" in str(caught.value)
    with pytest.raises(panel.PanelRatingError) as caught:
        panel.check_rating(RUBRIC, "q1", {"helpful": 3.5, "style": 1})
    message = str(caught.value)
    assert "no points for fluent" in message and "not a dimension: style" in message
    assert "helpful '3.5' is not a whole number" in message


def test_a_ratings_value_is_the_weighted_position_on_each_scale() -> None:
    assert panel.rating_value(PANEL, {"score": 1}) == 0.0
    assert panel.rating_value(PANEL, {"score": 4}) == pytest.approx(0.75)
    assert panel.rating_value(RUBRIC, {"helpful": 5, "fluent": 0}) == pytest.approx(3 / 4)


# --- Krippendorff's alpha --------------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the reliability data with missing
# values: 4 observers, 12 units, values 1..5 ("." missing). Published: ordinal alpha = 0.815.
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def _units(table: Mapping[str, str]) -> dict[int, dict[str, float]]:
    units: dict[int, dict[str, float]] = {}
    for rater, row in table.items():
        for unit, value in enumerate(row.split()):
            if value != ".":
                units.setdefault(unit, {})[rater] = float(value)
    return units


def _alpha_by_pairs(units: Mapping[Any, Mapping[Any, float]]) -> float:
    """Alpha from its definition, pair by pair (no coincidence matrix): 1 - D_o / D_e, where D_o
    averages the ordinal distance over pairs of values within a unit (weighted 1/(m_u - 1)) and D_e
    over all pairs of pairable values."""
    values = [list(ratings.values()) for ratings in units.values() if len(ratings) >= 2]
    pooled = [value for unit in values for value in unit]
    n = len(pooled)
    frequency = {value: pooled.count(value) for value in set(pooled)}

    def distance(c: float, k: float) -> float:
        low, high = min(c, k), max(c, k)
        between = sum(count for value, count in frequency.items() if low <= value <= high)
        return float((between - (frequency[c] + frequency[k]) / 2) ** 2)

    observed = sum(distance(a, b) / (len(unit) - 1) for unit in values for a, b in itertools.permutations(unit, 2))
    expected = sum(distance(a, b) for a, b in itertools.permutations(pooled, 2)) / (n - 1)
    return 1 - observed / expected


def test_alpha_matches_krippendorffs_published_ordinal_value() -> None:
    units = _units(KRIPPENDORFF_2011)
    agreement = panel.ordinal_alpha(units)
    assert agreement.alpha == pytest.approx(0.815, abs=5e-4)
    assert agreement.alpha == pytest.approx(_alpha_by_pairs(units), abs=1e-12)
    # Unit 12 has a single value: not pairable. 40 pairable values in 11 units, 4 raters.
    assert (agreement.units, agreement.values, agreement.raters) == (11, 40, 4)


def test_alpha_is_one_for_perfect_agreement_and_near_zero_for_random_ratings() -> None:
    perfect = {unit: {rater: float(unit % 5 + 1) for rater in "abcd"} for unit in range(20)}
    assert panel.ordinal_alpha(perfect).alpha == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    noise = {unit: {rater: float(rng.integers(1, 6)) for rater in range(8)} for unit in range(300)}
    assert abs(panel.ordinal_alpha(noise).alpha or 1.0) < 0.03
    # Systematic disagreement (one rater reverses the scale) is below zero.
    reversed_ = {u: {"a": float(u % 5 + 1), "b": float(5 - u % 5)} for u in range(20)}
    assert (panel.ordinal_alpha(reversed_).alpha or 0.0) < -0.5
    rng = np.random.default_rng(4)
    noisy = {
        unit: {rater: float(np.clip(unit % 5 + 1 + rng.integers(-1, 2), 1, 5)) for rater in range(6)}
        for unit in range(100)
    }
    assert 0.5 < (panel.ordinal_alpha(noisy).alpha or 0.0) < 1.0
    assert abs((panel.ordinal_alpha(noisy).alpha or 0.0) - _alpha_by_pairs(noisy)) < 1e-9


def test_alpha_is_undefined_without_pairs_or_variation() -> None:
    assert panel.ordinal_alpha({1: {"a": 3.0}, 2: {"b": 4.0}}).alpha is None
    assert panel.ordinal_alpha({1: {"a": 3.0, "b": 3.0}, 2: {"a": 3.0, "b": 3.0}}).alpha is None


# --- aggregation -------------------------------------------------------------------------------------


def test_median_and_trimmed_mean_per_item_then_the_mean_over_items() -> None:
    nan = np.nan
    # 10 raters x 2 items; rater 9 is an outlier on item 0; item 1 has a missing rating.
    item0 = [0.75] * 9 + [0.0]
    item1 = [0.5, 0.5, 0.25, 0.75, 0.5, 0.5, 0.5, 1.0, nan, 0.0]
    matrix = np.array([item0, item1]).T
    mean = panel.panel_statistic(matrix, "mean", 0.0)
    trimmed = panel.panel_statistic(matrix, "trimmed_mean", 0.1)
    median = panel.panel_statistic(matrix, "median", 0.1)
    assert mean == pytest.approx((0.675 + 4.5 / 9) / 2)
    # 10% of 10 ratings cut at each end on item 0 (the outlier and one 0.75); of 9 on item 1, none.
    assert trimmed == pytest.approx((0.75 + 4.5 / 9) / 2)
    assert median == pytest.approx((0.75 + 0.5) / 2)
    assert panel.panel_statistic(np.full((3, 2), np.nan), "median", 0.1) == 0.0


def _ratings(raters: int, items: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.6, 0.1, size=items)
    return np.clip(np.round((quality[None, :] + rng.normal(0, 0.2, size=(raters, items))) * 4) / 4, 0, 1)


def test_the_two_way_bootstrap_covers_the_estimate_and_narrows_with_more_raters() -> None:
    few = panel.estimate(_ratings(5, 20, 1), "trimmed_mean", 0.1, rounds=400, seed=11)
    many = panel.estimate(_ratings(49, 20, 1), "trimmed_mean", 0.1, rounds=400, seed=11)
    for result in (few, many):
        assert result.lower <= result.estimate.value <= result.upper
        assert result.estimate.stderr > 0
    assert many.upper - many.lower < few.upper - few.lower
    # Seeded: the same seed gives the same interval.
    again = panel.estimate(_ratings(5, 20, 1), "trimmed_mean", 0.1, rounds=400, seed=11)
    assert (again.lower, again.upper) == (few.lower, few.upper)
    # Resampling items too: one rater still has an interval from the items alone.
    single = panel.estimate(_ratings(1, 20, 2), "median", 0.1, rounds=200, seed=3)
    assert single.upper > single.lower


def test_conflicted_raters_are_excluded_before_everything_and_counted() -> None:
    ratings: dict[tuple[str, str, str], dict[str, int]] = {}
    for team, points in (("team-a", 3), ("team-b", 4)):
        for rater in ("r1", "r2", "r3"):
            for item in ("1", "2", "3", "4"):
                ratings[(team, item, rater)] = {"score": points}
    for item in ("1", "2", "3", "4"):
        ratings[("team-a", item, "r4")] = {"score": 5}  # r4 favours team-a and is conflicted with it
    values, details, published = panel.criterion_values(
        PANEL, ["team-a", "team-b"], ratings, {("team-a", "r4"): "declared"}, {"team-a": 1, "team-b": 2}
    )
    assert values["team-a"].value == pytest.approx(0.5) and values["team-b"].value == pytest.approx(0.75)
    assert details["team-a"]["excluded_raters"] == 1 and details["team-a"]["excluded_ratings"] == 4
    assert details["team-a"]["raters"] == 3 and details["team-b"]["excluded_raters"] == 0
    assert published["excluded"] == {
        "reason": "conflict of interest with the team",
        "raters": 1,
        "pairs": 1,
        "ratings": 4,
    }
    assert published["conflicts"] == [{"team": "team-a", "rater": "r4", "source": "declared"}]
    assert published["ratings_total"] == 28 and published["ratings_used"] == 24
    assert published["alpha"]["method"] == "krippendorff-ordinal" and published["alpha"]["value"] == 1.0
    assert panel.raters_short(PANEL.model_copy(update={"min_raters": 4}), ["team-a", "team-b"], ratings, {}) == [
        "team-b has 3 of 4 raters for users"
    ]
