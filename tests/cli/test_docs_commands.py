"""Every ``baton ...`` command the README and the docs show runs as written, and the CLI reference
(``docs/cli.md``) is what the commands themselves say.

A command is checked against the real command tree: its sub-commands exist, every ``--option`` it
names exists, and when it is written as a whole invocation (with arguments) it parses: no missing
required option, no extra argument. Placeholders (``NAME``, ``FILE``) stand for values; ``[...]``
marks what is optional; ``...`` elides the rest (then only the names are checked).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from baton.cli import reference

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")]
SPAN = re.compile(r"`((?:\.venv/bin/)?baton [^`]+)`")
REFUSED = {"MissingParameter", "NoSuchOption", "UsageError", "BadOptionUsage", "BadArgumentUsage"}


def written_commands() -> list[tuple[str, str]]:
    """(where, command) for every baton command in backticks or on a line of a code block."""
    found: list[tuple[str, str]] = []
    for document in DOCUMENTS:
        in_block = False
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{document.relative_to(ROOT)}:{number}"
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            if in_block:
                for part in line.split("&&"):
                    part = part.split(" #")[0].strip()
                    if part.startswith(("baton ", ".venv/bin/baton ")):
                        found.append((where, part))
            else:
                found.extend((where, match) for match in SPAN.findall(line))
    return found


def problem_with(text: str) -> str | None:
    text = text.removeprefix(".venv/bin/").split(" | ")[0].strip()
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    words, optional, depth = [], [], 0
    for token in tokens[1:]:
        if token.startswith("[") or depth:
            depth += token.count("[") - token.count("]")
            optional.append(token.strip("[]"))
            continue
        words.append(token)
    path, command, rest = reference.find(words)
    if hasattr(command, "list_commands"):
        if rest and rest[0] != "..." and not rest[0].startswith("-") and not rest[0].isupper():
            return f"{' '.join(path)} has no command {rest[0]!r}"
        return None
    names = {name for parameter in command.params for name in (*parameter.opts, *parameter.secondary_opts)}
    for token in [*rest, *optional]:
        option = token.split("=")[0]
        if option.startswith("--") and option not in names:
            return f"{' '.join(path)} has no option {option}"
    elided = "..." in text or any("|" in token for token in rest)
    if elided or not any(not token.startswith("-") for token in rest):
        return None  # names only: an option mentioned in prose, or the rest elided
    try:
        command.make_context(path[-1], list(rest))
    except Exception as error:  # noqa: BLE001 - click's own classes (vendored by Typer), told apart by name
        if type(error).__name__ in REFUSED:
            return f"`{text}` does not parse: {error}"
    return None


COMMANDS = written_commands()


def test_the_docs_show_commands_at_all() -> None:
    assert len(COMMANDS) > 30 and any("baton demo" in command for _where, command in COMMANDS)


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w} {c}" for w, c in COMMANDS])
def test_a_documented_command_runs_as_written(where: str, command: str) -> None:
    assert problem_with(command) is None, f"{where}: {problem_with(command)}"


def test_the_checker_refuses_what_would_fail() -> None:
    assert problem_with("baton eval run TASK MODEL") is not None  # --model is required
    assert problem_with("baton talent reviews/answer") is not None
    assert problem_with("baton serve --no-such-option") is not None
    assert problem_with("baton user create NAME extra-argument") is not None
    assert problem_with("baton user create NAME [--admin] [--org ORG]") is None


def test_the_cli_reference_is_generated_from_the_cli() -> None:
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == reference.render(), "docs/cli.md is stale: run scripts/cli-reference"
    for path, _command in reference.commands():
        assert f"`{' '.join(path)}`" in written or len(path) == 1
