"""JSON Lines read one object per line, with errors that name the line (commits, task data).

Lines come from users, so each is parsed with ``boundedjson`` (nesting at most
``boundedjson.MAX_DEPTH`` levels) and, where the caller gives ``max_line_bytes``, refused when
longer than that before it is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from baton.core import boundedjson
from baton.core.errors import BatonError

_DEEP_HINT = (
    f"Write each line as a JSON object nesting at most {boundedjson.MAX_DEPTH} levels; Baton's line formats need a few."
)


def json_object_lines(
    lines: Iterable[str | bytes],
    where: Callable[[int], str],
    error: type[BatonError],
    *,
    max_line_bytes: int | None = None,
    too_long: type[BatonError] | None = None,
    too_long_hint: str | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; ``where(n)`` names line n in errors.

    A line over ``max_line_bytes`` raises ``too_long`` (default ``error``) with ``too_long_hint``.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if max_line_bytes is not None:
            size = len(line) if isinstance(line, bytes) else len(line.encode("utf-8", errors="surrogatepass"))
            if size > max_line_bytes:
                raise (too_long or error)(
                    f"{where(number)}: the line is {size} bytes; at most {max_line_bytes} are accepted",
                    hint=too_long_hint,
                )
        try:
            value = boundedjson.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{where(number)}: not JSON ({problem.msg} at column {problem.colno})") from None
        except boundedjson.JsonTooDeepError as problem:
            raise error(f"{where(number)}: {problem}", hint=_DEEP_HINT) from None
        except UnicodeDecodeError as problem:
            raise error(f"{where(number)}: not UTF-8 text (byte {problem.start} of the line)") from None
        if not isinstance(value, dict):
            raise error(f"{where(number)}: expected a JSON object, found {type(value).__name__}")
        yield number, value
