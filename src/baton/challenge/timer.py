"""Finality on a timer: a durable job that makes due decisions final and releases due embargoes.

``challenge.finalize_due`` (in ``baton.core.jobs.HANDLERS``, through ``baton.wiring``, which wires a
bare worker's runtime first) runs ``service.finalize_due`` for every challenge (a decision whose
appeal window has closed with every appeal answered becomes final, and the TeamExit listeners run
its teams' release plans) and then ``Runtime.sweep_listeners`` (the commons releases embargoes whose
date has come), then the next sweep waits in the job table. Sweeps are one per time slot
(``SWEEP_SECONDS``), deduplicated by the slot's start, so however many servers or workers start
and however often a sweep is retried, each slot has one job. ``baton serve`` (with its worker) and
``baton worker`` call ``ensure_sweep`` at start, which also restarts the chain after a sweep that
failed for good.

Deadlines are read from ``baton.challenge.clock`` (injectable); when a sweep runs is the job
table's business and follows the machine's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from baton.core import jobs
from baton.core.database import utcnow

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

FINALIZE_JOB = "challenge.finalize_due"
SWEEP_SECONDS = 3600  # appeal windows are days long; an hour's delay in finality is acceptable


def _slot(moment: datetime) -> datetime:
    """The start of the sweep slot holding ``moment`` (slots are aligned on the epoch)."""
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % SWEEP_SECONDS, tz=moment.tzinfo)


def _enqueue(session: Session, slot: datetime, *, run_now: bool) -> jobs.Job:
    return jobs.enqueue(
        session,
        FINALIZE_JOB,
        {"slot": slot.isoformat()},
        dedupe_key=f"{FINALIZE_JOB}:{slot.isoformat()}",
        run_after=None if run_now else slot,
    )


def schedule_next(session: Session, now: datetime | None = None, *, after: datetime | None = None) -> jobs.Job:
    """Make sure the sweep of the slot after now (and after ``after``, a sweep's own slot) is queued."""
    slot = _slot(now or utcnow())
    if after is not None and after > slot:
        slot = _slot(after)
    return _enqueue(session, slot + timedelta(seconds=SWEEP_SECONDS), run_now=False)


def _slot_of(payload: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(payload["slot"]))
    except (KeyError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def ensure_sweep(runtime: Runtime) -> list[int]:
    """At start: a sweep of the current slot (now, unless it already ran) and the next one queued."""
    with runtime.database.session(write=True) as session:
        now = utcnow()
        current = _enqueue(session, _slot(now), run_now=True)
        following = schedule_next(session, now)
        return [current.id, following.id]


def finalize_due_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Job handler for ``challenge.finalize_due``: queue the next sweep, then finalize and run the
    sweep listeners (the commons releases what is due).

    The runtime must be wired (``baton.wiring.finalize_due_job``, the registered handler, does it),
    so that the exits run the release plans. The next sweep is queued in its own transaction first,
    so that a sweep that fails (and is retried, or given up) does not end the chain. Finality is
    idempotent: a decision already final is skipped, so the exit listeners run once per team.
    """
    from baton.challenge import service

    with runtime.database.session(write=True) as session:
        schedule_next(session, after=_slot_of(payload))
    with runtime.database.session(write=True) as session:
        finalized = service.finalize_due(session, runtime)
        result: dict[str, Any] = {"final": [f"{slug}/{stage}" for slug, stage in finalized]}
        for listener in list(runtime.sweep_listeners):
            result |= listener(session, runtime)
        return result
