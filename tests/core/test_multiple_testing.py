"""Holm, Holm–Šidák and Šidák adjusted p-values against hand-computed values, and their properties."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from baton.core.multiple_testing import PValues, holm, holm_sidak, sidak


def test_holm_by_hand() -> None:
    # Sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04); back in the given order.
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # The running maximum keeps them monotone: 0.02*3 = 0.06, then 0.025*2 = 0.05 is raised to 0.06.
    assert holm([0.02, 0.025, 0.5]) == pytest.approx([0.06, 0.06, 0.5])
    # Capped at 1.
    assert holm([0.4, 0.6, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
    assert holm([0.2]) == pytest.approx([0.2])
    assert holm([]) == []


def test_holm_sidak_by_hand() -> None:
    adjusted = holm_sidak([0.001, 0.04, 0.5])
    assert adjusted == pytest.approx([1 - 0.999**3, 1 - 0.96**2, 0.5])
    # Šidák steps are never larger than Bonferroni steps.
    assert all(s <= h + 1e-15 for s, h in zip(adjusted, holm([0.001, 0.04, 0.5]), strict=True))
    assert holm_sidak([1.0, 0.3]) == pytest.approx([1.0, 1 - 0.7**2])
    assert holm_sidak([]) == []


def test_sidak_by_hand() -> None:
    assert sidak([0.01]) == pytest.approx(0.01)
    assert sidak([0.01, 0.5]) == pytest.approx(1 - 0.99**2)
    assert sidak([1.0, 1.0]) == 1.0
    assert sidak([]) == 1.0


@pytest.mark.parametrize("correction", [holm, holm_sidak])
def test_adjusted_p_values_are_monotone_capped_and_in_order(correction: Callable[[PValues], list[float]]) -> None:
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 40):
        raw = rng.uniform(0, 1, size) ** 3
        adjusted = correction(raw)
        assert len(adjusted) == size
        assert all(0.0 <= a <= 1.0 for a in adjusted)
        assert all(a >= p - 1e-15 for a, p in zip(adjusted, raw, strict=True))
        order = np.argsort(raw, kind="stable")
        ranked = [adjusted[i] for i in order]
        assert ranked == sorted(ranked)  # monotone in the raw p-values
        # The same answer from a list and from an array, and each value stays with its own test.
        assert correction(list(raw)) == adjusted
        shuffle = rng.permutation(size)
        shuffled = correction(raw[shuffle])
        assert shuffled == pytest.approx([adjusted[i] for i in shuffle])
