"""The CLI reference (``docs/cli.md``), generated from the commands themselves so it cannot drift.

    python -m baton.cli.reference > docs/cli.md     (scripts/cli-reference does it)

``tests/cli/test_docs_commands.py`` checks that the file in the repository is what this prints, and
that every ``baton ...`` command written in the README and the docs names real commands and options.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from baton.cli.main import app

HIDDEN_OPTIONS = {"install_completion", "show_completion", "help"}


def root() -> Any:
    """The click command tree behind the ``baton`` Typer app."""
    return typer.main.get_command(app)


def commands(command: Any | None = None, path: tuple[str, ...] = ("baton",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command (groups included), depth first, in the order ``--help`` lists them."""
    command = command or root()
    yield path, command
    if hasattr(command, "list_commands"):
        context = command.make_context(path[-1], [], resilient_parsing=True)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from commands(sub, (*path, name))


def find(words: list[str]) -> tuple[tuple[str, ...], Any, list[str]]:
    """The deepest command named by the leading ``words`` (after "baton"), and the words left over."""
    path: tuple[str, ...] = ("baton",)
    command = root()
    rest = list(words)
    while rest and hasattr(command, "list_commands"):
        context = command.make_context(path[-1], [], resilient_parsing=True)
        sub = command.get_command(context, rest[0])
        if sub is None:
            break
        path, command, rest = (*path, rest[0]), sub, rest[1:]
    return path, command, rest


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ")


def _usage(path: tuple[str, ...], command: Any) -> str:
    parts = [" ".join(path)]
    if hasattr(command, "list_commands"):
        return parts[0] + " COMMAND [ARGS]..."
    for parameter in command.params:
        if parameter.param_type_name == "argument":
            name = (parameter.metavar or parameter.name or "").upper()
            parts.append(name if parameter.required else f"[{name}]")
    if any(p.param_type_name == "option" and p.name not in HIDDEN_OPTIONS for p in command.params):
        parts.append("[OPTIONS]")
    return " ".join(parts)


def _option_row(parameter: Any) -> str:
    names = ", ".join(f"`{name}`" for name in [*parameter.opts, *parameter.secondary_opts])
    default = parameter.default
    shown = "" if default is None or callable(default) or (parameter.is_flag and default is False) else f"`{default}`"
    if getattr(parameter, "required", False):
        shown = "required"
    envvar = f" (env `{parameter.envvar}`)" if getattr(parameter, "envvar", None) else ""
    text = (getattr(parameter, "help", None) or "").replace("|", "\\|").replace("\n", " ")
    return f"| {names} | {shown} | {text}{envvar} |"


def render() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands themselves by `scripts/cli-reference` (`python -m baton.cli.reference`);",
        "do not edit by hand. `baton COMMAND --help` shows the same.",
        "",
    ]
    for path, command in commands():
        if len(path) == 1:
            continue
        lines.append(f"{'#' * min(len(path), 4)} `{' '.join(path)}`")
        lines.append("")
        help_text = _first_line(command.help)
        if help_text:
            lines.append(help_text)
            lines.append("")
        lines.append("```")
        lines.append(_usage(path, command))
        lines.append("```")
        lines.append("")
        options = [p for p in command.params if p.param_type_name == "option" and p.name not in HIDDEN_OPTIONS]
        if options:
            lines.append("| option | default | meaning |")
            lines.append("| --- | --- | --- |")
            lines.extend(_option_row(option) for option in options)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
