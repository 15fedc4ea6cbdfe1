"""JSON Lines read one object per line, with errors that name the line (commits, task data)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from baton.core.errors import BatonError


def json_object_lines(
    lines: Iterable[str | bytes], where: Callable[[int], str], error: type[BatonError]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; ``where(n)`` names line n in errors."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{where(number)}: not JSON ({problem.msg} at column {problem.colno})") from None
        if not isinstance(value, dict):
            raise error(f"{where(number)}: expected a JSON object, found {type(value).__name__}")
        yield number, value
