"""Response shapes of the variants domain's JSON routes (``GET /api/variants/{namespace}/{name}``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from baton.evaluation.schemas import Schema


class AccuracyRetained(Schema):
    difference: float | None  # variant - base accuracy on the same items
    ci95: list[float | None]  # 95 % interval of the paired difference
    method: str | None


class Latency(Schema):
    median: float | None  # ms, one request at a time
    p95: float | None


class Measurement(Schema):
    """A variant measured against its base on the same items (what the public sees: no server paths)."""

    id: int
    status: str  # ok | failed
    error: str | None
    commit: str
    base: str
    base_commit: str | None
    runtime: str | None
    runtime_version: str | None
    task: str | None
    items_hash: str | None
    n_items: int | None
    base_accuracy: float | None
    variant_accuracy: float | None
    accuracy_retained: AccuracyRetained
    file_size: int | None
    base_file_size: int | None
    peak_memory: int | None
    base_peak_memory: int | None
    tokens_per_second: float | None
    base_tokens_per_second: float | None
    items_per_second: float | None
    latency_ms: Latency
    speedup: float | None
    machine: dict[str, Any] | None  # CPU model, cores, memory, OS, Python
    peak_memory_method: str | None
    started_at: datetime | None
    finished_at: datetime | None


class VariantEntry(Schema):
    id: str
    url: str
    kind: str | None
    method: str | None
    runtime: str | None
    private: bool
    measurement: Measurement | None  # None: not measured yet


class BaseNumbers(Schema):
    """The base's own numbers, from its variants' newest measurement (the same items as theirs)."""

    accuracy: float | None
    file_size: int | None
    tokens_per_second: float | None
    peak_memory: int | None
    task: str | None
    n_items: int | None


class ModelVariants(Schema):
    model: str
    base: BaseNumbers | None
    variants: list[VariantEntry]
    limit: int  # at most this many variants are looked at
