"""baton challenge ...: validate a spec; act as operators, reviewers, voters and teams; decide; export and verify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from baton.cli.common import DataDirOption, emit, fail, note, open_runtime, parse_moment, print_json, say
from baton.core.errors import BadRequestError, BatonError
from baton.core.runtime import Runtime

if TYPE_CHECKING:
    from baton.challenge.spec import Stage

app = typer.Typer(help="Staged challenges: specs, decisions, the verifiable ledger.", no_args_is_help=True)

OperatorOption = Annotated[str, typer.Option("--as", help="The operator (a site admin) acting.")]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Act as if it were this time (ISO, with zone); default: Baton's clock."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")]


def _at(now: str | None) -> datetime | None:
    """``--now`` as an instant in UTC (the ledger's times are UTC, as Baton's clock gives them); None: the clock."""
    moment = parse_moment(now)
    return None if moment is None else moment.astimezone(UTC)


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
            f"  {stage.id}: {_who_goes_on(stage)}"
            + (f" (+{stage.repechage} by repechage)" if stage.repechage else "")
            + f"; deadline {stage.deadline.isoformat()}; {weights}; gates: {gates}"
        )


def _who_goes_on(stage: Stage) -> str:
    """A stage's size and advancement rule in a few words (``validate``)."""
    if stage.is_repechage:
        opens = stage.opens.isoformat() if stage.opens is not None else "?"
        return f"repechage open to {' and '.join(stage.open_to)} teams from {opens}, admits up to {stage.admits}"
    if stage.advancement is None:
        return f"{stage.teams} teams → {stage.advance} advance"
    rule = stage.advancement
    parts = [f"lowest {rule.eliminate_lowest} and gate failures eliminated"] if rule.eliminate_lowest else []
    if rule.advance_up_to is not None:
        parts.append(f"up to {rule.advance_up_to} advance")
    return f"up to {stage.teams} teams → " + ", ".join(parts) + " (no refill)"


@app.command("examples")
def examples() -> None:
    """Print the paths of the shipped example YAMLs."""
    from baton.challenge.spec import EXAMPLES_DIR

    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        emit(str(path))


@app.command("create")
def create(path: Path, operator: OperatorOption, now: NowOption = None, data_dir: DataDirOption = None) -> None:
    """Create a challenge from its YAML (recorded as the ledger's first event)."""
    from baton.accounts import service as accounts
    from baton.challenge import service
    from baton.challenge.spec import load_spec_file

    moment = _at(now)
    runtime = open_runtime(data_dir)
    try:
        spec = load_spec_file(path)
        with runtime.database.session(write=True) as session:
            challenge = service.create_challenge(session, spec, operator=accounts.act_as(session, operator), now=moment)
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Compute and record a stage's decision."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            record = service.decide(
                session, runtime, slug, stage, operator=accounts.act_as(session, operator), now=moment
            )
            zone = service.spec_of(service.get_challenge(session, slug)).timezone
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
    from baton.challenge.report import show_time

    say(f"head {record['head']}; appeals until {show_time(record['appeal_deadline'], zone)}")


