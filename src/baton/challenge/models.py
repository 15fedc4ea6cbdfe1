"""Tables of the challenge domain.

``challenge_ledger`` is the source of truth (hash-chained events); every other table is a
projection written in the same transaction as the event it reflects, for queries and checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow


class Challenge(Base):
    __tablename__ = "challenge_challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(300))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_version: Mapped[int] = mapped_column(Integer, default=1)
    salt: Mapped[str] = mapped_column(String(64))  # secret: makes voters' and reviewers' pseudonyms
    head_hash: Mapped[str] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "challenge_ledger"
    __table_args__ = (UniqueConstraint("challenge_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    recorded_at: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Team(Base):
    __tablename__ = "challenge_teams"
    __table_args__ = (UniqueConstraint("challenge_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    organizations: Mapped[list[str]] = mapped_column(JSON, default=list)
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    entered_stage: Mapped[str] = mapped_column(String(64))
    repechage: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, eliminated, ended
    exit_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    release_plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Submission(Base):
    __tablename__ = "challenge_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    repo_type: Mapped[str] = mapped_column(String(8))
    repo_name: Mapped[str] = mapped_column(String(200))
    repo_pk: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True)
    commit_oid: Mapped[str] = mapped_column(String(40))
    hold_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set when the repo was private at submission: the ledger names it by this commitment's sealed name.
    commitment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    current: Mapped[bool] = mapped_column(Boolean, default=True)


class ReviewerAssignment(Base):
    __tablename__ = "challenge_reviewer_assignments"
    __table_args__ = (UniqueConstraint("challenge_id", "stage", "team_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40))


class Battle(Base):
    __tablename__ = "challenge_battles"
    __table_args__ = (UniqueConstraint("challenge_id", "battle"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64), index=True)
    criterion: Mapped[str] = mapped_column(String(64))
    battle: Mapped[str] = mapped_column(String(40))
    prompt: Mapped[str] = mapped_column(Text)
    team_a: Mapped[str] = mapped_column(String(64))
    team_b: Mapped[str] = mapped_column(String(64))
    answer_a: Mapped[str] = mapped_column(Text)
    answer_b: Mapped[str] = mapped_column(Text)
    reveals_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Vote(Base):
    __tablename__ = "challenge_votes"
    __table_args__ = (UniqueConstraint("battle_id", "voter_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    battle_id: Mapped[int] = mapped_column(ForeignKey("challenge_battles.id", ondelete="CASCADE"), index=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GateResult(Base):
    __tablename__ = "challenge_gate_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    gate: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # pass, fail, inconclusive
    source: Mapped[str] = mapped_column(String(16))  # provenance, override
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    operator: Mapped[str | None] = mapped_column(String(96), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Decision(Base):
    __tablename__ = "challenge_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    appeal_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)


class Appeal(Base):
    __tablename__ = "challenge_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    filed_by: Mapped[str] = mapped_column(String(96))
    text: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    upheld: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Opening(Base):
    """The secret half of a commitment the public ledger carries: the committed value and its salt.

    ``kind`` "model": a private repo's (repo, revision), named in public by ``pseudonym`` (one row
    per challenge, repo and revision, so a revision keeps one commitment). ``kind`` "repo": a private
    repo alone, where a team names it without a revision (a release plan, an unpinned target model,
    a release action with no commit); same pseudonym, one row per challenge and repo. ``kind`` "battle": a
    battle's two teams and answers, sealed while voting is open. ``revealed_seq`` is the ledger
    event that published the opening; until then only operators see it (and hand it to auditors).
    """

    __tablename__ = "challenge_openings"
    __table_args__ = (UniqueConstraint("challenge_id", "commitment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # model, repo, battle
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a battle's stage
    commitment: Mapped[str] = mapped_column(String(64))
    pseudonym: Mapped[str | None] = mapped_column(String(40), nullable=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    salt: Mapped[str] = mapped_column(String(64))
    repo_pk: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"), nullable=True, index=True)
    revision: Mapped[str | None] = mapped_column(String(40), nullable=True)
    battle: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revealed_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PanelAssignment(Base):
    """A rater of a panel criterion assigned to rate a team's answers in a stage (projection of
    ``panel.assigned``); the ledger names the rater by ``pseudonym`` only."""

    __tablename__ = "challenge_panel_assignments"
    __table_args__ = (UniqueConstraint("challenge_id", "stage", "criterion", "team_id", "rater_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    criterion: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40))


class PanelConflict(Base):
    """A rater's conflict of interest with a team (projection of ``panel.conflict``): the rater cannot
    rate the team, and any ratings already given are left out of its aggregates."""

    __tablename__ = "challenge_panel_conflicts"
    __table_args__ = (UniqueConstraint("challenge_id", "team_id", "rater_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("challenge_teams.id", ondelete="CASCADE"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # declared, affiliation
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
