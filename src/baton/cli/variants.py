"""baton variants ...: make a model's lightweight variants, check that a variant loads, list the runtimes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from baton.cli.common import DataDirOption, fail, open_runtime, print_json, say
from baton.core.errors import BatonError

app = typer.Typer(help="Lightweight variants and chip-ready builds of the hub's models.", no_args_is_help=True)


@app.command("make")
def make(
    repo: Annotated[str, typer.Argument(help="The base model repo, ORG/NAME (a causal LM).")],
    method: Annotated[
        list[str] | None,
        typer.Option("--method", help="onnx-int8, int8 or int4 (repeatable; default: all three)."),
    ] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue it for a worker instead of running it here.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Make the variants of ORG/NAME's head as repos ORG/NAME-onnx-int8, -int8, -int4 (skips those up to date)."""
    from baton.variants import make as making

    runtime = open_runtime(data_dir)
    try:
        if queue:
            job = making.enqueue_make(runtime, repo, method)
            say(f"queued job {job.id} ({making.MAKE_JOB})")
            return
        outcome = making.make_variants(runtime, repo, methods=method)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
    if as_json:
        print_json(outcome)
        return
    say(f"[bold]{escape(outcome['base'])}[/bold] at {outcome['commit'][:12]}")
    for variant in outcome["variants"]:
        note = variant.get("message") or (f"commit {variant['commit'][:12]}" if variant.get("commit") else "")
        say(escape(f"  {variant['repo']:<48} {variant['status']:<9} {note}"))


@app.command("check")
def check(
    repo: Annotated[str, typer.Argument(help="The variant repo, ORG/NAME.")],
    revision: Annotated[str | None, typer.Option("--revision", help="A branch, tag or commit (default: head).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Load the variant with the runtime its card names, run it on a few tokens, and record the outcome."""
    from baton.core.errors import RepoNotFoundError
    from baton.hub import repos
    from baton.variants import checks

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            found = repos.find_repo(session, repos.parse_repo_id("model", repo))
            if found is None:
                raise RepoNotFoundError(f"Repository not found: {repo}")
            repo_pk = found.id
        record = checks.run_check(runtime, repo_pk, revision)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
    if as_json:
        print_json(record)
    else:
        say(escape(f"{repo}@{record['commit'][:12]} with {record['runtime']}: {record['status']}"))
        say(escape(f"  {record['message']}"))
    if record["status"] != "ok":
        raise typer.Exit(1)


@app.command("runtimes")
def list_runtimes() -> None:
    """The runtimes variants can name: built-in ones and those installed plug-ins register."""
    from baton.variants import runtimes

    for name in runtimes.runtime_names():
        say(escape(f"{name:<20} {'built-in' if name in runtimes.BUILT_IN else 'plug-in'}"))
