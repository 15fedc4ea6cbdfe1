"""Tables of the evaluation domain: runs (one per submitted evaluation), their per-item records,
the shared answer cache, and the OpenAI-compatible servers an operator registered.

- ``evaluation_runs``: what was asked (task, model pinned to a commit, backend and its settings),
  the job that runs it, progress, and once finished the metrics and the manifest.
- ``evaluation_run_items``: one row per evaluated item, written in the same transaction that marks
  the run succeeded, so a run's records are whole or absent.
- ``evaluation_responses``: a backend's answer to one request, keyed by the backend's identity and
  the request's key. Every worker shares it through the database, so a run resumed on another
  machine after a crash recomputes only what was never stored.
- ``evaluation_endpoints``: servers the operator runs on pinned weights; private tasks may run on
  them (and on local weights), never on an address a team supplies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

RUN_QUEUED = "queued"
RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_FAILED = "failed"
RUN_STATUSES = (RUN_QUEUED, RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED)


class EvaluationRun(Base):
    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(500))  # a built-in name, a YAML path, or "inline"
    task_yaml: Mapped[str | None] = mapped_column(Text, nullable=True)  # the YAML text when given inline
    task_name: Mapped[str] = mapped_column(String(100))
    task_version: Mapped[str] = mapped_column(String(50))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    model: Mapped[str] = mapped_column(String(500))  # local folder, "namespace/name@commit", or served name
    model_repo: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    model_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    backend: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(100), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # backend options (batch size, ...)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # limit, seed, by_generation, ...
    status: Mapped[str] = mapped_column(String(16), default=RUN_QUEUED, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)  # requests answered (cached or computed)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # One entry per attempt: {"worker", "started_at", "cached", "computed"}; ``computed`` grows as
    # each batch's answers are stored, in the same transaction, so it counts only stored work.
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EvaluationRunItem(Base):
    __tablename__ = "evaluation_run_items"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(200))  # an opaque keyed hash for private tasks
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class EvaluationResponse(Base):
    __tablename__ = "evaluation_responses"

    backend_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EvaluationEndpoint(Base):
    __tablename__ = "evaluation_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(300))  # the served model's name
    tokenizer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    revision: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the pinned weights
    weight_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
