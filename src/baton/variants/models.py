"""Tables of the variants domain: the result of loading and running each variant revision
(``variants.check``), and each measurement of a variant against its base (``variants.measure``).

A measurement is one variant commit on one task's items: base and variant evaluated on the same
items, their paired accuracy difference with its interval, file sizes, peak memory, throughput and
latency, on a named runtime and machine. The whole manifest is kept as JSON; the columns are what
lists and pages sort and show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

CHECK_OK = "ok"
CHECK_FAILED = "failed"


class VariantCheck(Base):
    """Whether a variant revision loads and runs with the runtime its card names (the latest check)."""

    __tablename__ = "variant_checks"
    __table_args__ = (UniqueConstraint("repo_id", "commit", "runtime"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit: Mapped[str] = mapped_column(String(40))
    runtime: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # ok | failed
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


MEASUREMENT_STATES = ("ok", "failed")


class VariantMeasurement(Base):
    __tablename__ = "variant_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit: Mapped[str] = mapped_column(String(40))
    base_repo_pk: Mapped[int | None] = mapped_column(
        ForeignKey("repos.id", ondelete="SET NULL"), nullable=True, index=True
    )
    base_repo: Mapped[str] = mapped_column(String(200))  # "namespace/name" as the card declares it
    base_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    runtime: Mapped[str] = mapped_column(String(64))
    runtime_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(8))  # ok | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    task: Mapped[str | None] = mapped_column(String(200), nullable=True)
    items_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_items: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    variant_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    difference: Mapped[float | None] = mapped_column(Float, nullable=True)  # variant - base, paired
    difference_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    difference_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the variant's weight files
    base_file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    peak_memory: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # bytes, the variant's process
    tokens_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    items_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_median_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_p95_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


Index("ix_variant_measurements_repo_finished", VariantMeasurement.repo_pk, VariantMeasurement.finished_at)
