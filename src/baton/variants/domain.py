"""What the variants domain brings: measuring variants against their bases, and their catalogue."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.variants import api, measure, models  # noqa: F401  (models: the domain's tables)


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.job(measure.JOB_KIND, measure.measure_job)
