"""Every hint that names a command names one that exists, with options it has, in a form that can be
pasted into a shell: no backticks (a pasted `baton …` would run as command substitution).

The hints are read from the source: each ``hint=`` argument and each ``default_hint`` of an error
class, f-strings included (their literal parts are checked).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from baton.cli import reference

SRC = Path(__file__).resolve().parents[2] / "src" / "baton"
MENTION = re.compile(r"\bbaton((?: +[a-z][a-z-]*)+)((?: +(?:--[a-z][a-z-]*|[A-Z]+|\{[^}]*\}|'[^']*'|[^\s,;)(]+))*)")


def _hints() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            value: ast.expr | None = None
            if (isinstance(node, ast.keyword) and node.arg == "hint") or (isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "default_hint" for target in node.targets
            )):
                value = node.value
            if value is None:
                continue
            literal = "".join(
                part.value
                for part in ast.walk(value)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            found.append((f"{path.relative_to(SRC)}:{value.lineno}", literal))
    return found


def test_hints_are_found() -> None:
    hints = _hints()
    assert len(hints) > 100
    assert any("baton user token create" in text for _, text in hints)


def test_no_hint_uses_backticks() -> None:
    offenders = [where for where, text in _hints() if "`" in text]
    assert not offenders, f"write the command after a colon, without backticks: {offenders}"


def test_every_command_a_hint_names_exists_with_its_options() -> None:
    commands = {" ".join(words[1:]): command for words, command in reference.commands()}
    problems = []
    for where, text in _hints():
        for match in MENTION.finditer(text):
            words = match.group(1).split()
            path = ""
            for index in range(len(words), 0, -1):
                candidate = " ".join(words[:index])
                if candidate in commands:
                    path = candidate
                    break
            if not path:
                problems.append(f"{where}: no command 'baton {' '.join(words)}'")
                continue
            command = commands[path]
            if getattr(command, "commands", None) and len(words) == len(path.split()):
                problems.append(f"{where}: 'baton {path}' is a group; name the command")
            options = {opt for parameter in getattr(command, "params", []) for opt in getattr(parameter, "opts", ())}
            options.add("--help")
            for option in re.findall(r"--[a-z][a-z-]*", match.group(0)):
                if option not in options:
                    problems.append(f"{where}: 'baton {path}' has no option {option}")
    assert not problems, "\n".join(problems)
