"""Run a task on a backend: items → requests → answers (cached) → per-item records → metrics + manifest.

The runner asks the backend only for requests the cache does not hold, in batches; each answered
batch is stored before the next one starts, so a killed run resumes where it stopped and a rerun
computes nothing. Results exist only once every item is answered: a ``RunResult`` is never partial.

Scoring and aggregation are the task's (``baton.evaluation.tasks.Task.score`` and ``aggregate``);
the runner only moves requests and answers and writes the records.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from baton.core.errors import BadRequestError, BatonError, PermissionDeniedError
from baton.evaluation.cache import AnswerCache, backend_identity
from baton.evaluation.manifest import build_manifest
from baton.evaluation.metrics import MetricSummary
from baton.evaluation.types import Backend, Item, Request, Response

DEFAULT_REQUEST_BATCH = 64

ProgressCallback = Callable[[int, int], None]
"""``progress(requests_done, requests_total)``, called after each answered batch."""


class ScoredItem(Protocol):
    item_id: str
    group: str | None
    prediction: int | str | None
    correct: bool | None
    values: dict[str, Any]


class EvaluationTask(Protocol):
    """What the runner needs of a task (``baton.evaluation.tasks.Task`` provides it)."""

    @property
    def name(self) -> str: ...

    @property
    def private(self) -> bool: ...

    def items(self, limit: int | None = None) -> list[Item]: ...

    def requests(self, item: Item, *, by_generation: bool = False) -> list[Request]: ...

    def score(self, item: Item, responses: Sequence[Response], *, by_generation: bool = False) -> Any: ...

    def aggregate(self, scores: Sequence[Any], *, seed: int = ...) -> dict[str, MetricSummary]: ...


class PrivateTaskBackendError(PermissionDeniedError):
    code = "PrivateTaskBackend"
    default_hint = (
        "Run private tasks on local weights (--backend hf with a folder or a hub repo) or on a server the "
        "operator registered on pinned weights (baton eval endpoint add, then --endpoint NAME)."
    )


def check_private_backend(task_name: str, private: bool, backend: Backend) -> None:
    """A private task's prompts may reach only backends the operator controls: refuse any other."""
    if not private:
        return
    settings = backend.describe()
    if settings.get("operator_controlled") is not True:
        where = settings.get("base_url") or settings.get("model")
        raise PrivateTaskBackendError(
            f"Task '{task_name}' is private: its prompts never go to an endpoint the operator does not control, "
            f"and the {backend.name} backend at {where} is not one the operator registered."
        )


class BackendAnswerError(BatonError):
    status_code = 502
    code = "BackendAnswerError"
    default_hint = "The backend answered a batch with the wrong number of responses; check the server or model."


@dataclass
class RunResult:
    task: str
    metrics: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]
    manifest: dict[str, Any]
    requests_total: int = 0
    requests_computed: int = 0  # answered by the backend in this run (the rest came from the cache)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": self.metrics,
            "items": self.items,
            "manifest": self.manifest,
            "requests": {"total": self.requests_total, "computed": self.requests_computed},
        }


def prompt_hash(item: Item) -> str:
    return hashlib.sha256(item.prompt.encode()).hexdigest()


def opaque_item_id(key: bytes, task_name: str, item_id: str) -> str:
    """A keyed hash of a private item's id: stable under one key, meaningless without it."""
    return hmac.new(key, f"{task_name}\0{item_id}".encode(), hashlib.sha256).hexdigest()[:32]


def request_batches(requests: Sequence[Request], batch_size: int) -> list[list[Request]]:
    """The requests in the order and batches the backend gets them.

    Longest first (context length, then the context itself, so a context's choices stay together):
    batches of similar lengths waste little on padding, and the first batch shows the peak memory.
    A batch ends only between contexts (it may pass ``batch_size`` by one context's choices), so
    the backend runs each context once.
    """
    ordered = sorted(
        requests, key=lambda request: (request.kind, -len(request.context), request.context, request.continuation)
    )
    batches: list[list[Request]] = []
    current: list[Request] = []
    for request in ordered:
        if len(current) >= batch_size and (current[-1].kind, current[-1].context) != (request.kind, request.context):
            batches.append(current)
            current = []
        current.append(request)
    if current:
        batches.append(current)
    return batches


