"""Corrections for testing many hypotheses at once: adjusted p-values, in the order given.

``holm`` is Holm's step-down procedure (Bonferroni steps: the i-th smallest of k p-values is
multiplied by k - i); it controls the family-wise error rate under any dependence.
``holm_sidak`` is the same step-down procedure with Šidák steps (1 - (1 - p)^(k - i)), slightly
more powerful and exact for independent tests. ``sidak`` is the p-value of the smallest of k
tests (1 - (1 - min p)^k). Adjusted p-values are monotone in the raw ones and capped at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

PValues = Sequence[float] | npt.NDArray[np.float64]

# 1 - (1 - p)^k computed as -expm1(k * log1p(-p)), with p kept below 1 so the log stays finite.
_BELOW_ONE = 1.0 - 1e-300


def _sidak_step(p: npt.NDArray[np.float64], tests: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1 - (1 - p)^tests elementwise (exactly 1 where p is 1 or more)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        step = -np.expm1(tests * np.log1p(-np.minimum(p, _BELOW_ONE)))
    return np.where(p < 1, step, 1.0)


def _step_down(p_values: PValues, step: str) -> list[float]:
    p = np.asarray(p_values, dtype=np.float64)
    count = len(p)
    if count == 0:
        return []
    order = np.argsort(p, kind="stable")
    remaining = (count - np.arange(count)).astype(np.float64)
    ranked = p[order]
    scaled = ranked * remaining if step == "bonferroni" else _sidak_step(ranked, remaining)
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    adjusted = np.empty(count)
    adjusted[order] = adjusted_sorted
    return [float(value) for value in adjusted]


def holm(p_values: PValues) -> list[float]:
    """Holm's step-down (Bonferroni) adjusted p-values, in the order given."""
    return _step_down(p_values, "bonferroni")


def holm_sidak(p_values: PValues) -> list[float]:
    """Holm's step-down procedure with Šidák steps: adjusted p-values, in the order given."""
    return _step_down(p_values, "sidak")


def sidak(p_values: PValues) -> float:
    """P-value of the smallest of k tests: 1 - (1 - min p)^k (exact for independent tests); 1 for none."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return 1.0
    return float(_sidak_step(np.array([p.min()]), np.array([float(p.size)]))[0])
