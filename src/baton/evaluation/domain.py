"""What the evaluation domain brings: tasks, runs and their results."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.evaluation import api, models  # noqa: F401  (models: the domain's tables)


def register(registry: Registry) -> None:
    registry.router(api.router)
    # Lazy: the worker imports the evaluation engine (and torch) only when it meets a run.
    registry.job("evaluation.run", "baton.evaluation.service:run_job")
