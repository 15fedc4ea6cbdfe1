"""The JSON shapes of the evaluation routes (``baton.evaluation.api``), one class per shape.

Each model declares every key of the dicts ``evaluation.service`` builds, in order; a key set only
sometimes has a default, and the routes serialize with ``response_model_exclude_unset`` so an absent
key stays absent. A run's metrics, settings and manifest are the runner's own (open-ended) mappings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A response shape: an undeclared key is an error (the response would silently lose it)."""

    model_config = ConfigDict(extra="forbid")


class TaskInfo(Schema):
    name: str
    version: str
    output_type: Literal["multiple_choice", "generate_until", "loglikelihood_rolling"]
    metrics: list[str]
    description: str


class RunTask(Schema):
    name: str
    version: str
    source: str  # a built-in name, a YAML path, or "inline"
    private: bool


class Progress(Schema):
    done: int
    total: int


class Run(Schema):
    """An evaluation run (``service.run_json``); the detailed view adds options, attempts and manifest."""

    id: int
    status: str  # queued, running, succeeded, failed, cancelled
    task: RunTask
    model: str
    model_repo: str | None
    model_commit: str | None
    backend: str
    endpoint: str | None
    settings: dict[str, Any]  # limit, seed, by_generation, ...
    job_id: int | None
    progress: Progress
    metrics: dict[str, Any] | None  # the task's metrics once finished (values, stderrs, groups)
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    options: dict[str, Any] = {}  # the detailed view only: backend options
    attempts: list[dict[str, Any]] = []  # the detailed view only: each attempt's worker and outcome
    manifest: dict[str, Any] | None = None  # the detailed view only: what the run used (versions, hashes)


class RunItem(Schema):
    """One scored item of a run (a private task's items carry only ``item_id`` and ``correct``)."""

    item_id: str
    prompt_hash: str = ""
    group: str | None = None
    answer: int | str | None = None
    prediction: int | str | None = None
    correct: bool | None
    loglikelihoods: list[float | None] = []
    is_greedy: list[bool | None] = []
    token_count: int = 0
    text: str | list[str] = ""


class Results(Schema):
    """A run's results, as ``baton eval run --output`` writes them."""

    task: str
    metrics: dict[str, Any] | None
    items: list[RunItem]
    manifest: dict[str, Any] | None


class Endpoint(Schema):
    """A registered OpenAI-compatible endpoint; ``base_url`` is shown to operators only."""

    name: str
    base_url: str = ""
    model: str
    tokenizer: str | None
    revision: str | None
    weight_hash: str | None
    created_at: str
