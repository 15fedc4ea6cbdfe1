"""baton hub ...: maintenance of the hub's storage."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.cli.common import DataDirOption, open_runtime, say
from baton.hub import maintenance

app = typer.Typer(help="Hub maintenance.", no_args_is_help=True)


@app.command("gc")
def gc(
    grace_seconds: Annotated[
        int | None, typer.Option("--grace-seconds", help="Keep unreferenced blobs younger than this.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be deleted.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Delete uploaded blobs that no commit references, after a grace period."""
    runtime = open_runtime(data_dir)
    try:
        grace = runtime.settings.gc_grace_seconds if grace_seconds is None else grace_seconds
        report = maintenance.collect_garbage(runtime, grace_seconds=grace, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        say(f"{verb} {report.deleted} blobs ({report.freed_bytes} bytes); kept {report.kept}")
    finally:
        runtime.close()


@app.command("reindex")
def reindex(
    repo: Annotated[
        list[str] | None, typer.Option("--repo", help="Only this repo (namespace/name); repeat for several.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rebuild the search index of repo names, tags and card text (repos from before the index)."""
    runtime = open_runtime(data_dir)
    try:
        report = maintenance.reindex(runtime, repo_ids=repo)
        say(f"indexed {report.repos} repos ({report.terms} terms in the index)")
    finally:
        runtime.close()
