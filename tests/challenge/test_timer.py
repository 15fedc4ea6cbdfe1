"""Finality on a timer: the durable `challenge.finalize_due` job makes a closed appeal window final,
publishes each exit once (its reactions run as event jobs) and queues its next sweep (one job per slot)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from baton.challenge import service, timer
from baton.challenge.events import TeamLeft
from baton.core import clock, events, jobs
from baton.core.database import utcnow
from baton.core.job_models import Job
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, feed_inputs, make_world, submit_all


def _make_queued_sweeps_due(runtime: Runtime) -> int:
    """The machine's clock reaching the next slot: queued sweeps become ready now."""
    with runtime.database.session(write=True) as session:
        queued = list(session.scalars(select(Job).where(Job.kind == timer.FINALIZE_JOB, Job.status == "queued")))
        for job in queued:
            job.run_after = utcnow() - timedelta(seconds=1)
        return len(queued)


def _sweeps(runtime: Runtime) -> list[Job]:
    with runtime.database.session() as session:
        return list(reversed(jobs.list_jobs(session, kind=timer.FINALIZE_JOB, limit=None)))


def test_a_closed_appeal_window_becomes_final_through_the_job_and_exits_run_once(runtime: Runtime) -> None:
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)

    def exits() -> list[tuple[str, str]]:
        with runtime.database.session() as session:
            return sorted((row.payload["team"], row.payload["reason"]) for row in events.published(session, TeamLeft))

    first = timer.ensure_sweep(runtime)
    assert timer.ensure_sweep(runtime) == first  # a second start adds no job
    worker = jobs.Worker(runtime, kinds=[timer.FINALIZE_JOB], poll_seconds=0)

    with clock.frozen(AFTER_DEADLINE + timedelta(days=3)):  # the window is open
        assert worker.run(until_idle=True) == 1  # the current slot's sweep; the next one waits
    with runtime.database.session() as session:
        assert service.decision_record(session, world.slug, "stage-1")["final"] is False
    assert exits() == []
    done, waiting = _sweeps(runtime)
    assert done.status == "succeeded" and done.result == {"final": []}
    assert waiting.status == "queued" and waiting.run_after is not None and waiting.run_after > utcnow()

    with clock.frozen(AFTER_DEADLINE + timedelta(days=11)):  # the window has closed
        assert _make_queued_sweeps_due(runtime) == 1
        assert worker.run(until_idle=True) == 1
        sweep = _sweeps(runtime)[1]
        assert sweep.status == "succeeded" and sweep.result["final"] == [f"{world.slug}/stage-1"]
        # The sweep after it runs again (a retry, or the next hour): nothing happens twice.
        assert _make_queued_sweeps_due(runtime) == 1
        assert worker.run(until_idle=True) == 1
        # The exits' reactions are event jobs, run by any worker (here: delivered now).
        assert events.drain(runtime) > 0
    assert exits() == [
        ("team-a", "eliminated"),
        ("team-b", "challenge_ended"),
        ("team-c", "challenge_ended"),
    ]
    with runtime.database.session() as session:
        record = service.decision_record(session, world.slug, "stage-1")
        assert record["final"] is True
        kinds = [event["kind"] for event in service.ledger_events(session, world.slug)]
        assert kinds.count("decision.final") == 1 and kinds.count("challenge.ended") == 1
        assert kinds.index("challenge.ended") < kinds.index("release.action")  # reactions follow the finality
        # The exits' events ran the teams' release plans, recorded in the chain.
        assert "release.action" in kinds
        assert service.verify_database(session, world.slug).ok
    statuses = [job.status for job in _sweeps(runtime)]
    assert statuses == ["succeeded", "succeeded", "succeeded", "queued"]


def test_sweeps_are_one_per_slot() -> None:
    moment = utcnow()
    slot = timer._slot(moment)
    assert slot <= moment < slot + timedelta(seconds=timer.SWEEP_SECONDS)
    assert timer._slot(slot + timedelta(seconds=timer.SWEEP_SECONDS - 1)) == slot
