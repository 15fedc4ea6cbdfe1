"""Options and helpers every CLI command shares."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from baton import domains
from baton.core.errors import BatonError
from baton.core.runtime import Runtime
from baton.core.settings import load_settings

console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="BATON_DATA_DIR", help="Data folder (default ./baton-data)."),
]


def print_table(table: Table) -> None:
    """A listing is the command's output: to stdout, and when piped wide enough not to wrap."""
    output = Console()
    if not output.is_terminal:
        output.width = 200  # a pipe or a file: do not squeeze the table into 80 columns
    output.print(table)


def open_runtime(data_dir: Path | None) -> Runtime:
    return domains.open_runtime(load_settings(data_dir=data_dir))


def fail(error: BatonError) -> None:
    """Print a Baton error the way the API shows it, and exit non-zero."""
    console.print(f"[red]error[/red] ({error.code}): {error.message}")
    if error.hint:
        console.print(f"[yellow]hint[/yellow]: {error.hint}")
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
