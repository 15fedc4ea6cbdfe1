"""The JSON shapes of the provenance routes (``baton.provenance.api``), one class per shape.

Each model declares every key of the dicts ``provenance.access`` and ``provenance.service`` build, in
order; a key set only sometimes has a default, and the routes serialize with
``response_model_exclude_unset`` so an absent key stays absent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A response shape: an undeclared key is an error (the response would silently lose it)."""

    model_config = ConfigDict(extra="forbid")


class SealedReference(Schema):
    """A private reference's public name: its pseudonym and the commitment to (repo, revision)."""

    pseudonym: str
    commitment: str


class Report(Schema):
    """A provenance report as the viewer may see it (``access.report_json``)."""

    id: int
    reference: str  # "namespace/name@commit", or a sealed reference's pseudonym
    reason: str  # declared, candidate, requested
    verdict: str
    relation: str | None
    p_value: float | None
    commit: str  # the subject's commit the report was computed on
    created_at: str
    html: str
    sealed: SealedReference | None = None  # only for a reference the public may not read
    salt: str = ""  # with ``sealed``, for whoever sees the full report
    subject: str = ""  # the detailed report only: the repo revision compared
    result: dict[str, Any] = {}  # the detailed report only: the comparison's statistics (full or public)


class SummaryEntry(Schema):
    """One report in a revision's summary: a declared base model's check, or a flag."""

    reference: str
    reason: str
    verdict: str
    relation: str | None
    p_value: float | None
    report_id: int
    computed_on: str  # the subject's commit the verdict was computed on
    commitment: str = ""  # only for a sealed reference
    declared: bool = False  # these two only for a declared base model
    confirmed: bool = False
    message: str


class PreviousVerdicts(Schema):
    """The newest verdicts of the repo computed on other weights (while this revision's scan is pending)."""

    commit: str
    compared: int
    declared_checks: list[SummaryEntry]
    flags: list[SummaryEntry]


class Summary(Schema):
    """A repo revision's provenance status (``service.summarize``)."""

    repo: str
    commit: str
    computed_on: str | None  # the commit whose reports apply (this one, or one with the same weights)
    scan: Literal["done", "pending", "failed", "none"]
    note: str
    compared: int
    declared_checks: list[SummaryEntry]
    declared_not_in_hub: list[str]
    flags: list[SummaryEntry]
    status: Literal["flagged", "checked", "no references", "pending", "stale"]
    previous: PreviousVerdicts | None


class RepoProvenance(Schema):
    summary: Summary
    reports: list[Report]


class ScanQueued(Schema):
    job: int
    status: str
    commit: str
