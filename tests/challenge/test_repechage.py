"""The programme's first stage and its repechage: eliminate the lowest and every gate failure without
refilling, then a repechage of its own (a call, applications, its criteria and gates, a decision in
the ledger) admits teams, an eliminated one under its own id, into stage 2 beside the advancers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.challenge import ledger, recompute, service
from baton.challenge.errors import NotInStageError, RepechageError, StageStateError, TeamNotFoundError
from baton.challenge.models import Team
from baton.cli.main import app
from baton.core import clock
from baton.core.errors import PermissionDeniedError
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, World, headers, make_repo, make_world, submit_all

SPEC = """\
challenge: programme
title: The programme's first stage, its repechage and stage 2
timezone: Asia/Seoul
appeal_days: 10
tie_break: [earliest_submission, draw]
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 5
    advancement: {eliminate_lowest: 1, advance_up_to: 4}
    seed: 3
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
    gates: [{id: independence, kind: independence}]
  - id: repechage-1
    kind: repechage
    opens: 2026-01-26T09:00:00+09:00
    deadline: 2026-02-10T18:00:00+09:00
    admits: 3
    seed: 5
    criteria:
      - {id: expert, kind: review, weight: 100, min_reviewers: 1, rubric: [{id: plan, max: 10}]}
    gates: [{id: independence, kind: independence}]
  - id: stage-2
    deadline: 2026-06-10T18:00:00+09:00
    teams: 5
    advancement: {advance_up_to: 3}
    seed: 9
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
    gates: [{id: independence, kind: independence}]
