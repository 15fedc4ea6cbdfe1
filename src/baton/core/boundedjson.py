"""JSON from untrusted bytes, with its nesting bounded before it is parsed.

``json.loads`` recurses once per level of nesting, so ``[[[[...]]]]`` a few thousand levels deep
raises RecursionError (a 500 where it escapes), and data that parses just under the interpreter's
limit still breaks whatever walks it recursively afterwards. ``loads`` first measures how deep the
text nests, in work linear in its length (about half the time of parsing it), and refuses text
deeper than ``max_depth`` before the parser sees it. Every format Baton reads from users (safetensors headers, NDJSON
commits, configs, ledger bundles) nests a few levels; 64 leaves them ample room.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 64

# A string literal, or an unclosed one running to the end of the text: possessive runs without
# quote or backslash, and escape pairs. Every '"' outside a literal opens one, so substituting
# them away scans the text once (a pattern that could fail would be retried at each later '"').
_STRING: Final = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]++")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonTooDeepError(ValueError):
    """The text nests arrays and objects deeper than allowed (it was not parsed)."""

    def __init__(self, max_depth: int, depth: int) -> None:
        super().__init__(f"arrays and objects nest {depth} levels deep; at most {max_depth} are accepted")
        self.max_depth = max_depth
        self.depth = depth


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest, counting brackets outside string literals only; text
    that is not JSON gets an answer too. Regular expressions and C iteration do the work."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads`` for untrusted input: bytes must be UTF-8 (UnicodeDecodeError otherwise),
    and nesting deeper than ``max_depth`` raises JsonTooDeepError. Both are ValueErrors, like
    json.JSONDecodeError, so one ``except ValueError`` covers every refusal."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonTooDeepError(max_depth, depth)
    return json.loads(text, **options)
