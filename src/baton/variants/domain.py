"""What the variants domain brings: making variants, checking they load, measuring them against their bases."""

from __future__ import annotations

from baton.commons.events import ItemReleased
from baton.core.registry import Registry
from baton.hub.events import CommitLanded
from baton.variants import api, checks, make, measure, models  # noqa: F401  (models: the domain's tables)


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.job(checks.CHECK_JOB, checks.check_job)
    registry.job(make.MAKE_JOB, make.make_job)
    registry.job(measure.JOB_KIND, measure.measure_job)
    # A commit to a variant's default branch: load it with the runtime its card names.
    registry.subscribe(CommitLanded, "check_on_commit", checks.check_on_commit)
    # A released causal LM: the commons makes its ONNX int8, int8 and int4 variants.
    registry.subscribe(ItemReleased, "make_on_release", make.make_on_release)