def answer_all(
    backend: Backend,
    requests: Sequence[Request],
    *,
    cache: AnswerCache | None = None,
    batch_size: int = DEFAULT_REQUEST_BATCH,
    progress: ProgressCallback | None = None,
) -> tuple[dict[str, Response], int]:
    """Answers by request key, and how many the backend computed (the rest came from the cache)."""
    unique = {request.key(): request for request in requests}
    identity = backend_identity(backend) if cache is not None else ""
    answers = cache.get_many(identity, unique) if cache is not None else {}
    missing = [request for key, request in unique.items() if key not in answers]
    done = len(unique) - len(missing)
    if progress is not None:
        progress(done, len(unique))
    for batch in request_batches(missing, batch_size):
        responses = backend.answer(batch)
        if len(responses) != len(batch):
            raise BackendAnswerError(
                f"The {backend.name} backend gave {len(responses)} answers to {len(batch)} requests."
            )
        fresh = {request.key(): response for request, response in zip(batch, responses, strict=True)}
        if cache is not None:
            cache.put_many(identity, fresh)
        answers.update(fresh)
        done += len(batch)
        if progress is not None:
            progress(done, len(unique))
    return answers, len(missing)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _record(item: Item, scored: Any, responses: Sequence[Response]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "item_id": item.item_id,
        "prompt_hash": prompt_hash(item),
        "group": item.group,
        "answer": item.answer,
        "prediction": scored.prediction,
        "correct": scored.correct,
    }
    if any(response.loglikelihood is not None for response in responses):
        record["loglikelihoods"] = [_clean(response.loglikelihood) for response in responses]
    if any(response.is_greedy is not None for response in responses):
        record["is_greedy"] = [response.is_greedy for response in responses]
    if any(response.token_count is not None for response in responses):
        record["token_count"] = sum(response.token_count or 0 for response in responses)
    texts = [response.text for response in responses if response.text is not None]
    if texts:
        record["text"] = texts[0] if len(texts) == 1 else texts
    return record


def run(
    task: EvaluationTask,
    backend: Backend,
    *,
    limit: int | None = None,
    cache: AnswerCache | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_REQUEST_BATCH,
    by_generation: bool = False,
    item_id_key: bytes | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Evaluate ``task`` (its first ``limit`` items) on ``backend``; ``seed`` seeds the bootstrap.

    ``by_generation`` asks multiple-choice tasks for a generated answer letter instead of
    log-likelihoods. A private task's records hold only correctness under ids keyed-hashed with
    ``item_id_key`` (a fresh random key when None, so the ids cannot be linked across runs).
    """
    if limit is not None and limit < 1:
        raise BadRequestError(f"limit must be at least 1, got {limit}")
    if batch_size < 1:
        raise BadRequestError(f"batch_size must be at least 1, got {batch_size}")
    check_private_backend(task.name, bool(task.private), backend)
    apply_settings = getattr(backend, "apply_task_settings", None)
    task_settings = getattr(task, "backend_settings", None)
    if callable(apply_settings) and callable(task_settings):
        apply_settings(task_settings())
    stats = getattr(backend, "compute_stats", None)
    before: dict[str, int] = stats() if callable(stats) else {}
    items = task.items(limit)
    item_requests = [task.requests(item, by_generation=by_generation) for item in items]
    flat = [request for requests in item_requests for request in requests]
    answers, computed = answer_all(backend, flat, cache=cache, batch_size=batch_size, progress=progress)

    scores: list[Any] = []
    records: list[dict[str, Any]] = []
    private = bool(task.private)
    key = item_id_key or secrets.token_bytes(32)
    for item, requests in zip(items, item_requests, strict=True):
        responses = [answers[request.key()] for request in requests]
        scored = task.score(item, responses, by_generation=by_generation)
        scores.append(scored)
        if private:
            records.append({"item_id": opaque_item_id(key, task.name, item.item_id), "correct": scored.correct})
        else:
            records.append(_record(item, scored, responses))
    summaries = {name: summary.to_json() for name, summary in task.aggregate(scores, seed=seed).items()}
    manifest = build_manifest(task, backend, items, limit=limit, seed=seed, by_generation=by_generation)
    after: dict[str, int] = stats() if callable(stats) else {}
    if after:  # what the model computed in this run (the cached answers cost nothing)
        manifest["compute"] = {key: value - before.get(key, 0) for key, value in after.items()}
    return RunResult(
        task=task.name,
        metrics=summaries,
        items=records,
        manifest=manifest,
        requests_total=len({request.key() for request in flat}),
        requests_computed=computed,
    )
