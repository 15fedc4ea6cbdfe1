"""baton challenge panel-assign | panel-assignments | panel-conflict | rate | import-ratings: a panel
criterion's raters and their ratings (``baton.challenge.service.panel``), registered on ``baton challenge``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from baton.cli.common import DataDirOption, parse_moment, print_json, say
from baton.core.runtime import Runtime

# The same options as baton.cli.challenge's (which imports this module at its end).
OperatorOption = Annotated[str, typer.Option("--as", help="The operator (a site admin) acting.")]
UserOption = Annotated[
    str, typer.Option("--as", help="The account acting (checked like the API checks a token's user).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
NowOption = Annotated[
    str | None, typer.Option("--now", help="Record it as of this time (ISO, with zone; default now).")
]
CriterionOption = Annotated[
    str | None, typer.Option("--criterion", help="The panel criterion (needed only if the stage has several).")
]


def _panel_scores(values: list[str]) -> tuple[str | None, dict[str, str] | None]:
    """``--score 4`` (a single scale) or ``--score DIMENSION=4`` repeated (a rubric of dimensions)."""
    if len(values) == 1 and "=" not in values[0]:
        return values[0], None
    scores: dict[str, str] = {}
    for value in values:
        name, separator, number = value.partition("=")
        if not separator or not name.strip() or not number.strip():
            raise typer.BadParameter(
                f"'{value}' is not POINTS or DIMENSION=POINTS, e.g. --score 4 or --score helpfulness=4",
                param_hint="--score",
            )
        scores[name.strip()] = number.strip()
    return None, scores


def register(app: typer.Typer) -> None:
    from baton.cli.challenge import _act, _read

    @app.command("panel-assign")
    def panel_assign(
        slug: str,
        stage: str,
        operator: OperatorOption,
        rater: Annotated[list[str], typer.Option("--rater", help="A rater's user name (repeat for each).")] = [],  # noqa: B006
        raters_file: Annotated[
            Path | None, typer.Option("--raters-file", help="A file with one rater's user name a line.")
        ] = None,
        team: Annotated[
            list[str], typer.Option("--team", help="A team to rate (repeat; default every competing team).")
        ] = [],  # noqa: B006
        criterion: CriterionOption = None,
        as_json: JsonOption = False,
        now: NowOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        """Assign raters to a panel criterion's teams (refused for a rater affiliated with a named team;
        with every team, conflicted pairs are skipped and listed)."""
        from baton.accounts import service as accounts
        from baton.challenge import service

        names = list(rater)
        if raters_file is not None:
            names += [line.strip() for line in _read(raters_file).splitlines() if line.strip()]
        moment = parse_moment(now)

        def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
            return service.assign_raters(
                session,
                slug,
                stage,
                [accounts.get_account(session, name) for name in dict.fromkeys(names)],
                operator=accounts.act_as(session, operator),
                teams=team or None,
                criterion=criterion,
                now=moment,
            )

        result = _act(data_dir, action)
        if as_json:
            print_json(result)
            return
        say(
            f"{len(result['assigned'])} assignment(s) for {result['criterion']} in {stage}"
            f" ({result['existing']} already there)"
        )
        for skipped in result["skipped"]:
            say(f"  skipped: {skipped['rater']} for {skipped['team']} ({skipped['reason']})")

    @app.command("panel-assignments")
    def panel_assignments(
        slug: str, stage: str, rater: UserOption, as_json: JsonOption = False, data_dir: DataDirOption = None
    ) -> None:
        """What a rater is asked to rate: the teams, items and scale of each panel criterion."""
        from baton.accounts import service as accounts
        from baton.challenge import service

        result = _act(
            data_dir,
            lambda session, _runtime: service.panel_assignments_of(
                session, slug, stage, accounts.act_as(session, rater)
            ),
            write=False,
        )
        if as_json:
            print_json(result)
            return
        for panel in result["panels"]:
            scale = ", ".join(f"{d['id']} {d['min']}..{d['max']}" for d in panel["dimensions"])
            say(
                f"{panel['criterion']}: teams {', '.join(panel['teams']) or 'none'}; "
                f"{len(panel['items'])} items; {scale}"
            )

    @app.command("panel-conflict")
    def panel_conflict(
        slug: str,
        stage: str,
        team: str,
        user: UserOption,
        rater: Annotated[
            str | None, typer.Option("--rater", help="The rater (an operator declaring for them; default --as).")
        ] = None,
        as_json: JsonOption = False,
        now: NowOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        """Declare a rater's conflict of interest with a team: no more ratings of it, and those given are excluded."""
        from baton.accounts import service as accounts
        from baton.challenge import service

        moment = parse_moment(now)

        def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
            return service.declare_conflict(
                session,
                slug,
                stage,
                team,
                actor=accounts.act_as(session, user),
                rater=None if rater is None else accounts.get_account(session, rater),
                now=moment,
            )

        result = _act(data_dir, action)
        if as_json:
            print_json(result)
            return
        state = "recorded" if result["recorded"] else "already recorded"
        say(f"conflict of {result['rater']} with {result['team']} {state} ({result['source']})")

    @app.command("rate")
    def rate(
        slug: str,
        stage: str,
        team: str,
        rater: UserOption,
        item: Annotated[str, typer.Option("--item", help="The item (prompt) whose answer is rated.")],
        score: Annotated[
            list[str],
            typer.Option("--score", help="The points (--score 4), or DIMENSION=POINTS repeated for each dimension."),
        ],
        criterion: CriterionOption = None,
        as_json: JsonOption = False,
        now: NowOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        """Enter an assigned rater's rating of a team's answer to one item."""
        from baton.accounts import service as accounts
        from baton.challenge import service

        single, scores = _panel_scores(score)
        moment = parse_moment(now)

        def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
            return service.rate(
                session,
                slug,
                stage,
                team,
                rater=accounts.act_as(session, rater),
                item=item,
                score=single,
                scores=scores,
                criterion=criterion,
                now=moment,
            )

        result = _act(data_dir, action)
        if as_json:
            print_json(result)
            return
        points = ", ".join(f"{name}={value}" for name, value in result["scores"].items())
        say(f"rating of {team} item {result['item']} recorded as {result['rater']}: {points}")

    @app.command("import-ratings")
    def import_ratings(
        slug: str,
        stage: str,
        path: Annotated[Path, typer.Argument(help="CSV (team,item,rater,score) or JSON lines.")],
        operator: OperatorOption,
        file_format: Annotated[
            str | None, typer.Option("--format", help="csv or jsonl (default: from the file's extension).")
        ] = None,
        criterion: CriterionOption = None,
        as_json: JsonOption = False,
        now: NowOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        """Import a panel's ratings from a file in one transaction: all or nothing, problems by line."""
        from baton.accounts import service as accounts
        from baton.challenge import service

        chosen = file_format or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
        if chosen not in ("csv", "jsonl"):
            raise typer.BadParameter("use csv or jsonl", param_hint="--format")
        text = _read(path)
        moment = parse_moment(now)

        def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
            return service.import_ratings(
                session,
                slug,
                stage,
                text,
                operator=accounts.act_as(session, operator),
                fmt="jsonl" if chosen == "jsonl" else "csv",
                criterion=criterion,
                now=moment,
            )

        result = _act(data_dir, action)
        if as_json:
            print_json(result)
            return
        say(
            f"imported {result['ratings']} ratings of {result['teams']} teams by {result['raters']} raters "
            f"for {result['criterion']} (ledger seq {result['seq']})"
        )
