"""baton provenance ...: compare checkpoints, scan a hub repo against the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from baton.cli.common import DataDirOption, fail, open_runtime, print_json, say
from baton.core.errors import BadRequestError, BatonError, RepoNotFoundError
from baton.core.runtime import Runtime

app = typer.Typer(help="Provenance: was a model derived from another? Decided from the weights.", no_args_is_help=True)


def _needs_hub(spec: str) -> bool:
    """A hub repo id, unless it is an existing path or is written as one (/, ./, ../, ~)."""
    if spec.startswith(("/", "./", "../", "~")):
        return False
    return not Path(spec).expanduser().exists()


@app.command("compare")
def compare(
    first: Annotated[str, typer.Argument(help="A local folder or a hub repo id (repo@revision allowed).")],
    second: Annotated[str, typer.Argument(help="The reference: a local folder or a hub repo id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    html_path: Annotated[Path | None, typer.Option("--html", help="Also write the HTML report here.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the HTML report: ko or en.")] = "ko",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.01,
    data_dir: DataDirOption = None,
) -> None:
    """Compare two checkpoints; exit code 0 whatever the verdict."""
    from baton.provenance.compare import compare_checkpoints
    from baton.provenance.reader import open_source
    from baton.provenance.report import explain
    from baton.web.provenance_pages import render_provenance

    if lang not in ("ko", "en"):
        fail(BadRequestError(f"No report language '{lang}'", hint="Use --lang ko (한국어) or --lang en (English)."))
        return
    runtime: Runtime | None = open_runtime(data_dir) if _needs_hub(first) or _needs_hub(second) else None
    try:
        subject = open_source(first, runtime)
        reference = open_source(second, runtime)
        result = compare_checkpoints(subject, reference, alpha=alpha)
    except BatonError as error:
        fail(error)
        return
    finally:
        if runtime is not None:
            runtime.close()
    if html_path is not None:
        page = render_provenance(result, subject.label, reference.label, lang=lang, standalone=True)
        html_path.write_text(page, encoding="utf-8")
    if as_json:
        print_json(result, indent=None)
        return
    words = explain(result, subject.label, reference.label)
    say(f"[bold]{result.get('verdict')}[/bold] relation={result.get('relation')} p={result.get('p_value')}")
    for component in result.get("components") or []:
        if component.get("status") != "independent":
            say(f"  {component.get('name')}: {component.get('status')} ← {component.get('source')}")
    say(words["en"])
    say(words["ko"])


@app.command("scan")
def scan(
    repo: Annotated[str, typer.Argument(help="A hub model repo id (repo@revision allowed).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Compare one hub repo against every model in the hub (candidates chosen by fingerprints)."""
    from baton.hub import commits, repos
    from baton.provenance import service

    runtime = open_runtime(data_dir)
    try:
        repo_id, _, revision = repo.partition("@")
        with runtime.database.session() as session:
            found = repos.find_repo(session, repos.parse_repo_id("model", repo_id))
            if found is None:
                raise RepoNotFoundError(f"Repository not found: {repo_id}")
            commit = commits.resolve_revision(session, found, revision or None)
            repo_pk, commit_oid = found.id, commit.oid
        summary = service.scan_revision(runtime, repo_pk, commit_oid)
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    if as_json:
        print_json(summary, indent=None)
        return
    say(f"{summary['repo']}@{summary['commit'][:12]}: {summary['status']} ({summary['compared']} compared)")
    for entry in summary["declared_checks"] + summary["flags"]:
        say(f"  {entry['message']} (p={entry['p_value']})")
