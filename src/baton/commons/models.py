"""Tables of release plan execution: one row per planned repo, the checks that hold it, and every action.

A team's release plan (filed with the challenge) names repos and what each becomes when the team
leaves. When the exit is final each planned repo gets a ``ReleaseItem``; its checks (personal data
in datasets, licenses along a model's lineage) may add ``ReleaseFinding`` rows that hold it until an
operator resolves them; everything done is appended to ``ReleaseAction`` so the record is complete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

# Item states: checks not run yet, held by open findings, waiting for the embargo date, released.
ITEM_STATES = ("pending", "held", "embargoed", "released")
FINDING_STATES = ("open", "accepted", "cleaned")


class ReleaseItem(Base):
    """One repo of a team's release plan, from the exit that triggered it to its release."""

    __tablename__ = "challenge_release_items"
    __table_args__ = (UniqueConstraint("challenge", "team", "repo_type", "repo_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge: Mapped[str] = mapped_column(String(96), index=True)
    team: Mapped[str] = mapped_column(String(96), index=True)
    stage: Mapped[str] = mapped_column(String(96))
    exit_reason: Mapped[str] = mapped_column(String(32))
    repo_type: Mapped[str] = mapped_column(String(8))
    repo_name: Mapped[str] = mapped_column(String(200))  # "namespace/name"
    repo_pk: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True, index=True)
    asset_kind: Mapped[str] = mapped_column(String(32))  # model, dataset, compressed, agent, kernel, report
    access: Mapped[str] = mapped_column(String(8))  # public or gated
    gated_mode: Mapped[str | None] = mapped_column(String(8), nullable=True)
    license: Mapped[str | None] = mapped_column(String(64), nullable=True)
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    checked_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    released_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    effective_license: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReleaseFinding(Base):
    """A check's result that holds an item: personal data found, or a license conflict."""

    __tablename__ = "challenge_release_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("challenge_release_items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "pii" or "license"
    commit_oid: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReleaseAction(Base):
    """Append-only record of what release execution did, and who resolved what."""

    __tablename__ = "challenge_release_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenge_release_items.id", ondelete="CASCADE"), nullable=True, index=True
    )
    challenge: Mapped[str] = mapped_column(String(96), index=True)
    team: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(96))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
