"""Periodic jobs: one job per time slot, each queueing the next, so the chain survives restarts.

A domain registers ``registry.every(kind, seconds, action)``. Each run first queues the job of the
next slot (in its own transaction, so that a run that fails does not end the chain), then calls
``action(runtime)``. Jobs are deduplicated by their slot's start, so however many servers and
workers start, and however often a run is retried, each slot has one job. Servers and workers
call :meth:`Periodic.ensure` at start (``Registry.startup``), which runs the current slot now
(unless it already ran) and restarts a chain whose job failed for good.

Slots follow Baton's clock (:mod:`baton.core.clock`), so a demo or a test that moves the clock
moves the schedule with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from baton.core import jobs
from baton.core.database import utcnow

if TYPE_CHECKING:
    from baton.core.runtime import Runtime


@dataclass(frozen=True)
class Periodic:
    """The job ``kind`` runs ``action`` once per ``seconds``-long slot (slots aligned on the epoch)."""

    kind: str
    seconds: int
    action: Callable[[Runtime], dict[str, Any]]

    def slot(self, moment: datetime) -> datetime:
        """The start of the slot holding ``moment``."""
        stamp = int(moment.timestamp())
        return datetime.fromtimestamp(stamp - stamp % self.seconds, tz=moment.tzinfo)

    def _enqueue(self, session: Session, slot: datetime, *, run_now: bool) -> jobs.Job:
        return jobs.enqueue(
            session,
            self.kind,
            {"slot": slot.isoformat()},
            dedupe_key=f"{self.kind}:{slot.isoformat()}",
            run_after=None if run_now else slot,
        )

    def schedule_next(
        self, session: Session, now: datetime | None = None, *, after: datetime | None = None
    ) -> jobs.Job:
        """Make sure the job of the slot after now (and after ``after``, a run's own slot) is queued."""
        slot = self.slot(now or utcnow())
        if after is not None and after > slot:
            slot = self.slot(after)
        return self._enqueue(session, slot + timedelta(seconds=self.seconds), run_now=False)

    def ensure(self, runtime: Runtime) -> list[int]:
        """At start: a run of the current slot (now, unless it already ran) and the next one queued."""
        with runtime.database.session(write=True) as session:
            now = utcnow()
            current = self._enqueue(session, self.slot(now), run_now=True)
            following = self.schedule_next(session, now)
            return [current.id, following.id]

    def run(self, runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
        """The job handler: queue the next slot's job, then act."""
        with runtime.database.session(write=True) as session:
            self.schedule_next(session, after=_slot_of(payload))
        return self.action(runtime)


def _slot_of(payload: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(payload["slot"]))
    except (KeyError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None
