"""What the challenge domain brings: stages, submissions, review, the arena, gates and decisions."""

from __future__ import annotations

from baton.challenge import api, commons_api, models, pages, release_models, timer  # noqa: F401
from baton.core.registry import Registry


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.router(commons_api.router)
    registry.router(pages.router)
    registry.job("challenge.finalize_due", timer.finalize_due_job)
    registry.on_startup(timer.ensure_sweep)  # finality and embargoes on a timer (one job per hour)
    registry.job("challenge.release_due", "baton.challenge.release:release_due_job")
    registry.job("challenge.release_recheck", "baton.challenge.release:recheck_job")
