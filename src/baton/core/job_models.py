"""The durable job table: background work that survives a restart and a crashed worker.

A job moves ``queued`` → ``running`` (leased by one worker until ``locked_until``) → one of the
terminal states: ``succeeded`` (``result`` written), ``failed`` (an error that retrying cannot
fix, e.g. bad input) or ``dead`` (``max_attempts`` used up). A retryable failure puts the job back
to ``queued`` with ``run_after`` in the future (exponential backoff). A running job whose lease
expired (its worker crashed or stalled) is claimable again; that claim counts another attempt.
The operations live in ``baton.core.jobs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
DEAD = "dead"
JOB_STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, DEAD)
FINISHED_STATUSES = (SUCCEEDED, FAILED, DEAD)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # What claim() looks for: ready jobs of some kinds.
        Index("ix_jobs_status_kind", "status", "kind"),
        # AUTOINCREMENT on SQLite: a deleted job's id is never given to a new job.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    # Higher runs first.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # Not claimable before this time (backoff after a failure, or a job scheduled for later).
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The worker holding the lease, and when the lease runs out unless it heartbeats.
    locked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    # The last failure: "ErrorType: message", and a traceback for unexpected errors.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Unique when set: enqueueing the same logical job twice returns the first one.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status} attempt {self.attempts}/{self.max_attempts}>"
