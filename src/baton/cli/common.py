"""Options and helpers every CLI command shares.

Where a command's words go (every command writes through these helpers; a test keeps it so):

- ``say`` (stdout): the command's result for a person: the verdict, the listing, what was created or
  changed. ``print_table`` and ``print_json`` write results too.
- ``emit`` (stdout): text exactly as given, without markup: a value a script captures, e.g.
  ``TOKEN=$(baton user create alice)``, or text people wrote (a battle's prompt). A command that emits
  a value for capture prints only that on stdout; the sentence that describes it goes to stderr with
  ``note``, so capturing stays clean.
- ``note`` (stderr): progress, and sentences beside an emitted value.
- ``warn`` (stderr): something the person should know although the command succeeded.
- ``fail`` (stderr): the error and its hint, then exit status 2.

``--json`` prints exactly one JSON document on stdout (``print_json``) and nothing else there.
Long-running commands (``serve``, ``demo``, ``worker``, ``eval serve``) write their log to stderr.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from baton import domains
from baton.core.errors import BatonError, ConfigurationError
from baton.core.runtime import Runtime
from baton.core.settings import load_settings

console = Console(stderr=True)  # progress, notes, warnings, errors
_stdout = Console(soft_wrap=True)  # results; a fresh Console per call would lose the terminal check

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="BATON_DATA_DIR", help="Data folder (default ./baton-data)."),
]


def say(message: str) -> None:
    """A line of the command's result, to stdout (Rich markup allowed: escape what users wrote)."""
    _stdout.print(message)


def emit(value: str) -> None:
    """Text for stdout exactly as given (no markup, no wrapping): a value to capture, or users' text."""
    typer.echo(value)


def note(message: RenderableType) -> None:
    """Progress, or a sentence beside an emitted value, to stderr."""
    console.print(message, soft_wrap=True)


def warn(message: str) -> None:
    """Something to know although the command succeeded, to stderr."""
    console.print(f"[yellow]warning[/yellow]: {message}", soft_wrap=True)


def print_json(data: object, *, indent: int | None = 2) -> None:
    """The one JSON document of ``--json`` (or of a command whose result is JSON), to stdout."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=indent, default=str))


def print_table(table: Table) -> None:
    """A listing is the command's output: to stdout, and when piped wide enough not to wrap."""
    output = Console()
    if not output.is_terminal:
        output.width = 200  # a pipe or a file: do not squeeze the table into 80 columns
    output.print(table)


def open_runtime(data_dir: Path | None, *, create: bool = False) -> Runtime:
    """The runtime on the data folder; only ``serve``, ``demo`` and ``init`` may create the folder.

    Any other command run where there is no data folder stops here and says where it looked,
    instead of making an empty one and answering "not found" about everything.
    """
    settings = load_settings(data_dir=data_dir)
    folder = Path(settings.data_dir).expanduser().resolve()
    if not create and not folder.is_dir():
        where = "--data-dir / BATON_DATA_DIR" if data_dir is not None else f"the default ./baton-data in {Path.cwd()}"
        fail(
            ConfigurationError(
                f"No Baton data folder at {folder} (from {where}).",
                hint=f"Run the command where the data folder is, pass --data-dir PATH, or create one: "
                f"baton init --data-dir {shlex.quote(str(folder))}",
            )
        )
    return domains.open_runtime(settings)


def fail(error: BatonError) -> NoReturn:
    """Print a Baton error the way the API shows it (to stderr), and exit non-zero.

    The message and hint are printed as plain text: a hint such as ``pip install 'baton[ml]'`` keeps
    its brackets (Rich would read ``[ml]`` as markup and drop it).
    """
    console.print(f"[red]error[/red] ({escape(error.code)}): {escape(error.message)}", soft_wrap=True)
    if error.hint:
        console.print(f"[yellow]hint[/yellow]: {escape(error.hint)}", soft_wrap=True)
    raise typer.Exit(code=2)


def parse_moment(value: str | None) -> datetime | None:
    """An ISO date-time with its time zone from a ``--now``-style option (None stays None)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not an ISO date-time such as 2026-01-20T09:00:00+09:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter("give the time zone, e.g. 2026-01-20T09:00:00+09:00")
    return moment
