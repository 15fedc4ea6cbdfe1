"""Challenge finality on a timer: the periodic ``challenge.finalize_due`` job.

Each run makes final every decision whose appeal window has closed with every appeal answered
(``service.finalize_due``); each final exit publishes a ``TeamLeft`` event, whose handlers (the
commons' release plan, the talent pool's invitations) run as their own jobs. The job is periodic
(``baton.core.schedule``): one per hour-long slot, each queueing the next, started by every
``baton serve`` (with its worker) and ``baton worker``. Slots and deadlines follow Baton's one
clock (``baton.core.clock``), so a demo or test that moves the clock moves finality with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from baton.core.schedule import Periodic

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

FINALIZE_JOB = "challenge.finalize_due"
SWEEP_SECONDS = 3600  # appeal windows are days long; an hour's delay in finality is acceptable


def finalize_sweep(runtime: Runtime) -> dict[str, Any]:
    """One run of the sweep: finalize what is due (its exits' events are stored with it)."""
    from baton.challenge import service

    with runtime.database.session(write=True) as session:
        finalized = service.finalize_due(session)
    return {"final": [f"{slug}/{stage}" for slug, stage in finalized]}


SWEEP = Periodic(FINALIZE_JOB, SWEEP_SECONDS, finalize_sweep)


def _slot(moment: datetime) -> datetime:
    """The start of the sweep slot holding ``moment``."""
    return SWEEP.slot(moment)


def ensure_sweep(runtime: Runtime) -> list[int]:
    """At start: a sweep of the current slot (now, unless it already ran) and the next one queued."""
    return SWEEP.ensure(runtime)