"""

STAGE_1_FINAL = datetime(2026, 1, 22, tzinfo=UTC)  # the 10-day window from 2026-01-11 has closed
CALL_OPEN = datetime(2026, 1, 27, tzinfo=UTC)
CALL_CLOSED = datetime(2026, 2, 11, tzinfo=UTC)
REPECHAGE_FINAL = datetime(2026, 2, 22, tzinfo=UTC)


def _scores(world: World, stage: str, models: dict[str, str], values: dict[str, float], now: datetime) -> None:
    with world.runtime.database.session(write=True) as session:
        for team, value in values.items():
            score = service.BenchmarkScore(task="t1", model=models[team], score=value, stderr=0.01, n=100)
            service.record_score(session, world.slug, stage, score, operator=world.op(session), now=now)


def _gates(world: World, stage: str, outcomes: dict[str, str], now: datetime) -> None:
    with world.runtime.database.session(write=True) as session:
        for team, outcome in outcomes.items():
            service.override_gate(
                session,
                world.slug,
                stage,
                team,
                outcome=outcome,
                reason="Checked by hand against the public bases." if outcome == "pass" else "Copied weights.",
                operator=world.op(session),
                now=now,
            )


def _apply(world: World, team: str, now: datetime, stage: str = "repechage-1", by: str = "") -> dict[str, Any]:
    with world.runtime.database.session(write=True) as session:
        user = world.account(session, by or world.member(team))
        return service.apply_to_repechage(session, world.slug, stage, team, user=user, statement="we", now=now)


def _new_team(world: World, team: str) -> None:
    """A consortium that was not in stage 1: its member, organization and model repo."""
    with world.runtime.database.session(write=True) as session:
        operator = accounts.get_account(session, "op")
        member = accounts.create_user(session, f"m-{team}")
        org = accounts.create_organization(session, f"org-{team}", creator=operator)
        accounts.set_membership(session, org, member, "write")
    make_repo(world.runtime, f"m-{team}", f"org-{team}", "model")


def _stage_one_decided_and_final(runtime: Runtime) -> World:
    """Five teams; team-b (2nd on points) fails the independence gate, team-e is lowest."""
    world = make_world(runtime, teams=5, spec=SPEC)
    models = submit_all(world)
    _scores(
        world,
        "stage-1",
        models,
        {"team-a": 0.9, "team-b": 0.8, "team-c": 0.7, "team-d": 0.6, "team-e": 0.5},
        AFTER_DEADLINE,
    )
    _gates(world, "stage-1", {t: "fail" if t == "team-b" else "pass" for t in world.teams}, AFTER_DEADLINE)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    rows = {row["team"]: row for row in record["teams"]}
    assert record["advance"] == ["team-a", "team-c", "team-d"]  # three go on: no refill from the ranking
    assert record["advancement"] == {"eliminate_lowest": 1, "advance_up_to": 4, "refill": False}
    assert record["advance_count"] == 3 and record["kind"] == "stage"
    assert [rows[t]["points_rank"] for t in world.teams] == [1, 2, 3, 4, 5]
    assert (rows["team-b"]["outcome"], rows["team-b"]["eliminated_by"]) == ("eliminated", "gate:independence")
    assert (rows["team-e"]["outcome"], rows["team-e"]["eliminated_by"]) == ("eliminated", "lowest")
    assert rows["team-a"]["eliminated_by"] is None and rows["team-a"]["entry"] == {"via": "entered"}
    with runtime.database.session(write=True) as session:
        assert service.finalize_due(session, now=STAGE_1_FINAL) == [(world.slug, "stage-1")]
    return world


def test_programme_stage_one_then_a_repechage_admits_an_eliminated_and_a_new_team(runtime: Runtime) -> None:
    world = _stage_one_decided_and_final(runtime)
    _new_team(world, "team-f")

    # The call: not before it opens, not from a team still competing, once per team, not after it closes.
    with pytest.raises(RepechageError, match="opens at 2026-01-26 09:00"):
        _apply(world, "team-e", STAGE_1_FINAL)
    with pytest.raises(RepechageError, match="still competes"):
        _apply(world, "team-a", CALL_OPEN)
    with pytest.raises(RepechageError, match="not a repechage"):
        _apply(world, "team-e", CALL_OPEN, stage="stage-2")
    with pytest.raises(PermissionDeniedError):
        _apply(world, "team-e", CALL_OPEN, by="m-team-a")
    applied = _apply(world, "team-e", CALL_OPEN)
    assert (applied["team"], applied["as"], applied["eliminated_in"]) == ("team-e", "eliminated", "stage-1")
    with pytest.raises(RepechageError, match="applied to repechage-1 already"):
        _apply(world, "team-e", CALL_OPEN)
    with pytest.raises(TeamNotFoundError):  # a new team is entered by an operator first
        _apply(world, "team-f", CALL_OPEN)
    with runtime.database.session(write=True) as session:
        entry = service.TeamEntry(
            team="team-f", name="Team F", organizations=["org-team-f"], members=["m-team-f"], stage="repechage-1"
        )
        service.enter_team(session, world.slug, entry, operator=world.op(session), now=CALL_OPEN)
    assert _apply(world, "team-f", CALL_OPEN)["as"] == "new"
    assert _apply(world, "team-b", CALL_OPEN)["as"] == "eliminated"
    with pytest.raises(RepechageError, match="closed at 2026-02-10 18:00"):
        _apply(world, "team-c", CALL_CLOSED)
    with runtime.database.session() as session:
        listed = service.list_applications(session, world.slug, "repechage-1")
    assert [item["team"] for item in listed] == ["team-e", "team-f", "team-b"]

    # The repechage's own evaluation: an expert review of the applications and the independence gate.
    with runtime.database.session(write=True) as session:
        operator = world.op(session)
        for team, mark in {"team-f": 9.0, "team-e": 7.0, "team-b": 3.0}.items():
            reviewer = accounts.get_account(session, "rev1")
            service.assign_reviewer(session, world.slug, "repechage-1", team, reviewer, operator=operator)
            service.record_review(
                session,
                world.slug,
                "repechage-1",
                team,
                reviewer=world.account(session, "rev1"),
                scores={"plan": mark},
                now=CALL_OPEN,
            )
        with pytest.raises(NotInStageError):  # a team that did not apply takes no part
            service.assign_reviewer(session, world.slug, "repechage-1", "team-a", reviewer, operator=operator)
    _gates(world, "repechage-1", {"team-f": "pass", "team-e": "pass", "team-b": "pass"}, CALL_OPEN)
    with runtime.database.session(write=True) as session, pytest.raises(StageStateError, match="repechage-1 is final"):
        service.decide(session, runtime, world.slug, "stage-2", operator=world.op(session), now=CALL_CLOSED)
    with runtime.database.session(write=True) as session:
        record = service.decide(
            session, runtime, world.slug, "repechage-1", operator=world.op(session), now=CALL_CLOSED
        )
    rows = {row["team"]: row for row in record["teams"]}
    assert record["kind"] == "repechage"
    # admits 3, but stage 2 takes 5 teams and 3 advanced into it: room for 2.
    assert record["advancement"] == {"admits": 3, "refill": True, "room": 2, "limit": 2}
    assert record["advance"] == ["team-f", "team-e"]
    assert rows["team-e"]["entry"] == {"via": "applied", "as": "eliminated", "eliminated_in": "stage-1"}
    assert rows["team-f"]["entry"] == {"via": "applied", "as": "new", "eliminated_in": None}
    assert rows["team-b"]["eliminated_by"] == "rank" and rows["team-b"]["points_rank"] == 3

    # Final: team-e competes again under its own id; team-b stays eliminated.
    with runtime.database.session(write=True) as session:
        assert service.finalize_due(session, now=REPECHAGE_FINAL) == [(world.slug, "repechage-1")]
        statuses = {t.slug: (t.status, t.exit_stage) for t in session.query(Team).filter(Team.slug.like("team-%"))}
        challenge = service.get_challenge(session, world.slug)
        final = [e for e in service.events_of(session, challenge) if e.kind == "decision.final"][-1]
    assert statuses["team-e"] == ("active", None) and statuses["team-f"] == ("active", None)
    assert statuses["team-b"] == ("eliminated", "stage-1")
    assert final.payload["readmitted"] == ["team-e"] and final.payload["exits"] == []

    # Stage 2: the advancers of stage 1 and the teams the repechage admitted.
    with runtime.database.session() as session:
        challenge = service.get_challenge(session, world.slug)
        spec = service.spec_of(challenge)
        entries = service.stage_entries(session, challenge, spec, "stage-2")
        replayed = recompute.entries(service.state_of(session, challenge), "stage-2")
    assert (
        entries
        == replayed
        == {
            "team-a": {"via": "advanced", "stage": "stage-1"},
            "team-c": {"via": "advanced", "stage": "stage-1"},
            "team-d": {"via": "advanced", "stage": "stage-1"},
            "team-e": {"via": "repechage", "stage": "repechage-1"},
            "team-f": {"via": "repechage", "stage": "repechage-1"},
        }
    )
    moment = datetime(2026, 3, 2, tzinfo=UTC)
    world.teams = sorted(entries)
    models = submit_all(world, "stage-2", now=moment)
    values = {"team-a": 0.9, "team-c": 0.8, "team-d": 0.7, "team-e": 0.6, "team-f": 0.95}
    _scores(world, "stage-2", models, values, moment)
    _gates(world, "stage-2", dict.fromkeys(world.teams, "pass"), moment)
    with runtime.database.session(write=True) as session:
        record = service.decide(
            session, runtime, world.slug, "stage-2", operator=world.op(session), now=datetime(2026, 6, 11, tzinfo=UTC)
        )
    rows = {row["team"]: row for row in record["teams"]}
    assert record["advance"] == ["team-f", "team-a", "team-c"]
    assert rows["team-f"]["entry"] == {"via": "repechage", "stage": "repechage-1"}
    assert rows["team-a"]["entry"] == {"via": "advanced", "stage": "stage-1"}
    assert rows["team-e"]["eliminated_by"] == "rank"

    # Every decision, the repechage's included, recomputes from the ledger alone.
    with runtime.database.session() as session:
        report = service.verify_database(session, world.slug)
        bundle = service.export_bundle(session, world.slug)
        events = service.events_of(session, service.get_challenge(session, world.slug))
    assert report.ok, report.problems
    assert report.decisions_checked == 3
    assert ledger.verify_bundle(bundle, None).ok
    # An application dropped from the ledger changes the repechage's recomputed decision.
    kept = [event for event in events if not (event.kind == "repechage.applied" and event.payload["team"] == "team-b")]
    _checked, problems = recompute.check_decisions(kept)
    assert any("repechage-1 differs" in text for _seq, text in problems)


def test_applications_through_the_api_and_the_command_line(
    runtime: Runtime, client: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _stage_one_decided_and_final(runtime)
    url = f"/api/challenges/{world.slug}/stages/repechage-1/applications"
    with clock.frozen(CALL_OPEN):
        refused = client.post(url, json={"team": "team-a"}, headers=headers(runtime, "m-team-a"))
        assert refused.status_code == 409 and refused.json()["error"] == "RepechageRefused"
        assert "baton challenge finalize" in refused.json()["hint"]
        denied = client.post(url, json={"team": "team-e"}, headers=headers(runtime, "m-team-a"))
        assert denied.status_code == 403
        made = client.post(
            url, json={"team": "team-e", "statement": "A new tokenizer."}, headers=headers(runtime, "m-team-e")
        )
    assert made.status_code == 201, made.text
    assert made.json()["as"] == "eliminated" and made.json()["eliminated_in"] == "stage-1"
    listed = client.get(url).json()
    assert [(item["team"], item["statement"]) for item in listed] == [("team-e", "A new tokenizer.")]

    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    apply = ["challenge", "apply", world.slug, "repechage-1", "team-b", "--as", "m-team-b"]
    early = runner.invoke(app, [*apply, "--now", "2026-01-20T00:00:00+09:00", *data])
    assert early.exit_code == 2 and "opens at" in early.output
    result = runner.invoke(app, [*apply, "--now", "2026-01-27T09:00:00+09:00", "--json", *data])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["team"], shown["as"], shown["eliminated_in"]) == ("team-b", "eliminated", "stage-1")
    again = runner.invoke(app, [*apply, "--now", "2026-01-28T09:00:00+09:00", *data])
    assert again.exit_code == 2 and "already" in again.output
    validated = runner.invoke(app, ["challenge", "validate", str(_written(tmp_path))])
    assert validated.exit_code == 0, validated.output
    assert (
        "stage-1: up to 5 teams → lowest 1 and gate failures eliminated, up to 4 advance (no refill)"
        in validated.output
    )
    assert "repechage-1: repechage open to new and eliminated teams" in validated.output


runner = CliRunner()


def _written(tmp_path: Path) -> Path:
    path = tmp_path / "programme.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_the_stage_a_team_reached_passes_over_the_repechage() -> None:
    from baton.challenge.service.challenges import reached_stage
    from baton.challenge.spec import load_spec

    spec = load_spec(SPEC)
    advancer = Team(slug="a", entered_stage="stage-1", exit_stage=None)
    readmitted = Team(slug="e", entered_stage="stage-1", exit_stage=None)
    new = Team(slug="f", entered_stage="repechage-1", exit_stage=None)
    decided = {"stage-1": {"a"}, "repechage-1": {"e", "f"}}
    assert reached_stage(spec, advancer, decided) == "stage-2"
    assert reached_stage(spec, readmitted, decided) == "stage-2"
    assert reached_stage(spec, new, decided) == "stage-2"
    assert reached_stage(spec, new, {"stage-1": {"a"}}) == "repechage-1"
    assert reached_stage(spec, advancer, {}) == "stage-1"


def test_the_older_advance_n_still_refills_a_gate_failures_slot(runtime: Runtime) -> None:
    from .ce_support import feed_inputs

    world = make_world(runtime, teams=3, advance=2)
    feed_inputs(world, submit_all(world), scores={"team-a": 0.5, "team-b": 0.6, "team-c": 0.9})
    _gates(world, "stage-1", {"team-c": "fail"}, AFTER_DEADLINE)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    rows = {row["team"]: row for row in record["teams"]}
    assert record["advancement"] == {"advance": 2, "refill": True}
    assert sorted(record["advance"]) == ["team-a", "team-b"]  # team-c's slot went to the next on points
    assert rows["team-c"]["eliminated_by"] == "gate:independence" and rows["team-c"]["rank"] == 3
    assert rows["team-c"]["points_rank"] < rows["team-a"]["points_rank"]
    with runtime.database.session() as session:
        assert service.verify_database(session, world.slug).ok
