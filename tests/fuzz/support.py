"""What every fuzz test shares: one Hypothesis profile, and the property all parsers must keep.

The property: whatever bytes or text a user sends, a parser gives a valid result or raises a
``BatonError`` whose status is a 4xx, never any other exception (which the app would turn into a
500, or the CLI into a traceback). Runs are derandomized (the same examples every run, no
flakiness, nothing saved between runs) and bounded, so the whole suite stays in the fast suite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from baton.core.errors import BatonError

Result = TypeVar("Result")

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_HEAVY = settings(FUZZ, max_examples=100)  # for targets whose inputs cost a second or more


def refused_or_parsed(parse: Callable[..., Result], *arguments: Any) -> Result | BatonError:
    """Run ``parse``: its result, or the BatonError it raised, which must be a 4xx with a message."""
    try:
        return parse(*arguments)
    except BatonError as error:
        assert 400 <= error.status_code < 500, f"{type(error).__name__} ({error.status_code}): {error}"
        assert error.message, type(error).__name__
        return error


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (with the awkward ones), lists and objects, nested."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=max_leaves,
    )


def nested_brackets() -> st.SearchStrategy[str]:
    """JSON nested hundreds to thousands of levels deep (parsers recurse once per level)."""

    def build(depth: int, arrays: bool, inner: str) -> str:
        return "[" * depth + inner + "]" * depth if arrays else '{"a":' * depth + inner + "}" * depth

    inner = st.sampled_from(["1", '"x"', "[]"])
    return st.builds(build, st.integers(min_value=50, max_value=5000), st.booleans(), inner)
