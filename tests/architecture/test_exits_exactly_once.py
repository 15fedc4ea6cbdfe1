"""A team's exit takes effect exactly once, whichever entry point makes it final.

Finality publishes ``challenge.team_left`` in its own transaction; the commons' release plan and the
talent pool's invitations are its handlers, run as jobs. Here each entry point (the CLI, the worker's
hourly sweep, the operator's HTTP action, the service as the demo calls it) makes the same decision
final; then every other entry point runs again, and the effects are counted: one release item per
planned repo, one plan start per team, one invitation per person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from baton.app import create_app
from baton.challenge import service, timer
from baton.challenge.events import TeamLeft
from baton.cli.main import app as cli
from baton.commons.models import ReleaseAction, ReleaseItem
from baton.core import clock, events, jobs
from baton.core.runtime import Runtime
from baton.talent.models import TalentInvitation
from challenge.ce_support import AFTER_DEADLINE, World, feed_inputs, headers, make_world, submit_all

LATER = AFTER_DEADLINE + timedelta(days=11)  # the appeal window has closed
TEAMS = ["team-a", "team-b", "team-c"]  # one stage: team-a is eliminated, the others leave as it ends


def decided_world(runtime: Runtime) -> World:
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    assert record["eliminated"] == ["team-a"]
    return world


def by_cli(runtime: Runtime, _world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.resolved_database_url)
    result = CliRunner().invoke(
        cli, ["challenge", "finalize", "--now", LATER.isoformat(), "--data-dir", str(runtime.settings.data_dir)]
    )
    assert result.exit_code == 0, result.output


def by_sweep(runtime: Runtime, _world: World, _monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's hourly sweep, then the same worker runs the events' jobs (nothing else is called)."""
    with clock.frozen(LATER):
        timer.ensure_sweep(runtime)
        jobs.Worker(runtime, poll_seconds=0).run(until_idle=True)


def by_http(runtime: Runtime, world: World, _monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's explicit action over HTTP; the server's worker delivers the events."""
    with clock.frozen(LATER), TestClient(create_app(runtime=runtime)) as client:
        response = client.post("/api/challenges/finalize", headers=headers(runtime, world.operator))
        assert response.status_code == 200, response.text
    with clock.frozen(LATER):
        jobs.Worker(runtime, kinds=runtime.registry.event_job_kinds(), poll_seconds=0).run(until_idle=True)


def by_service(runtime: Runtime, _world: World, _monkeypatch: pytest.MonkeyPatch) -> None:
    """As the demo does: the service in a transaction, then the events delivered in process."""
    with clock.frozen(LATER):
        with runtime.database.session(write=True) as session:
            service.finalize_due(session)
        events.drain(runtime)


ENTRY_POINTS: dict[str, Callable[[Runtime, World, pytest.MonkeyPatch], None]] = {
    "cli": by_cli,
    "sweep": by_sweep,
    "http": by_http,
    "service": by_service,
}


def effects(runtime: Runtime, slug: str) -> dict[str, object]:
    with runtime.database.session() as session:

        def count(model: type, *conditions: object) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)

        def actions(action: str) -> int:
            return count(ReleaseAction, ReleaseAction.challenge == slug, ReleaseAction.action == action)

        return {
            "final": service.decision_record(session, slug, "stage-1")["final"],
            "team_left": sorted(row.payload["team"] for row in events.published(session, TeamLeft)),
            "items": sorted(session.scalars(select(ReleaseItem.repo_name).where(ReleaseItem.challenge == slug))),
            "plans_started": count(
                ReleaseAction, ReleaseAction.challenge == slug, ReleaseAction.action == "plan_started"
            ),
            "releases": count(ReleaseAction, ReleaseAction.challenge == slug, ReleaseAction.action == "released"),
            "invitations": count(TalentInvitation, TalentInvitation.challenge == slug),
            "decision_final_entries": sum(
                1 for event in service.ledger_events(session, slug) if event["kind"] == "decision.final"
            ),
        }


def released_at(runtime: Runtime, slug: str) -> set[datetime]:
    with runtime.database.session() as session:
        return {item.released_at for item in session.scalars(select(ReleaseItem).where(ReleaseItem.challenge == slug))}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_each_entry_point_makes_the_exits_take_effect_exactly_once(
    entry: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = decided_world(runtime)
    ENTRY_POINTS[entry](runtime, world, monkeypatch)
    expected = {
        "final": True,
        "team_left": TEAMS,
        "items": [f"org-{team}/model" for team in TEAMS],
        "plans_started": 3,
        "releases": 3,
        "invitations": 3,
        "decision_final_entries": 1,
    }
    assert effects(runtime, world.slug) == expected
    # The reactions are stamped with the moment of finality, not with the wall clock.
    assert released_at(runtime, world.slug) == {LATER}
    # Every entry point again, in turn: nothing happens twice.
    for other in ENTRY_POINTS.values():
        other(runtime, world, monkeypatch)
    assert effects(runtime, world.slug) == expected
    with runtime.database.session() as session:
        statuses = {job.status for job in jobs.list_jobs(session, limit=None) if job.kind != timer.FINALIZE_JOB}
        assert statuses <= {"succeeded"}, statuses


def test_a_handler_run_twice_changes_nothing(runtime: Runtime) -> None:
    """At-least-once delivery: a handler whose job is run again (a worker died after its effect
    committed) finds its work done."""
    world = decided_world(runtime)
    by_service(runtime, world, pytest.MonkeyPatch())
    before = effects(runtime, world.slug)
    with runtime.database.session() as session:
        stored = events.published(session, TeamLeft)
    handlers = runtime.registry.job_registry()
    for row in stored:
        for kind in ("commons.run_release_plan", "talent.invite_team"):
            handlers.resolve(kind)(runtime, {"event": row.id})
    assert effects(runtime, world.slug) == before


def test_no_get_route_makes_a_decision_final(runtime: Runtime) -> None:
    """Reads never change domain state: with the window closed, pages and API reads leave it open."""
    world = decided_world(runtime)
    with clock.frozen(LATER), TestClient(create_app(runtime=runtime)) as client:
        for path in (
            f"/api/challenges/{world.slug}",
            f"/api/challenges/{world.slug}/stages/stage-1/decision",
            f"/api/challenges/{world.slug}/ledger",
            f"/api/challenges/{world.slug}/verify",
            f"/challenges/{world.slug}/stages/stage-1/report",
            "/commons",
            "/api/commons",
        ):
            assert client.get(path).status_code == 200, path
    assert effects(runtime, world.slug)["final"] is False
    with runtime.database.session() as session:
        assert events.published(session, TeamLeft) == []
