"""Normalizations and the composite's uncertainty."""

from __future__ import annotations

import math

import pytest

from baton.challenge import scoring
from baton.challenge.scoring import Estimate


def test_raw_clips_and_keeps_stderr() -> None:
    result = scoring.normalize("raw", {"a": Estimate(1.2, 0.1), "b": Estimate(0.4, 0.02)})
    assert result["a"] == Estimate(1.0, 0.1) and result["b"] == Estimate(0.4, 0.02)


def test_minmax_scales_values_and_stderr_by_the_spread() -> None:
    result = scoring.normalize("minmax", {"a": Estimate(0.5, 0.02), "b": Estimate(0.7, 0.02), "c": Estimate(0.6, 0.0)})
    assert result["a"].value == 0 and result["b"].value == 1 and result["c"].value == pytest.approx(0.5)
    assert result["a"].stderr == pytest.approx(0.1)
    flat = scoring.normalize("minmax", {"a": Estimate(0.5), "b": Estimate(0.5)})
    assert flat["a"].value == flat["b"].value == 1.0


def test_ratio_to_target_is_ninety_five_percent_of_the_target() -> None:
    values = {"a": Estimate(0.57, 0.01), "b": Estimate(0.7, 0.01), "c": Estimate(0.5, 0.01)}
    targets = {"a": Estimate(0.6, 0.01), "b": Estimate(0.6, 0.0), "c": None}
    result = scoring.normalize("ratio_to_target", values, targets=targets)
    assert result["a"].value == pytest.approx(0.95)
    expected = 0.95 * math.hypot(0.01 / 0.57, 0.01 / 0.6)
    assert result["a"].stderr == pytest.approx(expected)
    assert result["b"].value == 1.0  # above the target: capped
    assert result["c"].value == 0.0  # no target score
    capped = scoring.normalize("ratio_to_target", {"a": Estimate(0.57)}, targets={"a": Estimate(0.6)}, cap=0.95)
    assert capped["a"].value == pytest.approx(1.0)


def test_rank_uncertainty_grows_when_scores_overlap() -> None:
    apart = scoring.normalize(
        "rank", {"a": Estimate(0.9, 0.001), "b": Estimate(0.5, 0.001), "c": Estimate(0.1, 0.001)}, seed=1
    )
    close = scoring.normalize(
        "rank", {"a": Estimate(0.51, 0.05), "b": Estimate(0.5, 0.05), "c": Estimate(0.1, 0.001)}, seed=1
    )
    assert [apart[t].value for t in "abc"] == [1.0, 0.5, 0.0]
    assert apart["a"].stderr == 0.0 and close["a"].stderr > 0.2
    again = scoring.normalize(
        "rank", {"a": Estimate(0.51, 0.05), "b": Estimate(0.5, 0.05), "c": Estimate(0.1, 0.001)}, seed=1
    )
    assert again == close


def test_composite_adds_points_and_variances() -> None:
    total = scoring.composite([Estimate(0.8, 0.1).scaled(40), Estimate(0.5, 0.05).scaled(60)])
    assert total.value == pytest.approx(62.0)
    assert total.stderr == pytest.approx(math.hypot(4.0, 3.0))
    assert total.lower == pytest.approx(62 - 1.959964 * 5, abs=1e-4)


def test_mean_of_tasks_and_win_probability() -> None:
    mean = scoring.mean_estimate([Estimate(0.4, 0.03), Estimate(0.6, 0.04)])
    assert mean == Estimate(0.5, 0.025)
    even = scoring.win_probability(1000, 990, 1010, 1000)
    assert even.value == pytest.approx(0.5) and even.stderr > 0
    assert scoring.win_probability(1100, 1090, 1110, 1000).value == pytest.approx(1 / (1 + 10 ** (-0.25)))
