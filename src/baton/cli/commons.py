"""baton commons ...: the released assets, what holds some of them back, and embargoes coming due."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from baton.cli.common import DataDirOption, fail, open_runtime, parse_moment, print_json, say
from baton.core.errors import BatonError

app = typer.Typer(help="The commons: released assets, held releases, embargoes.", no_args_is_help=True)


@app.command("list")
def list_assets(
    challenge: Annotated[str | None, typer.Option("--challenge", help="Only this challenge.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """The commons catalogue: per team and asset, release state, downloads, repos built on it."""
    # The catalogue as the site shows it: the commons' with the talent pool's placements per team.
    from baton.web import catalogue

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            data = catalogue.catalogue(session, None, challenge=challenge)
    finally:
        runtime.close()
    if as_json:
        print_json(data)
        return
    for team in data["teams"]:
        say(f"[bold]{team['challenge']} / {team['team']}[/bold] (left at {team['stage']}, {team['reason']})")
        for asset in team["assets"]:
            notes = "; ".join(asset["notes"])
            # The public catalogue: a repo still private shows its sealed name (see challenge.access).
            name = asset["repo"] or f"{(asset.get('sealed') or {}).get('pseudonym') or ''} (private repo)".strip()
            say(
                f"  {name:<40} {asset['state']:<10} downloads {asset['downloads'] or 0:>6}  "
                f"built on it {asset['built_on_it_total']:>3}  {escape(notes)}"
            )
    if not data["teams"]:
        say("nothing released yet")


@app.command("held")
def held(
    challenge: Annotated[str | None, typer.Option("--challenge", help="Only this challenge.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Releases held by a check, with the findings an operator must resolve."""
    from baton.commons import release

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            items = release.held_items(session, challenge)
    finally:
        runtime.close()
    for item in items:
        say(f"[bold]{item['repo']}[/bold] ({item['challenge']} / {item['team']})")
        for finding in item["findings"]:
            if finding["state"] == "open":
                say(escape(f"  finding {finding['id']} [{finding['kind']}]: {finding['summary']}"))
    if not items:
        say("no release is held")


@app.command("resolve")
def resolve(
    finding: Annotated[int, typer.Argument(help="The finding's id (from `baton commons held`).")],
    operator: Annotated[str, typer.Option("--as", help="The operator (a site admin) acting.")],
    resolution: Annotated[str, typer.Option("--resolution", help="accept, or cleaned (after a new commit)")],
    reason: Annotated[str, typer.Option("--reason", help="The written reason, kept in the release record.")],
    data_dir: DataDirOption = None,
) -> None:
    """Resolve a finding that holds a release; when none is left the release goes ahead."""
    from baton.accounts import service as accounts
    from baton.commons import release

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            actor = accounts.act_as(session, operator)
            item = release.resolve_finding(session, runtime, finding, actor, resolution=resolution, reason=reason)
            say(f"{item.repo_name}: {item.state}")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("release-due")
def release_due(
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO, with zone).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Release the embargoed assets whose date has come (run it daily, e.g. from cron)."""
    from baton.commons import release

    runtime = open_runtime(data_dir)
    try:
        items = release.release_due(runtime, parse_moment(now))
        for item in items:
            say(f"{item.repo_name}: {item.state}")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
    if not items:
        say("nothing is due")