@app.command("finalize")
def finalize(
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make final the decisions whose appeal window has closed with every appeal answered.

    The exits' reactions (release plans, invitations) are events: this command delivers them before
    it returns, as a worker would, all stamped with the same time (``--now`` moves Baton's clock).
    """
    from contextlib import nullcontext

    from baton.challenge import service
    from baton.core import clock, events

    moment = _at(now)
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Publish the openings of every sealed repo of the challenge that is public now.

    Finality and releases open what is public at their moment; a repo made public later (after the
    last finality, say) is opened by this. Running it again appends nothing until another repo is public.
    """
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> tuple[int | None, list[str]]:
        acting = accounts.act_as(session, operator) if operator is not None else None
        event = service.reveal_public(session, slug, operator=acting, now=moment)
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rule on a gate (e.g. an inconclusive independence check), with a written reason."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)
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
                now=moment,
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Assign a reviewer to a team for a stage (refused if the reviewer is affiliated with the team)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> str:
        assignment = service.assign_reviewer(
            session,
            slug,
            stage,
            team,
            accounts.get_account(session, reviewer),
            operator=accounts.act_as(session, operator),
            now=moment,
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Enter an assigned reviewer's scores for a team (every rubric item, within its maximum)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    scores = _scores(score)
    moment = _at(now)

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
            now=moment,
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Cast a user's vote on a blind battle (conflicts of interest, limits and the deadline apply)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        voting = accounts.act_as(session, voter)
        return service.record_vote(session, slug, stage, battle, voter=voting, choice=choice, now=moment)

    recorded = _act(data_dir, action)
    say(f"vote {choice} on {battle} recorded as {recorded.get('voter')}")


@app.command("appeal")
def appeal(
    slug: str,
    stage: str,
    team: str,
    user: UserOption,
    text: Annotated[str, typer.Option("--text", help="What the team contests and why.")],
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """File a team's appeal against a stage's decision, during its appeal window (team members only)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        acting = accounts.act_as(session, user)
        row = service.file_appeal(session, slug, stage, team, text=text, user=acting, now=moment)
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
    now: NowOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Answer an appeal; the decision becomes final once its window has closed and every appeal is answered."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> None:
        acting = accounts.act_as(session, operator)
        service.answer_appeal(session, slug, appeal_id, answer=answer, upheld=upheld, operator=acting, now=moment)

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


# --- the operators' inputs: teams, submissions, scores, battles, revisions (thin over the service) -----


def _read_document(path: Path, subject: str) -> Any:
    """A YAML (or JSON) file the operator gives: a release plan, a spec."""
    import yaml

    from baton.core import yamlcost

    text = _read(path)
    try:
        return yamlcost.load(text, subject)
    except (yamlcost.YamlCostError, yaml.YAMLError) as error:
        fail(BadRequestError(f"{path}: {subject} is not readable YAML or JSON ({error})", hint="Check the file."))


@app.command("enter")
def enter(
    slug: str,
    team: Annotated[str, typer.Argument(help="The team's id (lowercase letters, digits, '-', '_', '.').")],
    operator: OperatorOption,
    organization: Annotated[
        list[str], typer.Option("--org", help="An organization of the team's consortium (repeat for each).")
    ],
    name: Annotated[str, typer.Option("--name", help="The team's display name (default: its id).")] = "",
    member: Annotated[
        list[str] | None, typer.Option("--member", help="A person in the team (a user; repeat for each).")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", help="A declared target model, 'namespace/name[@revision]' (repeat for each)."),
    ] = None,
    release_plan: Annotated[
        Path | None, typer.Option("--release-plan", help="The team's release plan (YAML or JSON: repos: [...]).")
    ] = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Enter a later stage by repechage (default: the first stage).")
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Enter a team into a challenge: its organizations, members, declared target models and release plan."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)
    plan = _read_document(release_plan, "the release plan") if release_plan is not None else None
    if plan is not None and not isinstance(plan, dict):
        fail(BadRequestError(f"{release_plan}: a release plan is a mapping", hint="Write it as repos: [...]."))
    entry = service.TeamEntry(
        team=team,
        name=name,
        organizations=organization,
        members=member or [],
        target_models=target or [],
        release_plan=plan,
        stage=stage,
    )

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        row = service.enter_team(session, slug, entry, operator=accounts.act_as(session, operator), now=moment)
        return {
            "challenge": slug,
            "team": row.slug,
            "name": row.name,
            "organizations": list(row.organizations),
            "members": list(row.members),
            "target_models": list(row.target_models),
            "stage": row.entered_stage,
            "repechage": row.repechage,
            "entered_at": service.iso(row.entered_at),
        }

    entered = _act(data_dir, action)
    if as_json:
        print_json(entered)
        return
    how = " by repechage" if entered["repechage"] else ""
    say(f"{escape(entered['team'])} entered {escape(slug)} at {entered['stage']}{how}")


@app.command("submit")
def submit(
    slug: str,
    stage: str,
    team: str,
    user: Annotated[str, typer.Option("--as", help="A member of the team, who can write to the repo.")],
    repo: Annotated[str, typer.Option("--repo", help="The hub repo, 'namespace/name'.")],
    revision: Annotated[
        str | None, typer.Option("--revision", help="A branch, tag or commit (default: the default branch's head).")
    ] = None,
    repo_type: Annotated[str, typer.Option("--repo-type", help="model, dataset or space.")] = "model",
    now: NowOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Pin a hub revision as the team's submission for a stage (before its deadline; replaces an earlier one)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        row = service.submit(
            session,
            slug,
            stage,
            team,
            repo=repo,
            repo_type=repo_type,
            revision=revision,
            user=accounts.act_as(session, user),
            now=moment,
        )
        return {
            "challenge": slug,
            "stage": stage,
            "team": team,
            "repo": row.repo_name,
            "repo_type": row.repo_type,
            "revision": row.commit_oid,
            "model": f"{row.repo_name}@{row.commit_oid}",
            "sealed": row.commitment is not None,
            "submitted_at": service.iso(row.submitted_at),
        }

    made = _act(data_dir, action)
    if as_json:
        print_json(made)
        return
    say(f"{team} submitted {escape(made['model'])} for {stage}")


@app.command("record-score")
def record_score(
    slug: str,
    stage: str,
    operator: OperatorOption,
    task: Annotated[str | None, typer.Option("--task", help="The benchmark task (one of the stage's tasks).")] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The scored model: a team's submission 'repo@commit' or a declared target model."),
    ] = None,
    score: Annotated[float | None, typer.Option("--score", help="The score.")] = None,
    stderr: Annotated[float, typer.Option("--stderr", help="Its standard error.")] = 0.0,
    n: Annotated[int | None, typer.Option("--n", help="How many items it was computed over.")] = None,
    run: Annotated[
        int | None,
        typer.Option("--run", help="Take the score from this evaluation run (see baton eval runs) instead of --score."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="With --run: the run's metric (default: its first).")
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Record a benchmark score for a stage, given directly or taken from a finished evaluation run."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    if (score is None) == (run is None):
        raise typer.BadParameter("give --score (with --task and --model) or --run ID, one of them")
    if run is None and (task is None or model is None):
        raise typer.BadParameter("--score needs --task and --model")
    moment = _at(now)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        acting = accounts.act_as(session, operator)
        if run is None:
            result = service.BenchmarkScore(
                task=str(task), model=str(model), score=float(score or 0.0), stderr=stderr, n=n
            )
            return service.record_score(session, slug, stage, result, operator=acting, now=moment)
        from baton.evaluation import service as evaluations

        found = evaluations.get_run(session, acting, run)
        scored = model or (f"{found.model_repo}@{found.model_commit}" if found.model_repo else found.model)
        result_json = {"task": found.task_name, "metrics": found.metrics or {}, "manifest": found.manifest or {}}
        return service.record_evaluation(
            session, slug, stage, result_json, model=scored, operator=acting, metric=metric, task=task, now=moment
        )

    recorded = _act(data_dir, action)
    if as_json:
        print_json(recorded)
        return
    say(f"{escape(str(recorded.get('task')))} for {escape(str(recorded.get('model')))}: {recorded.get('score')}")


@app.command("battles")
def battles(
    slug: str,
    stage: str,
    path: Annotated[
        Path,
        typer.Argument(
            help="JSON lines, one battle a line: prompt, team_a, team_b, answer_a, answer_b (and criterion)."
        ),
    ],
    operator: OperatorOption,
    criterion: Annotated[
        str | None, typer.Option("--criterion", help="The arena criterion (needed only if the stage has several).")
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Create a stage's blind battles from a file of prompts and two teams' answers (all or none)."""
    from baton.accounts import service as accounts
    from baton.challenge import service
    from baton.core.jsonlines import json_object_lines

    moment = _at(now)
    text = _read(path)
    requests: list[Any] = []
    fields = ("prompt", "team_a", "team_b", "answer_a", "answer_b")
    try:
        for number, line in json_object_lines(text.splitlines(), lambda n: f"{path} line {n}", BadRequestError):
            missing = [key for key in fields if not isinstance(line.get(key), str)]
            if missing:
                raise BadRequestError(
                    f"{path} line {number}: no {', '.join(missing)}",
                    hint='Write each battle as {"prompt", "team_a", "team_b", "answer_a", "answer_b"} on its line.',
                )
            chosen = line.get("criterion", criterion)
            requests.append(service.NewBattle(**{key: line[key] for key in fields}, criterion=chosen))
    except BatonError as error:
        fail(error)
    if not requests:
        fail(BadRequestError(f"{path} holds no battle", hint="Write one battle a line as JSON."))

    def action(session: Session, _runtime: Runtime) -> list[dict[str, Any]]:
        acting = accounts.act_as(session, operator)
        made = [
            service.create_battle(session, slug, stage, request, operator=acting, now=moment) for request in requests
        ]
        return [{"battle": row.battle, "criterion": row.criterion} for row in made]

    created = _act(data_dir, action)
    if as_json:
        print_json(created)
        return
    say(f"{len(created)} battle(s) created for {stage}: {', '.join(row['battle'] for row in created)}")


@app.command("revise")
def revise(
    slug: str,
    path: Annotated[Path, typer.Argument(help="The new version of the challenge YAML (a higher 'version').")],
    operator: OperatorOption,
    now: NowOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Record a new version of a challenge's YAML; stages already decided must stay exactly as they were."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)
    source = _read(path)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        row = service.revise_challenge(session, slug, source, operator=accounts.act_as(session, operator), now=moment)
        return {"challenge": row.slug, "version": row.spec_version, "head": row.head_hash}

    revised = _act(data_dir, action)
    if as_json:
        print_json(revised)
        return
    say(f"{slug} is at version {revised['version']}; ledger head {revised['head']}")


@app.command("target-score")
def target_score(
    slug: str,
    operator: OperatorOption,
    stage: Annotated[str, typer.Option("--stage", help="The stage whose ratio_to_target criterion uses it.")],
    team: Annotated[str, typer.Option("--team", help="The team whose declared target model it scores.")],
    task: Annotated[str, typer.Option("--task", help="The task id, as the challenge YAML names it.")],
    score: Annotated[float, typer.Option("--score", help="The target model's score on the task.")],
    source: Annotated[
        str, typer.Option("--source", help="Where the score comes from: a URL or a document reference (required).")
    ],
    stderr: Annotated[
        float | None, typer.Option("--stderr", help="Its standard error, if the source gives one.")
    ] = None,
    task_version: Annotated[
        str | None, typer.Option("--task-version", help="The task version it was measured on (as the YAML names it).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="One of the team's declared target models (default: its first).")
    ] = None,
    now: Annotated[str | None, typer.Option("--now", help="Record it at this ISO date-time (with its zone).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recorded entry as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Enter a team's declared target model's score on a task, with its cited source (operator)."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = _at(now)
    entry = service.TargetScoreEntry(
        team=team, task=task, score=score, source=source, stderr=stderr, task_version=task_version, model=model
    )

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        actor = accounts.act_as(session, operator)
        return service.record_target_score(session, slug, stage, entry, operator=actor, now=moment)

    recorded = _act(data_dir, action)
    if as_json:
        print_json(recorded)
        return
    version = f" version {recorded['task_version']}" if recorded["task_version"] else ""
    error = f" ± {recorded['stderr']:g}" if recorded["stderr"] is not None else ""
    emit(
        f"{recorded['team']}'s target {recorded['target_model']} on {recorded['task']}{version}: "
        f"{recorded['score']:g}{error} (entered, source: {recorded['source']}; ledger seq {recorded['seq']})"
    )


@app.command("apply")
def apply(
    slug: str,
    stage: Annotated[str, typer.Argument(help="The repechage (a stage with kind: repechage).")],
    team: str,
    user: UserOption,
    statement: Annotated[str, typer.Option("--statement", help="What the team brings (kept in the ledger).")] = "",
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this time (ISO, with zone).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the application as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Apply to a repechage for a team (a new team, or one eliminated earlier under its own id), during its call."""
    from baton.accounts import service as accounts
    from baton.challenge import service

    moment = parse_moment(now)

    def action(session: Session, _runtime: Runtime) -> dict[str, Any]:
        return service.apply_to_repechage(
            session, slug, stage, team, user=accounts.act_as(session, user), statement=statement, now=moment
        )

    applied = _act(data_dir, action)
    if as_json:
        print_json(applied)
        return
    left = f", eliminated in {applied['eliminated_in']}" if applied["eliminated_in"] else ""
    say(f"{team} applied to {stage} as a {applied['as']} team{left} (ledger seq {applied['seq']})")


@app.command("standings")
def standings_command(
    slug: Annotated[str, typer.Argument(help="The challenge.")],
    stage: Annotated[
        list[str] | None, typer.Option("--stage", help="Only this stage (repeatable); default: every undecided one.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even a snapshot already at the head.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute the public standings of the undecided stages now (a worker does it every minute)."""
    from baton.challenge import service, standings

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            challenge = service.get_challenge(session, slug)
            for name in stage or []:
                service.stage_of(service.spec_of(challenge), name)
        seq, written = standings.refresh_challenge(runtime, slug, stages=stage or None, force=force)
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    for name in written:
        say(f"standings of {slug} {name}: computed at ledger seq {seq}")
    if not written:
        say("nothing to recompute (decided, without teams, or already at the head)")


# A panel criterion's commands live in their own module (panel-assign, panel-assignments,
# panel-conflict, rate, import-ratings).
from baton.cli.challenge_panel import register as _register_panel  # noqa: E402

_register_panel(app)
