"""Expert review: rubric checks, conflict of interest, robust aggregation with a bootstrap interval."""

from __future__ import annotations

import pytest

from baton.challenge import review
from baton.challenge.spec import Criterion

RUBRIC = Criterion.model_validate(
    {
        "id": "expert",
        "kind": "review",
        "weight": 35,
        "rubric": [{"id": "report", "max": 10, "weight": 2}, {"id": "logs", "max": 5, "weight": 1}],
    }
)


def test_rubric_total_is_the_weighted_fraction() -> None:
    assert review.rubric_total(RUBRIC, {"report": 10, "logs": 5}) == pytest.approx(1.0)
    assert review.rubric_total(RUBRIC, {"report": 5, "logs": 5}) == pytest.approx((2 * 0.5 + 1) / 3)


def test_scores_must_fit_the_rubric() -> None:
    assert review.check_scores(RUBRIC, {"report": "7", "logs": 2}) == {"report": 7.0, "logs": 2.0}
    with pytest.raises(review.RubricError) as caught:
        review.check_scores(RUBRIC, {"report": 11, "extra": 1})
    message = str(caught.value)
    assert "missing logs" in message and "not in the rubric: extra" in message and "report=11 outside 0..10" in message


def test_conflicts_are_shared_organizations() -> None:
    assert review.conflicted(["lab", "uni"], ["uni", "corp"]) == ["uni"]
    assert review.conflicted(["lab"], ["corp"]) == []


def test_trimmed_mean_and_median_resist_an_outlier() -> None:
    totals = [0.70, 0.72, 0.74, 0.71, 0.05]
    assert review.aggregate(totals, "mean") == pytest.approx(0.584)
    assert review.aggregate(totals, "median") == pytest.approx(0.71)
    assert review.aggregate(totals, "trimmed_mean", 0.2) == pytest.approx((0.70 + 0.72 + 0.71) / 3)


def test_bootstrap_interval_is_seeded_and_contains_the_estimate() -> None:
    totals = [0.6, 0.65, 0.7, 0.75, 0.8, 0.68]
    first = review.aggregate_with_interval(totals, "trimmed_mean", 0.2, seed=3)
    again = review.aggregate_with_interval(totals, "trimmed_mean", 0.2, seed=3)
    assert first == again
    assert first.lower <= first.estimate.value <= first.upper and first.estimate.stderr > 0
    single = review.aggregate_with_interval([0.5], "median", 0.2, seed=3)
    assert (single.lower, single.upper, single.estimate.stderr) == (0.5, 0.5, 0.0)
