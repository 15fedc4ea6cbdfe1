"""baton challenge ...: validate a spec; act as operators, reviewers, voters and teams; decide; export and verify."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from baton.cli.common import DataDirOption, emit, fail, note, open_runtime, parse_moment, print_json, say
from baton.core.errors import BadRequestError, BatonError
from baton.core.runtime import Runtime

app = typer.Typer(help="Staged challenges: specs, decisions, the verifiable ledger.", no_args_is_help=True)

OperatorOption = Annotated[str, typer.Option("--as", help="The operator (a site admin) acting.")]


@app.command("validate")
def validate(
    path: Annotated[Path | None, typer.Argument(help="The challenge YAML.")] = None,
    example: Annotated[str | None, typer.Option("--example", help="Validate a shipped example instead.")] = None,
) -> None:
    """Check a challenge YAML; problems are listed with their line numbers."""
    from baton.challenge.spec import example_path, load_spec_file

    try:
        if path is None and example is None:
            raise typer.BadParameter("give a FILE or --example NAME (stage1, four-stage)")
        spec = load_spec_file(path if path is not None else example_path(str(example)))
    except BatonError as error:
        fail(error)
        return
    say(f"[green]valid[/green]: {spec.challenge} v{spec.version} — {spec.title}")
    for stage in spec.stages:
        weights = ", ".join(f"{c.id} {c.weight:g}" for c in stage.criteria)
        gates = ", ".join(g.id for g in stage.gates) or "none"
        say(
            f"  {stage.id}: {stage.teams} teams → {stage.advance} advance"
            + (f" (+{stage.repechage} by repechage)" if stage.repechage else "")
            + f"; deadline {stage.deadline.isoformat()}; {weights}; gates: {gates}"
        )


@app.command("examples")
def examples() -> None:
    """Print the paths of the shipped example YAMLs."""
    from baton.challenge.spec import EXAMPLES_DIR

    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        emit(str(path))


@app.command("create")
def create(path: Path, operator: OperatorOption, data_dir: DataDirOption = None) -> None:
    """Create a challenge from its YAML (recorded as the ledger's first event)."""
    from baton.accounts import service as accounts
    from baton.challenge import service
    from baton.challenge.spec import load_spec_file

    runtime = open_runtime(data_dir)
    try:
        spec = load_spec_file(path)
        with runtime.database.session(write=True) as session:
            challenge = service.create_challenge(session, spec, operator=accounts.act_as(session, operator))
            head = challenge.head_hash
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    say(f"created {spec.challenge}; ledger head {head}")


@app.command("list")
def list_challenges(data_dir: DataDirOption = None) -> None:
    """The challenges, with their ledger heads."""
    from baton.challenge import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            for challenge in service.list_challenges(session):
                emit(f"{challenge.slug}\t{challenge.last_seq} events\thead {challenge.head_hash}")
    finally:
        runtime.close()


@app.command("decide")
def decide(
    slug: str,
    stage: str,
    operator: OperatorOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision record.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Compute and record a stage's decision."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            record = service.decide(session, runtime, slug, stage, operator=accounts.act_as(session, operator))
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    if as_json:
        print_json(record)
        return
    for row in record["teams"]:
        say(
            f"  {row['rank']}. {row['team']}: {row['composite']:.2f} [{row['lower']:.2f}, {row['upper']:.2f}] "
            f"{row['outcome']}" + (f" ({row['eliminated_by']})" if row["eliminated_by"] else "")
        )
    say(f"head {record['head']}; appeals until {record['appeal_deadline']}")


@app.command("finalize")
def finalize(
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO, with zone).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make final the decisions whose appeal window has closed with every appeal answered.

    The exits' reactions (release plans, invitations) are events: this command delivers them before
    it returns, as a worker would, all stamped with the same time (``--now`` moves Baton's clock).
    """
    from contextlib import nullcontext

    from baton.challenge import service
    from baton.core import clock, events

    moment = parse_moment(now)
    runtime = open_runtime(data_dir)
    try:
        with clock.frozen(moment) if moment is not None else nullcontext():
            with runtime.database.session(write=True) as session:
                done = service.finalize_due(session)
            delivered = events.drain(runtime)
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    for slug, stage in done:
        say(f"final: {slug} {stage}")
    if not done:
        say("nothing to finalize")
    if delivered:
        note(f"ran {delivered} event job(s): release plans, invitations (see `baton jobs list`)")


@app.command("reveal")
def reveal(
    slug: str,
    operator: Annotated[
        str | None, typer.Option("--as", help="The operator (a site admin) acting; recorded with the reveal.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Publish the openings of every sealed repo of the challenge that is public now.

    Finality and releases open what is public at their moment; a repo made public later (after the
    last finality, say) is opened by this. Running it again appends nothing until another repo is public.
    """
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> tuple[int | None, list[str]]:
        acting = accounts.act_as(session, operator) if operator is not None else None
        event = service.reveal_public(session, slug, operator=acting)
        if event is None:
            return None, []
        return event.seq, [str(opening["value"]["repo"]) for opening in event.payload["openings"]]

    seq, opened = _act(data_dir, action)
    if seq is None:
        say(f"{slug}: nothing to reveal (every sealed repo is still private, or opened already)")
        return
    say(f"{slug}: revealed {len(opened)} opening(s) at seq {seq}: {', '.join(sorted(set(opened)))}")


@app.command("override")
def override(
    slug: str,
    stage: str,
    team: str,
    operator: OperatorOption,
    outcome: Annotated[str, typer.Option("--outcome", help="pass or fail")],
    reason: Annotated[str, typer.Option("--reason", help="The written reason (published with the decision).")],
    gate: Annotated[str, typer.Option("--gate")] = "independence",
    data_dir: DataDirOption = None,
) -> None:
    """Rule on a gate (e.g. an inconclusive independence check), with a written reason."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            service.override_gate(
                session,
                slug,
                stage,
                team,
                outcome=outcome,
                reason=reason,
                gate=gate,
                operator=accounts.act_as(session, operator),
            )
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    say(f"{gate} for {team} in {stage}: {outcome}")


@app.command("check-gates")
def check_gates(
    slug: str,
    operator: OperatorOption,
    stage: Annotated[str, typer.Option("--stage", help="The stage whose gates to check.")],
    team: Annotated[str | None, typer.Option("--team", help="Only this team (default: every competing team).")] = None,
    gate: Annotated[
        str | None, typer.Option("--gate", help="Only this gate (default: every gate of the stage).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcomes as JSON.")] = False,
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO, with zone).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check a stage's gates for its teams and record each outcome with its evidence.

    Independence reads the provenance reports of each submitted revision; license and documents read
    the revision at its pinned commit. Threshold gates are computed when the stage is decided.
    """
    from contextlib import nullcontext

    from rich.markup import escape

    from baton.accounts import service as accounts
    from baton.challenge import service
    from baton.core import clock

    moment = parse_moment(now)
    runtime = open_runtime(data_dir)
    try:
        with (
            clock.frozen(moment) if moment is not None else nullcontext(),
            runtime.database.session(write=True) as session,
        ):
            checks = service.check_gates(
                session,
                slug,
                stage,
                operator=accounts.act_as(session, operator),
                team=team,
                gate=gate,
                store=runtime.store,
            )
            rows: list[dict[str, Any]] = [
                {
                    "team": check.team,
                    "gate": check.gate,
                    "kind": check.kind,
                    "outcome": check.outcome,
                    "reason": check.reason,
                    "summary": None if check.result is None else check.result.evidence.get("summary"),
                }
                for check in checks
            ]
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    if as_json:
        print_json(rows)
        return
    colours = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
    for row in rows:
        outcome = row["outcome"]
        shown = f"[{colours[outcome]}]{outcome}[/{colours[outcome]}]" if outcome in colours else outcome
        say(f"{escape(row['team'])} {escape(row['gate'])} ({row['kind']}): {shown}: {escape(row['reason'])}")
    if not rows:
        say(f"{stage} has no gates to check")
    pending = sum(1 for row in rows if row["outcome"] == "inconclusive")
    if pending:
        note(f"{pending} outcome(s) await an operator: see baton challenge override --help")


@app.command("export")
def export(
    slug: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the bundle (JSON lines).")],
    openings: Annotated[
        Path | None,
        typer.Option(
            "--openings",
            help="Also write every commitment's opening (private repos included) here: for auditors only, "
            "never for publication.",
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the challenge's ledger as a self-contained bundle that `verify --bundle` checks without a database."""
    from baton.challenge import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            bundle = service.export_bundle(session, slug)
            head = service.get_challenge(session, slug).head_hash
            kept = service.export_openings(session, slug) if openings is not None else None
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    output.write_text(bundle, encoding="utf-8")
    say(f"wrote {output}; head {head}")
    if openings is not None and kept is not None:
        openings.write_text(kept, encoding="utf-8")
        say(f"wrote {openings} (openings of sealed names: keep it private)")


@app.command("verify")
def verify(
    slug: Annotated[str | None, typer.Argument(help="A challenge in the database (or use --bundle).")] = None,
    bundle: Annotated[Path | None, typer.Option("--bundle", help="An exported bundle; no database needed.")] = None,
    head: Annotated[str | None, typer.Option("--head", help="The published head hash to check against.")] = None,
    openings: Annotated[
        Path | None,
        typer.Option("--openings", help="Openings kept by the operators (`export --openings`) to check too."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Check the hash chain against a published head, every revealed commitment, and recompute every decision.

    Exit 1 on any difference. Commitments whose opening is neither revealed nor given (--openings) are
    counted as sealed: private repos, and battles of a stage whose voting is open.
    """
    from baton.challenge import ledger

    if (slug is None) == (bundle is None):
        raise typer.BadParameter("give a challenge SLUG or --bundle FILE (one of them)")
    given = _read_openings(openings) if openings is not None else []
    if bundle is not None:
        report = ledger.verify_bundle(_read(bundle), head, openings=given)
    else:
        from baton.challenge import service

        runtime = open_runtime(data_dir)
        try:
            with runtime.database.session() as session:
                # The local database is the operators': its openings are checked too.
                report = service.verify_database(session, str(slug), head, with_openings=True)
        except BatonError as error:
            fail(error)
            return
        finally:
            runtime.close()
    if as_json:
        print_json(report.to_json())
    else:
        for problem in report.problems:
            say(f"[red]✗[/red] {problem}")
        for warning in report.warnings:
            say(f"[yellow]![/yellow] {warning}")
        status = "[green]verified[/green]" if report.ok else f"[red]{len(report.problems)} problem(s)[/red]"
        where = f" (published head at seq {report.head_seq})" if report.head_seq else ""
        say(
            f"{status}: {report.challenge}, {report.events} events, {report.decisions_checked} decisions "
            f"recomputed; head {report.head}{where}"
        )
        if report.commitments:
            say(
                f"commitments: {report.commitments}, {report.commitments_opened} opened and checked, "
                f"{report.commitments_sealed} still sealed (private repos, or battles whose voting is open)"
            )
    if not report.ok:
        raise typer.Exit(code=1)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        fail(BadRequestError(f"Cannot read {path}: {error.strerror}.", hint="Check the path and its permissions."))


def _read_openings(path: Path) -> list[dict[str, Any]]:
    from baton.challenge import ledger

    try:
        return ledger.parse_openings(_read(path))
    except ValueError as error:
        fail(BadRequestError(f"{path}: {error}", hint="Pass the file that baton challenge export --openings wrote."))


# --- the people's actions, as a local operator runs them (the API does the same with tokens) ---------

UserOption = Annotated[
    str, typer.Option("--as", help="The account acting (checked like the API checks a token's user).")
]
ActT = TypeVar("ActT")


def _act(data_dir: Path | None, action: Callable[[Session, Runtime], ActT], *, write: bool = True) -> ActT:
    """Run ``action`` in one transaction of the local database; a refusal prints its message and hint."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=write) as session:
            return action(session, runtime)
    except BatonError as error:
        fail(error)
        raise AssertionError("unreachable") from error  # fail() exits
    finally:
        runtime.close()


def _scores(values: list[str]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for value in values:
        name, separator, number = value.partition("=")
        try:
            if not separator or not name.strip():
                raise ValueError
            scores[name.strip()] = float(number)
        except ValueError:
            raise typer.BadParameter(
                f"'{value}' is not ITEM=NUMBER, e.g. --score report=8", param_hint="--score"
            ) from None
    return scores


@app.command("assign-reviewer")
def assign_reviewer(
    slug: str,
    stage: str,
    team: str,
    reviewer: Annotated[str, typer.Argument(help="The reviewer's user name.")],
    operator: OperatorOption,
    data_dir: DataDirOption = None,
) -> None:
    """Assign a reviewer to a team for a stage (refused if the reviewer is affiliated with the team)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> str:
        assignment = service.assign_reviewer(
            session,
            slug,
            stage,
            team,
            accounts.get_account(session, reviewer),
            operator=accounts.act_as(session, operator),
        )
        return assignment.pseudonym

    pseudonym = _act(data_dir, action)
    say(f"{reviewer} reviews {team} in {stage} (published as {pseudonym})")


@app.command("review")
def review(
    slug: str,
    stage: str,
    team: str,
    reviewer: UserOption,
    score: Annotated[
        list[str], typer.Option("--score", help="A rubric item's score, ITEM=NUMBER (repeat for each item).")
    ],
    comment: Annotated[str, typer.Option("--comment", help="The reviewer's comment (kept in the ledger).")] = "",
    criterion: Annotated[
        str | None, typer.Option("--criterion", help="The review criterion (needed only if the stage has several).")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Enter an assigned reviewer's scores for a team (every rubric item, within its maximum)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    scores = _scores(score)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        return service.record_review(
            session,
            slug,
            stage,
            team,
            reviewer=accounts.act_as(session, reviewer),
            scores=scores,
            comment=comment,
            criterion=criterion,
        )

    recorded = _act(data_dir, action)
    say(f"review of {team} in {stage} recorded as {recorded.get('reviewer')}: total {recorded.get('total')}")


@app.command("next-battle")
def next_battle(
    slug: str,
    stage: str,
    voter: UserOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the battle as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show the voter a blind battle to judge (no team or model is named); exit 1 when none is left."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> dict[str, str] | None:
        battle = service.next_battle(session, slug, stage, voter=accounts.act_as(session, voter))
        if battle is None:
            return None
        return {
            "battle": battle.battle,
            "prompt": battle.prompt,
            "answer_a": battle.answer_a,
            "answer_b": battle.answer_b,
        }

    shown = _act(data_dir, action, write=False)
    if shown is None:
        note(f"no battle left for {voter} in {stage}")
        raise typer.Exit(code=1)
    if as_json:
        print_json(shown)
        return
    emit(
        f"battle {shown['battle']}\n\nprompt:\n{shown['prompt']}\n\nA:\n{shown['answer_a']}\n\nB:\n{shown['answer_b']}"
    )
    note(
        f"\nvote: baton challenge vote {slug} {stage} --as {voter} --battle {shown['battle']} --choice a|b|tie|both_bad"
    )


@app.command("vote")
def vote(
    slug: str,
    stage: str,
    voter: UserOption,
    battle: Annotated[str, typer.Option("--battle", help="The battle's id, as `next-battle` shows it.")],
    choice: Annotated[str, typer.Option("--choice", help="a, b, tie or both_bad.")],
    data_dir: DataDirOption = None,
) -> None:
    """Cast a user's vote on a blind battle (conflicts of interest, limits and the deadline apply)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        return service.record_vote(session, slug, stage, battle, voter=accounts.act_as(session, voter), choice=choice)

    recorded = _act(data_dir, action)
    say(f"vote {choice} on {battle} recorded as {recorded.get('voter')}")


@app.command("appeal")
def appeal(
    slug: str,
    stage: str,
    team: str,
    user: UserOption,
    text: Annotated[str, typer.Option("--text", help="What the team contests and why.")],
    data_dir: DataDirOption = None,
) -> None:
    """File a team's appeal against a stage's decision, during its appeal window (team members only)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        row = service.file_appeal(session, slug, stage, team, text=text, user=accounts.act_as(session, user))
        return service.appeal_json(session, row)

    filed = _act(data_dir, action)
    emit(str(filed["id"]))
    note(f"appeal {filed['id']} filed for {team} against {stage}; an operator answers it")


@app.command("answer-appeal")
def answer_appeal(
    slug: str,
    appeal_id: Annotated[int, typer.Argument(help="The appeal's id (see `baton challenge appeals`).")],
    operator: OperatorOption,
    answer: Annotated[str, typer.Option("--answer", help="The written answer (published with the decision).")],
    upheld: Annotated[
        bool, typer.Option("--upheld/--rejected", help="Whether the appeal is upheld (then decide the stage again).")
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Answer an appeal; the decision becomes final once its window has closed and every appeal is answered."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    def action(session: Session, _runtime: Runtime) -> None:
        service.answer_appeal(
            session, slug, appeal_id, answer=answer, upheld=upheld, operator=accounts.act_as(session, operator)
        )

    _act(data_dir, action)
    say(f"appeal {appeal_id} answered: {'upheld' if upheld else 'rejected'}")


@app.command("appeals")
def appeals(
    slug: str,
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage's appeals.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """List a challenge's appeals with their answers (JSON)."""
    from baton.challenge import service

    listed = _act(data_dir, lambda session, _runtime: service.list_appeals(session, slug, stage), write=False)
    print_json(listed)
