"""Enough of .gitignore matching for preupload's ``shouldIgnore``.

Supported: comments, blank lines, ``!`` negation (last match wins), ``/``-anchored patterns,
trailing ``/`` for folders, ``*``, ``?``, ``[...]`` and ``**``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    negated: bool
    folder_only: bool


def _translate(glob: str) -> str:
    out, index = [], 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = glob[index + 1 : end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


@lru_cache(maxsize=64)
def _compile(text: str) -> tuple[_Rule, ...]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        folder_only = line.endswith("/")
        line = line.rstrip("/")
        # A slash at the start or in the middle anchors the pattern to the repo root.
        anchored = "/" in line
        body = _translate(line.lstrip("/"))
        prefix = "^" if anchored else "^(?:.*/)?"
        rules.append(_Rule(re.compile(prefix + body + "$"), negated, folder_only))
    return tuple(rules)


def is_ignored(path: str, gitignore_text: str) -> bool:
    """Whether ``path`` (a file) is ignored by the rules, checking each parent folder too."""
    rules = _compile(gitignore_text)
    if not rules:
        return False
    parts = path.split("/")
    candidates = [("/".join(parts[:depth]), depth < len(parts)) for depth in range(1, len(parts) + 1)]
    for candidate, is_folder in candidates:
        ignored = False
        for rule in rules:
            if rule.folder_only and not is_folder:
                continue
            if rule.pattern.match(candidate):
                ignored = not rule.negated
        if ignored:
            return True
    return False
