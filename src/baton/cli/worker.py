"""baton worker / baton jobs ...: run background jobs and look at the job table."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table

from baton.cli.common import DataDirOption, console, fail, open_runtime, print_json, print_table, say
from baton.core import jobs
from baton.core.errors import BadRequestError, BatonError
from baton.core.job_models import JOB_STATUSES
from baton.core.runtime import Runtime

jobs_app = typer.Typer(help="The background job table.", no_args_is_help=True)


def _registry_with(runtime: Runtime, handlers: list[str]) -> jobs.JobRegistry:
    registry = runtime.registry.job_registry()
    for entry in handlers:
        kind, separator, target = entry.partition("=")
        if not separator or ":" not in target:
            raise BadRequestError(
                f"--handler {entry!r} is not KIND=MODULE:ATTR.",
                hint="For example: --handler team.report=mypackage.jobs:make_report",
            )
        registry.add(kind.strip(), target.strip(), replace=True)
    return registry


def worker(
    kinds: Annotated[
        str | None, typer.Option("--kinds", help="Comma-separated job kinds to take (default: every known kind).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run the jobs that are ready now, then exit.")] = False,
    poll_seconds: Annotated[
        float, typer.Option("--poll-seconds", help="How long to wait when no job is ready.", min=0)
    ] = 1.0,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            help="How long a job stays ours without a heartbeat; after that, another worker may take it over.",
            min=0.1,
        ),
    ] = jobs.DEFAULT_LEASE_SECONDS,
    handler: Annotated[
        list[str] | None,
        typer.Option("--handler", help="Extra handler KIND=MODULE:ATTR (repeatable), e.g. from a plugin."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run background jobs (evaluations, fingerprints, scans) until SIGTERM or Ctrl-C.

    Several workers may run at once, on one machine or many sharing the database.
    """
    runtime = open_runtime(data_dir)
    # After open_runtime, so that the migrations' own log lines stay quiet. Plain lines (one per
    # event, never wrapped) when the output goes to a file or a service manager's journal.
    log_handler: logging.Handler = (
        RichHandler(console=console, show_path=False) if console.is_terminal else logging.StreamHandler()
    )
    if not console.is_terminal:
        log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log_handler])
    try:
        registry = _registry_with(runtime, handler or [])
        kind_list = [kind.strip() for kind in kinds.split(",") if kind.strip()] if kinds else None
        job_worker = jobs.Worker(
            runtime, registry, kinds=kind_list, lease_seconds=lease_seconds, poll_seconds=poll_seconds
        )
        for action in runtime.registry.startup:  # e.g. the challenge's hourly finality sweep
            action(runtime)
        restore_signals = job_worker.install_signal_handlers()
        try:
            job_worker.run(until_idle=once)
        finally:
            restore_signals()
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


STATUS_STYLES = {"queued": "cyan", "running": "yellow", "succeeded": "green", "failed": "red", "dead": "red bold"}


@jobs_app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only jobs in this state: {', '.join(JOB_STATUSES)}.")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.", min=1)] = 50,
    data_dir: DataDirOption = None,
) -> None:
    """List jobs, newest first."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            rows = jobs.list_jobs(session, status=status, kind=kind, limit=limit)
        table = Table(title="Jobs")
        for column in ("id", "kind", "status", "tries", "prio", "created", "finished"):
            table.add_column(column, no_wrap=True)
        table.add_column("worker / error", overflow="fold")
        for job in rows:
            first_error_line = job.error.splitlines()[0] if job.error else ""
            table.add_row(
                str(job.id),
                job.kind,
                f"[{STATUS_STYLES.get(job.status, '')}]{job.status}[/]",
                f"{job.attempts}/{job.max_attempts}",
                str(job.priority),
                f"{job.created_at:%m-%d %H:%M:%S}",
                f"{job.finished_at:%m-%d %H:%M:%S}" if job.finished_at else "",
                job.locked_by or first_error_line[:200],
            )
        print_table(table)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@jobs_app.command("show")
def show_command(
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
    data_dir: DataDirOption = None,
) -> None:
    """Print one job as JSON: payload, result, error and timings."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            job = jobs.get(session, job_id)
        fields = {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "priority": job.priority,
            "dedupe_key": job.dedupe_key,
            "payload": job.payload,
            "result": job.result,
            "error": job.error,
            "locked_by": job.locked_by,
            "locked_until": job.locked_until,
            "run_after": job.run_after,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
        }
        print_json(fields)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@jobs_app.command("retry")
def retry_command(
    job_id: Annotated[int, typer.Argument(help="A failed or dead job's id.")],
    data_dir: DataDirOption = None,
) -> None:
    """Queue a failed or dead job again, with a fresh set of attempts."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            job = jobs.requeue(session, job_id)
        say(f"job {job.id} ({job.kind}) queued again")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
