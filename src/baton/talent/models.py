"""Tables of the talent pool (all prefixed ``talent_``).

Everything that is about one person hangs off ``talent_profiles`` (or, for invitations sent
before any profile exists, off the user's account) with ``ON DELETE CASCADE``; deletion and the
retention job also delete those rows explicitly, so nothing about the person remains whichever
backend enforces foreign keys. Two tables outlive a profile on purpose and keep nothing that
identifies it: the request log (``talent_requests``: kind and dates, its profile link nulled) and
placements (``talent_placements``: former team and month only, links nulled), which feed the
commons catalogue's count of people who found a new place.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

VISIBILITY_POOL = "pool"  # every signed-in user of the talent pool, except the hidden-from list
VISIBILITY_ORGANIZATIONS = "organizations"  # members of the chosen organizations only
VISIBILITY_NOBODY = "nobody"
VISIBILITIES = (VISIBILITY_POOL, VISIBILITY_ORGANIZATIONS, VISIBILITY_NOBODY)

AUDIENCE_ALLOW = "allow"
AUDIENCE_HIDE = "hide"

SERVICE_NONE = "none"
# 전문연구요원: alternative military service as a researcher; changing employer needs approval.
SERVICE_EXPERT_RESEARCH = "expert_research_personnel"
SERVICE_STATUSES = (SERVICE_NONE, SERVICE_EXPERT_RESEARCH)

OPENING_OPEN = "open"
OPENING_CLOSED = "closed"


class TalentProfile(Base):
    """A researcher's profile, modelled on the national researcher information standard (KRI)."""

    __tablename__ = "talent_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Pseudonymous handle used in URLs and shown to organizations instead of the account name.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True, index=True)
    # Required items.
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Optional items (each collected only with its own consent).
    headline: Mapped[str] = mapped_column(String(300), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    education: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    career: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    publications: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    patents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    desired_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    places: Mapped[list[str]] = mapped_column(JSON, default=list)
    earliest_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    service_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    service_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    former_challenge: Mapped[str | None] = mapped_column(String(96), nullable=True)
    former_team: Mapped[str | None] = mapped_column(String(96), nullable=True)
    # The person's choices.
    visibility: Mapped[str] = mapped_column(String(16), default=VISIBILITY_NOBODY)
    automated_recommendation: Mapped[bool] = mapped_column(Boolean, default=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TalentConsent(Base):
    """One consent: a purpose (and recipient, for provision), the items it covers, the notice version.

    Rows are never edited except to set ``withdrawn_at``; a new consent for the same purpose and
    recipient withdraws the previous one, so the history of what was agreed to stays readable.
    """

    __tablename__ = "talent_consents"
    __table_args__ = (Index("ix_talent_consents_profile_purpose", "profile_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    notice_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2), default="ko")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TalentAudience(Base):
    """An organization a profile is shown to (``allow``) or hidden from (``hide``)."""

    __tablename__ = "talent_audience"
    __table_args__ = (UniqueConstraint("profile_id", "organization_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))


class TalentOpening(Base):
    """A place offered by an organization (a remaining team, a follow-on programme)."""

    __tablename__ = "talent_openings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    preferred_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    places: Mapped[int] = mapped_column(Integer, default=1)
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closes_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(8), default=OPENING_OPEN, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TalentProvision(Base):
    """A record that a profile's items were provided to a recipient under a provision consent."""

    __tablename__ = "talent_provisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("talent_consents.id", ondelete="CASCADE"), index=True)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    provided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TalentPersonPreference(Base):
    """A person's own ranking of openings (rank 1 is the most wanted)."""

    __tablename__ = "talent_person_preferences"
    __table_args__ = (UniqueConstraint("profile_id", "opening_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("talent_openings.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)


class TalentOpeningPreference(Base):
    """An opening owner's own ranking of people (rank 1 is the most wanted)."""

    __tablename__ = "talent_opening_preferences"
    __table_args__ = (UniqueConstraint("opening_id", "profile_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("talent_openings.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)


class TalentReview(Base):
    """A request for human review of automated processing, queued for the operators."""

    __tablename__ = "talent_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)


class TalentInvitation(Base):
    """An invitation to opt in, sent when a person's challenge team left; holds nothing else about them."""

    __tablename__ = "talent_invitations"
    __table_args__ = (UniqueConstraint("user_id", "challenge", "team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    challenge: Mapped[str] = mapped_column(String(96))
    team: Mapped[str] = mapped_column(String(96))
    stage: Mapped[str] = mapped_column(String(96), default="")
    reason: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TalentPlacement(Base):
    """Someone from a former team found a new place; anonymized (links nulled) when the profile goes."""

    __tablename__ = "talent_placements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("talent_profiles.id", ondelete="SET NULL"), nullable=True, index=True
    )
    opening_id: Mapped[int | None] = mapped_column(
        ForeignKey("talent_openings.id", ondelete="SET NULL"), nullable=True, index=True
    )
    former_challenge: Mapped[str | None] = mapped_column(String(96), nullable=True)
    former_team: Mapped[str | None] = mapped_column(String(96), nullable=True, index=True)
    recorded_by: Mapped[str] = mapped_column(String(8))
    placed_month: Mapped[str] = mapped_column(String(7))


class TalentRequest(Base):
    """The log of data-subject requests (access, correction, deletion, suspension, ...) and their dates.

    It keeps no personal data: the kind, the dates and a fixed outcome text; the profile link is
    there while the profile exists (so the person can see their own history) and nulled with it.
    """

    __tablename__ = "talent_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("talent_profiles.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")


class TalentMatchingRun(Base):
    """A non-binding matching computed by an operator; the counts only (rows below hold the pairs)."""

    __tablename__ = "talent_matching_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    people: Mapped[int] = mapped_column(Integer, default=0)
    openings: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    blocking_pairs: Mapped[int] = mapped_column(Integer, default=0)


class TalentMatch(Base):
    """One proposed pair of a matching run (``blocking`` marks a reported blocking pair instead)."""

    __tablename__ = "talent_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("talent_matching_runs.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("talent_openings.id", ondelete="CASCADE"), index=True)
    blocking: Mapped[bool] = mapped_column(Boolean, default=False)


GROUP_MEMBER_INVITED = "invited"
GROUP_MEMBER_ACCEPTED = "accepted"


class TalentGroup(Base):
    """People who want to move together; used in matching only once every member has accepted."""

    __tablename__ = "talent_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TalentGroupMember(Base):
    """One person named in a group: the proposer is ``accepted`` at once, the others ``invited`` until they accept."""

    __tablename__ = "talent_group_members"
    __table_args__ = (UniqueConstraint("group_id", "profile_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("talent_groups.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=GROUP_MEMBER_INVITED)
    proposer: Mapped[bool] = mapped_column(Boolean, default=False)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TalentMatchGroup(Base):
    """A group member's outcome in a matching run (``label`` numbers the group within the run)."""

    __tablename__ = "talent_match_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("talent_matching_runs.id", ondelete="CASCADE"), index=True)
    label: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[int] = mapped_column(ForeignKey("talent_profiles.id", ondelete="CASCADE"), index=True)
    opening_id: Mapped[int | None] = mapped_column(
        ForeignKey("talent_openings.id", ondelete="SET NULL"), nullable=True, index=True
    )
    together: Mapped[bool] = mapped_column(Boolean, default=False)
    option_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    options: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[str | None] = mapped_column(String(64), nullable=True)
