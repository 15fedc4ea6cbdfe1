"""What the challenge domain brings: stages, submissions, review, the arena, gates and decisions."""

from __future__ import annotations

from baton.challenge import api, models, panel_api, standings, timer  # noqa: F401  (models: the domain's tables)
from baton.challenge.events import TeamLeft
from baton.core.registry import Registry


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.router(panel_api.router)  # a panel criterion's raters and ratings
    registry.publishes(TeamLeft)
    # Finality on a timer: decisions whose appeal window closed become final (one job per hour).
    registry.every(timer.FINALIZE_JOB, timer.SWEEP_SECONDS, timer.finalize_sweep)
    # Undecided stages' standings snapshots, recomputed when the ledger moved on (at most once a period).
    registry.every(standings.REFRESH_JOB, standings.REFRESH_SECONDS, standings.refresh_stale)
