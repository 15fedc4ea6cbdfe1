"""Scale an evaluation out with Ray: one backend replica per Ray actor (a GPU each, or CPUs), every
batch of requests split among them.

``RayBackend`` is a backend like the others, so the runner, the cache and resumption work as
they do on one machine: each batch the runner asks for is cut into contiguous shards (requests of
one context stay together, so each replica still shares its contexts' passes), the shards are
answered in parallel by the replicas, and the answers come back in order. Its identity for the
cache is the replicated backend's, so a run resumed on a single machine (or with another number
of replicas) reuses what the Ray run stored, and the other way round.

Ray is optional (``pip install ray``); ``address`` names a running cluster (``ray start --head``
on the head node, ``ray start --address=...`` on the others), or None for a local runtime.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from baton.core.errors import BadRequestError, ConfigurationError
from baton.evaluation.types import Request, Response


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError as error:
        raise ConfigurationError(
            "The Ray executor needs Ray, which is not installed", hint="pip install 'ray[default]'"
        ) from error


class _Replica:
    """One backend, built inside a Ray worker process."""

    def __init__(self, name: str, model: str, options: dict[str, Any]) -> None:
        from baton.evaluation.backends import create_backend

        self.backend = create_backend(name, model, **options)
        self.answered = 0

    def describe(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.backend.describe()
        return settings

    def answer(self, requests: list[Request]) -> list[Response]:
        self.answered += len(requests)
        return self.backend.answer(requests)

    def apply_task_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The task's settings (``add_bos_token``), applied as the backend applies them; its new description."""
        apply = getattr(self.backend, "apply_task_settings", None)
        if callable(apply):
            apply(settings)
        return self.describe()

    def compute_stats(self) -> dict[str, int]:
        stats = getattr(self.backend, "compute_stats", None)
        return dict(stats()) if callable(stats) else {}

    def stats(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "answered": self.answered}


class RayBackend:
    """``workers`` replicas of backend ``name`` for ``model`` on Ray actors."""

    name = "ray"

    def __init__(
        self,
        backend: str,
        model: str,
        *,
        workers: int = 2,
        num_gpus: float = 0.0,
        num_cpus: float = 1.0,
        address: str | None = None,
        options: dict[str, Any] | None = None,
        describe_overrides: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        if workers < 1:
            raise BadRequestError(f"workers must be at least 1, got {workers}")
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **(init_options or {}))
        actor = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(_Replica)
        self._ray = ray
        self.backend_name = backend
        self.workers = workers
        self.replicas = [actor.remote(backend, model, dict(options or {})) for _ in range(workers)]
        described: dict[str, Any] = ray.get(self.replicas[0].describe.remote())
        self._overrides = dict(describe_overrides or {})
        self._described = described | self._overrides

    def describe(self) -> dict[str, Any]:
        # The replicated backend's settings (its cache identity); the executor's are speed-only.
        return self._described | {"executor": "ray", "workers": self.workers}

    def apply_task_settings(self, settings: dict[str, Any]) -> None:
        """A task's backend settings (its ``add_bos_token``) reach every replica, as they reach a local
        backend; the description (and so the cache identity) is then the replicas' new one."""
        described: list[dict[str, Any]] = self._ray.get(
            [replica.apply_task_settings.remote(dict(settings)) for replica in self.replicas]
        )
        if described:
            self._described = described[0] | self._overrides

    def compute_stats(self) -> dict[str, int]:
        """What the replicas' models computed, summed over the replicas."""
        totals: dict[str, int] = {}
        for stats in self._ray.get([replica.compute_stats.remote() for replica in self.replicas]):
            for key, value in stats.items():
                totals[key] = totals.get(key, 0) + int(value)
        return totals

    def answer(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        size = -(-len(requests) // self.workers)
        shards = [requests[start : start + size] for start in range(0, len(requests), size)]
        pending = [replica.answer.remote(shard) for replica, shard in zip(self.replicas, shards, strict=False)]
        answers: list[Response] = []
        for part in self._ray.get(pending):
            answers.extend(part)
        return answers

    def stats(self) -> list[dict[str, Any]]:
        """Each replica's process id and how many requests it answered."""
        result: list[dict[str, Any]] = self._ray.get([replica.stats.remote() for replica in self.replicas])
        return result

    def close(self) -> None:
        for replica in self.replicas:
            self._ray.kill(replica)
        self.replicas = []
