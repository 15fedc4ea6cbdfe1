"""Tables of the provenance domain: per-tensor fingerprints and stored reports.

Fingerprints are kept per (repo, commit) so a scan of one repo against the whole hub looks up
candidates in the database first and streams full weights only for the models they point to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow
from baton.core.sealing import new_salt


class ModelFingerprint(Base):
    """One fingerprinted revision of a model repo, with its context (config, sizes, sketch)."""

    __tablename__ = "provenance_fingerprints"
    __table_args__ = (UniqueConstraint("repo_id", "commit_oid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit_oid: Mapped[str] = mapped_column(String(40))
    tensor_count: Mapped[int] = mapped_column(Integer)
    parameter_count: Mapped[int] = mapped_column(BigInteger)
    # Shapes of the embedding, hidden width and depth: a cheap architecture signature.
    signature: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TensorDigest(Base):
    """sha256 of one stored tensor: equal digests anywhere in the hub mean a bit-exact copy."""

    __tablename__ = "provenance_tensor_digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint_id: Mapped[int] = mapped_column(
        ForeignKey("provenance_fingerprints.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(512))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    dtype: Mapped[str] = mapped_column(String(16))
    shape: Mapped[list[int]] = mapped_column(JSON)
    nbytes: Mapped[int] = mapped_column(BigInteger)


class ComponentPrint(Base):
    """One component's vector in the hub-wide index (``provenance.components``).

    A scan compares each of its components with the stored components of the same signature,
    so a copied vision tower is found whatever the rest of either model is.
    """

    __tablename__ = "provenance_component_prints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint_id: Mapped[int] = mapped_column(
        ForeignKey("provenance_fingerprints.id", ondelete="CASCADE"), index=True
    )
    component: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))  # tower, block, module
    signature: Mapped[str] = mapped_column(String(40), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian, components.DIMENSIONS values


class ProvenanceReport(Base):
    """A comparison's result, stored whole (the JSON is the report)."""

    __tablename__ = "provenance_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit_oid: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(300))  # "namespace/name@commit"
    # The reference repo itself (names change, privacy changes): who may see the report is decided
    # from it when the report is read. NULL once the repo is deleted (the report is then sealed).
    reference_repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    # Salt of the commitment to (reference, revision) that the public view shows instead of a private name.
    reference_salt: Mapped[str] = mapped_column(String(64), default=new_salt)
    reason: Mapped[str] = mapped_column(String(16))  # declared, candidate, requested
    verdict: Mapped[str] = mapped_column(String(16))
    relation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


Index("ix_provenance_reports_repo_commit", ProvenanceReport.repo_id, ProvenanceReport.commit_oid)


class RevisionScan(Base):
    """A scan of one model revision: queued (``pending``) or finished (``done``), keyed by its weights too.

    ``weights`` identifies what the scan looked at: sha256 over the sorted content hashes of the
    revision's weight files (``*.safetensors``, ``*.safetensors.index.json``). A later commit with
    the same identity (a card or README edit, a release commit) has the same weights, so the reports
    computed on this revision apply to it as they are; one with another identity needs its own scan.
    """

    __tablename__ = "provenance_scans"
    __table_args__ = (UniqueConstraint("repo_id", "commit_oid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit_oid: Mapped[str] = mapped_column(String(40))
    weights: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # pending, done
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the queued job, when there is one
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


Index("ix_provenance_scans_repo_weights", RevisionScan.repo_id, RevisionScan.weights)
