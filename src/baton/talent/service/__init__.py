"""The talent pool's operations: profiles, consent, visibility, openings, invitations, placements.

Every function takes a SQLAlchemy session and the acting account and does one whole operation
(the caller's transaction commits it or rolls all of it back). Rights of the person (access,
correction, deletion, suspension, withdrawal) take effect at once and are logged with the date
in ``talent_requests``. Automated ranking, matching and the exposure report live in ``baton.talent.matchmaking``.

Who sees a profile (``visible_items``): the person sees everything; nobody sees a suspended
profile; an organization member sees the items of the person's ``pool`` consent when the
person's visibility allows it and none of the member's organizations is on the hidden-from list,
plus the items provided to their organization under a ``provision`` consent. Anyone else gets
404, never 403, so a hidden profile cannot be told apart from a missing one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ORGANIZATION, Account
from baton.core import jobs
from baton.core.database import utcnow
from baton.core.errors import NotFoundError
from baton.core.runtime import TeamExit
from baton.talent import consent as notices
from baton.talent.errors import (
    ConsentRequiredError,
    InvalidConsentError,
    InvalidOpeningError,
    InvalidProfileError,
    InvitationNotFoundError,
    NoProfileError,
    OpeningNotFoundError,
    ProfileExistsError,
    ProfileNotFoundError,
    ProfileSuspendedError,
    ReviewNotFoundError,
    UnknownOpeningsError,
)
from baton.talent.models import (
    AUDIENCE_ALLOW,
    AUDIENCE_HIDE,
    OPENING_CLOSED,
    OPENING_OPEN,
    SERVICE_EXPERT_RESEARCH,
    SERVICE_STATUSES,
    VISIBILITIES,
    VISIBILITY_NOBODY,
    VISIBILITY_ORGANIZATIONS,
    VISIBILITY_POOL,
    TalentAudience,
    TalentConsent,
    TalentInvitation,
    TalentMatch,
    TalentMatchGroup,
    TalentOpening,
    TalentOpeningPreference,
    TalentPersonPreference,
    TalentPlacement,
    TalentProfile,
    TalentProvision,
    TalentRequest,
    TalentReview,
)
from baton.talent.taxonomy import load_taxonomy

RETENTION_JOB = "talent.retention"
INVITATION_RETENTION_DAYS = 180
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
URL_PATTERN = re.compile(r"^https?://[^\s]+$")
MAX_LIST = 50

# Which profile columns hold each consent item.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "contact": ("contact_email",),
    "skills": ("skills",),
    "headline": ("headline",),
    "keywords": ("keywords",),
    "education": ("education",),
    "career": ("career",),
    "publications": ("publications",),
    "patents": ("patents",),
    "desired_roles": ("desired_roles",),
    "places": ("places",),
    "earliest_start": ("earliest_start",),
    "service_status": ("service_status", "service_until"),
    "former_team": ("former_challenge", "former_team"),
}
FIELD_ITEM = {column: item for item, columns in ITEM_FIELDS.items() for column in columns}

SERVICE_CONSTRAINT = {
    "ko": "전문연구요원으로 복무 중: 복무 기관을 옮기려면 병무청의 승인이 필요하며 지정 업체로만 옮길 수 있습니다.",
    "en": "Serving as an alternative-military-service researcher (전문연구요원): moving needs the Military "
    "Manpower Administration's approval and is possible only to a designated employer.",
}


# Inputs (shared by the API, the CLI and the pages).


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Education(_Input):
    institution: str = Field(min_length=1, max_length=200)
    degree: str = Field(default="", max_length=100)
    field: str = Field(default="", max_length=200)
    year: int | None = Field(default=None, ge=1900, le=2100)


class CareerEntry(_Input):
    organization: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=200)
    start: date | None = None
    end: date | None = None


class Link(_Input):
    url: str = Field(min_length=8, max_length=1000)
    title: str = Field(default="", max_length=300)
    number: str = Field(default="", max_length=100)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not URL_PATTERN.match(value):
            raise ValueError("must be an http(s) URL")
        return value


class ProfileFields(_Input):
    """Profile items; None leaves an item as it is, ``clear`` erases optional items by name."""

    name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    headline: str | None = Field(default=None, max_length=300)
    keywords: list[str] | None = Field(default=None, max_length=MAX_LIST)
    education: list[Education] | None = Field(default=None, max_length=MAX_LIST)
    career: list[CareerEntry] | None = Field(default=None, max_length=MAX_LIST)
    publications: list[Link] | None = Field(default=None, max_length=200)
    patents: list[Link] | None = Field(default=None, max_length=200)
    desired_roles: list[str] | None = Field(default=None, max_length=MAX_LIST)
    places: list[str] | None = Field(default=None, max_length=MAX_LIST)
    earliest_start: date | None = None
    service_status: str | None = None
    service_until: date | None = None
    clear: list[str] = Field(default_factory=list)


class CollectionConsent(_Input):
    """The answer to the collection notice given when a profile is made."""

    notice_version: str
    optional_items: list[str] = Field(default_factory=list)
    language: Literal["ko", "en"] = "ko"


class OpeningFields(_Input):
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    required_skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    preferred_skills: list[str] | None = Field(default=None, max_length=MAX_LIST)
    places: int | None = Field(default=None, ge=1, le=1000)
    location: str | None = Field(default=None, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    closes_on: date | None = None


def parse_profile_fields(data: dict[str, Any]) -> ProfileFields:
    """``ProfileFields`` from a plain dict (CLI, pages), with pydantic's complaint as a clear error."""
    try:
        return ProfileFields.model_validate(data)
    except ValidationError as error:
        raise InvalidProfileError(_describe(error)) from error


def parse_opening_fields(data: dict[str, Any]) -> OpeningFields:
    try:
        return OpeningFields.model_validate(data)
    except ValidationError as error:
        raise InvalidOpeningError(_describe(error)) from error


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}" for item in error.errors()[:5]
    )


# Small helpers.


def _log(session: Session, profile: TalentProfile | None, kind: str, outcome: str) -> TalentRequest:
    """Record a request of the person and its (immediate) completion; no personal data in ``outcome``."""
    now = utcnow()
    entry = TalentRequest(
        profile_id=profile.id if profile is not None else None,
        kind=kind,
        received_at=now,
        completed_at=now,
        outcome=outcome,
    )
    session.add(entry)
    return entry


def _clean_strings(values: Iterable[str], what: str) -> list[str]:
    out: list[str] = []
    for value in values:
        text = value.strip()
        if len(text) > 200:
            raise InvalidProfileError(f"One of the {what} is longer than 200 characters", hint="Shorten it.")
        if text and text not in out:
            out.append(text)
    return out


def validate_skills(codes: Sequence[str]) -> list[str]:
    """Canonical ACM CCS codes; UnknownSkillError (400) names every unknown one."""
    return load_taxonomy().validate(list(codes))


def skill_json(code: str) -> dict[str, str]:
    concept = load_taxonomy().get(code)
    return {"code": concept.code, "label_en": concept.label("en"), "label_ko": concept.label("ko")}


def find_profile(session: Session, user: Actor) -> TalentProfile | None:
    return session.scalar(select(TalentProfile).where(TalentProfile.user_id == user.account_id))


def own_profile(session: Session, user: Actor) -> TalentProfile:
    profile = find_profile(session, user)
    if profile is None:
        raise NoProfileError(f"'{user.name}' has no talent profile")
    return profile


def _require_active(profile: TalentProfile) -> None:
    if profile.suspended_at is not None:
        raise ProfileSuspendedError("Processing of your profile is suspended")


def active_consents(session: Session, profile_ids: Iterable[int]) -> dict[int, list[TalentConsent]]:
    ids = list(profile_ids)
    out: dict[int, list[TalentConsent]] = {profile_id: [] for profile_id in ids}
    if not ids:
        return out
    rows = session.scalars(
        select(TalentConsent).where(TalentConsent.profile_id.in_(ids), TalentConsent.withdrawn_at.is_(None))
    )
    for row in rows:
        out[row.profile_id].append(row)
    return out


def active_consent(
    session: Session, profile: TalentProfile, purpose: str, recipient: Account | None = None
) -> TalentConsent | None:
    query = select(TalentConsent).where(
        TalentConsent.profile_id == profile.id,
        TalentConsent.purpose == purpose,
        TalentConsent.withdrawn_at.is_(None),
    )
    if recipient is not None:
        query = query.where(TalentConsent.recipient_id == recipient.id)
    return session.scalars(query.order_by(TalentConsent.id.desc())).first()


def _consent_items(
    consents: Iterable[TalentConsent], purpose: str, recipient_id: int | None = None
) -> list[str] | None:
    for row in consents:
        if row.purpose == purpose and (recipient_id is None or row.recipient_id == recipient_id):
            return list(row.items)
    return None


def collected_items(session: Session, profile: TalentProfile) -> list[str]:
    row = active_consent(session, profile, notices.COLLECTION)
    return list(row.items) if row is not None else list(notices.REQUIRED_ITEMS)


def _organization(session: Session, name: str) -> Account:
    account = accounts.get_account(session, name)
    if account.kind != ORGANIZATION:
        raise InvalidProfileError(
            f"'{name}' is a user, not an organization", hint="Name organizations (teams, programmes, companies)."
        )
    return account


def _organization_ids_of(session: Session, user: Actor | None) -> set[int]:
    if user is None:
        return set()
    return {org.id for org, _role in accounts.organizations_of(session, user.account_id)}


def _retention_deadline(now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(days=notices.RETENTION_DAYS)


def schedule_retention(session: Session) -> None:
    """Make sure a retention sweep is queued for tomorrow (one job per day, deduplicated by date)."""
    tomorrow = (utcnow() + timedelta(days=1)).date()
    jobs.enqueue(
        session,
        RETENTION_JOB,
        {},
        dedupe_key=f"{RETENTION_JOB}:{tomorrow.isoformat()}",
        run_after=datetime.combine(tomorrow, datetime.min.time()).replace(tzinfo=utcnow().tzinfo),
    )


# Profiles.


def _apply_fields(session: Session, profile: TalentProfile, fields: ProfileFields, allowed: set[str]) -> None:
    """Write ``fields`` into ``profile``; refuse items the person did not consent to collect."""
    given = fields.model_dump(exclude_unset=True, exclude_none=True, exclude={"clear"})
    for column in given:
        item = FIELD_ITEM[column]
        if item not in allowed:
            label = notices.ITEM_LABELS[item]["en"]
            raise InvalidProfileError(
                f"You did not consent to the collection of '{item}' ({label})",
                hint="Leave it out, or add it to your collection consent first "
                "(POST /api/talent/me/consents with purpose 'collection').",
            )
    for item in fields.clear:
        if item not in notices.OPTIONAL_ITEMS:
            raise InvalidProfileError(
                f"'{item}' cannot be cleared", hint="Clear only optional items: " + ", ".join(notices.OPTIONAL_ITEMS)
            )
        _erase_item(profile, item)
    if fields.name is not None:
        if not fields.name:
            raise InvalidProfileError("The name cannot be empty")
        profile.name = fields.name
    if fields.contact_email is not None:
        if not EMAIL_PATTERN.match(fields.contact_email):
            raise InvalidProfileError(
                f"'{fields.contact_email}' is not an email address", hint="Give an address like name@example.org."
            )
        profile.contact_email = fields.contact_email
    if fields.skills is not None:
        if not fields.skills:
            raise InvalidProfileError(
                "At least one skill is required",
                hint="Give ACM CCS codes; find them with GET /api/talent/skills?q=<words>.",
            )
        profile.skills = validate_skills(fields.skills)
    if fields.headline is not None:
        profile.headline = fields.headline
    if fields.keywords is not None:
        profile.keywords = _clean_strings(fields.keywords, "keywords")
    if fields.education is not None:
        profile.education = [entry.model_dump(mode="json") for entry in fields.education]
    if fields.career is not None:
        for entry in fields.career:
            if entry.start and entry.end and entry.end < entry.start:
                raise InvalidProfileError(f"Career at '{entry.organization}' ends before it starts")
        profile.career = [entry.model_dump(mode="json") for entry in fields.career]
    if fields.publications is not None:
        profile.publications = [entry.model_dump(mode="json") for entry in fields.publications]
    if fields.patents is not None:
        profile.patents = [entry.model_dump(mode="json") for entry in fields.patents]
    if fields.desired_roles is not None:
        profile.desired_roles = _clean_strings(fields.desired_roles, "desired roles")
    if fields.places is not None:
        profile.places = _clean_strings(fields.places, "places")
    if fields.earliest_start is not None:
        profile.earliest_start = fields.earliest_start
    if fields.service_status is not None:
        if fields.service_status not in SERVICE_STATUSES:
            raise InvalidProfileError(
                f"Unknown service status '{fields.service_status}'",
                hint="Use one of: " + ", ".join(SERVICE_STATUSES) + " (expert_research_personnel = 전문연구요원).",
            )
        profile.service_status = fields.service_status
    if fields.service_until is not None:
        profile.service_until = fields.service_until


def _erase_item(profile: TalentProfile, item: str) -> None:
    for column in ITEM_FIELDS[item]:
        current = getattr(profile, column)
        if isinstance(current, list):
            setattr(profile, column, [])
        elif column == "headline":
            profile.headline = ""
        else:
            setattr(profile, column, None)


def create_profile(session: Session, user: Actor, fields: ProfileFields, consent: CollectionConsent) -> TalentProfile:
    """A new profile with the person's consent to collect it (required items plus chosen optional ones)."""
    if find_profile(session, user) is not None:
        raise ProfileExistsError(f"'{user.name}' already has a talent profile")
    items = notices.validate_consent_items(notices.COLLECTION, consent.notice_version, consent.optional_items)
    missing = [
        label
        for label, value in (("name", fields.name), ("contact_email", fields.contact_email), ("skills", fields.skills))
        if not value
    ]
    if missing:
        raise InvalidProfileError(
            "A profile needs " + ", ".join(missing),
            hint="Only name, contact_email and at least one skill are required; every other item is optional.",
        )
    now = utcnow()
    profile = TalentProfile(
        public_id="p-" + secrets.token_hex(6),
        user_id=user.account_id,
        name="",
        contact_email="",
        skills=[],
        retain_until=_retention_deadline(now),
        created_at=now,
        updated_at=now,
        visibility=VISIBILITY_NOBODY,
        automated_recommendation=True,
        headline="",
        keywords=[],
        education=[],
        career=[],
        publications=[],
        patents=[],
        desired_roles=[],
        places=[],
    )
    _apply_fields(session, profile, fields, set(items))
    if "former_team" in items:
        _adopt_former_team(session, user, profile)
    session.add(profile)
    session.flush()
    session.add(
        TalentConsent(
            profile_id=profile.id,
            purpose=notices.COLLECTION,
            items=items,
            notice_version=consent.notice_version,
            language=consent.language,
            granted_at=now,
        )
    )
    _log(session, profile, "consent.collection", "consent to collection recorded")
    schedule_retention(session)
    session.flush()
    return profile


def _adopt_former_team(session: Session, user: Actor, profile: TalentProfile) -> None:
    invitation = session.scalars(
        select(TalentInvitation)
        .where(TalentInvitation.user_id == user.account_id, TalentInvitation.status == "accepted")
        .order_by(TalentInvitation.id.desc())
    ).first()
    if invitation is not None:
        profile.former_challenge = invitation.challenge
        profile.former_team = invitation.team


def correct_profile(session: Session, user: Actor, fields: ProfileFields) -> TalentProfile:
    """Correction (Art. 36): effective at once."""
    profile = own_profile(session, user)
    _apply_fields(session, profile, fields, set(collected_items(session, profile)))
    profile.updated_at = utcnow()
    _log(session, profile, "correction", "profile corrected")
    session.flush()
    return profile


def suspend_profile(session: Session, user: Actor) -> TalentProfile:
    """Suspension (Art. 37): hidden from everyone and out of every ranking, at once."""
    profile = own_profile(session, user)
    if profile.suspended_at is None:
        profile.suspended_at = utcnow()
    _log(session, profile, "suspension", "processing suspended")
    session.flush()
    return profile


def resume_profile(session: Session, user: Actor) -> TalentProfile:
    profile = own_profile(session, user)
    profile.suspended_at = None
    _log(session, profile, "resumption", "processing resumed")
    session.flush()
    return profile


def renew_retention(session: Session, user: Actor) -> TalentProfile:
    """The person asks to be kept: the retention period starts again from today."""
    profile = own_profile(session, user)
    profile.retain_until = _retention_deadline()
    _log(session, profile, "renewal", "retention period renewed")
    session.flush()
    return profile


def set_automated_recommendation(session: Session, user: Actor, *, accept: bool) -> TalentProfile:
    """Refusing automated recommendation (Art. 37-2) takes the person out of every automated ranking at once."""
    profile = own_profile(session, user)
    profile.automated_recommendation = accept
    _log(
        session,
        profile,
        "automated.accept" if accept else "automated.refuse",
        "automated recommendation accepted" if accept else "automated recommendation refused",
    )
    session.flush()
    return profile


def destroy_profile(session: Session, profile: TalentProfile, *, kind: str) -> None:
    """Delete every talent row about the person; anonymize the two that outlive it (placements, request log)."""
    profile_id, user_id = profile.id, profile.user_id
    session.execute(
        update(TalentPlacement)
        .where(TalentPlacement.profile_id == profile_id)
        .values(profile_id=None, opening_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(TalentRequest)
        .where(TalentRequest.profile_id == profile_id)
        .values(profile_id=None)
        .execution_options(synchronize_session=False)
    )
    from baton.talent import groups  # groups builds on this module

    groups.forget_profile(session, profile_id)
    for table in (
        TalentMatchGroup,
        TalentMatch,
        TalentReview,
        TalentProvision,
        TalentPersonPreference,
        TalentOpeningPreference,
        TalentAudience,
        TalentConsent,
    ):
        session.execute(
            delete(table).where(table.profile_id == profile_id).execution_options(synchronize_session=False)
        )
    session.execute(
        delete(TalentInvitation).where(TalentInvitation.user_id == user_id).execution_options(synchronize_session=False)
    )
    session.delete(profile)
    _log(session, None, kind, "profile and every record about the person destroyed")
    session.flush()


def delete_profile(session: Session, user: Actor) -> dict[str, Any]:
    """Deletion (Art. 36): everything about the person in the talent tables goes, at once."""
    profile = find_profile(session, user)
    if profile is None:
        invitations = list_invitations(session, user)
        if not invitations:
            raise NoProfileError(f"'{user.name}' has no talent profile and no invitations: nothing to delete")
        for invitation in invitations:
            session.delete(invitation)
        _log(session, None, "deletion", "invitations deleted")
        return {"deleted": True, "message": "Your invitations were deleted; Baton holds nothing else about you."}
    destroy_profile(session, profile, kind="deletion")
    return {
        "deleted": True,
        "message": "Your profile, consents, preferences, reviews and invitations were deleted. "
        "Organizations that received your profile under your consent keep their copy under their own "
        "retention terms; ask them directly to delete it.",
    }


# Consent.


def grant_consent(
    session: Session,
    user: Actor,
    purpose: str,
    notice_version: str,
    items: Sequence[str] = (),
    *,
    recipient: str | None = None,
    language: str = "ko",
) -> TalentConsent:
    """Record a consent (replacing the previous one for the same purpose and recipient)."""
    profile = own_profile(session, user)
    notices.check_purpose(purpose)
    if language not in notices.LANGUAGES:
        raise InvalidConsentError(f"Unknown language '{language}'", hint="Use 'ko' or 'en'.")
    chosen = notices.validate_consent_items(purpose, notice_version, list(items))
    recipient_account: Account | None = None
    if purpose == notices.PROVISION:
        if not recipient:
            raise InvalidConsentError(
                "Consent to provision must name its recipient organization",
                hint="Pass recipient=<organization name>: each recipient needs its own consent (PIPA Art. 17).",
            )
        recipient_account = _organization(session, recipient)
        hidden = session.scalar(
            select(TalentAudience.id).where(
                TalentAudience.profile_id == profile.id,
                TalentAudience.organization_id == recipient_account.id,
                TalentAudience.kind == AUDIENCE_HIDE,
            )
        )
        if hidden is not None:
            raise InvalidConsentError(
                f"You hide your profile from '{recipient}'",
                hint=f"Remove '{recipient}' from your hidden-from list first if you want to provide it to them.",
            )
    elif recipient:
        raise InvalidConsentError(f"Only provision names a recipient, not '{purpose}'")
    if purpose != notices.COLLECTION:
        collected = set(collected_items(session, profile))
        not_collected = [item for item in chosen if item not in collected]
        if not_collected:
            raise InvalidConsentError(
                "Baton does not hold these items of yours: " + ", ".join(not_collected),
                hint="Add them to your collection consent and your profile first, or leave them out.",
            )
    previous = active_consent(session, profile, purpose, recipient_account)
    now = utcnow()
    if previous is not None:
        previous.withdrawn_at = now
    row = TalentConsent(
        profile_id=profile.id,
        purpose=purpose,
        recipient_id=recipient_account.id if recipient_account else None,
        items=chosen,
        notice_version=notice_version,
        language=language,
        granted_at=now,
    )
    session.add(row)
    if purpose == notices.COLLECTION:
        # Items no longer consented to are erased at once.
        for item in notices.OPTIONAL_ITEMS:
            if item not in chosen:
                _erase_item(profile, item)
        _shrink_dependent_consents(session, profile, set(chosen), now)
        if "former_team" in chosen and profile.former_team is None:
            _adopt_former_team(session, user, profile)
    _log(session, profile, f"consent.{purpose}", f"consent to {purpose} recorded")
    session.flush()
    return row


def _shrink_dependent_consents(session: Session, profile: TalentProfile, collected: set[str], now: datetime) -> None:
    """After collection shrinks, other consents cover only what is still held (items dropped in place)."""
    for row in active_consents(session, [profile.id])[profile.id]:
        if row.purpose != notices.COLLECTION and not set(row.items) <= collected:
            row.items = [item for item in row.items if item in collected]


def withdraw_consent(session: Session, user: Actor, purpose: str, *, recipient: str | None = None) -> TalentConsent:
    """Withdrawal, effective at once: withdrawing ``pool`` also makes the profile visible to nobody."""
    profile = own_profile(session, user)
    notices.check_purpose(purpose)
    if purpose == notices.COLLECTION:
        raise InvalidConsentError(
            "Consent to collection is withdrawn by deleting the profile",
            hint="Delete your profile (DELETE /api/talent/me, or the /talent/profile page).",
        )
    recipient_account = _organization(session, recipient) if recipient else None
    if purpose == notices.PROVISION and recipient_account is None:
        raise InvalidConsentError("Name the recipient whose provision consent you withdraw")
    row = active_consent(session, profile, purpose, recipient_account)
    if row is None:
        raise NotFoundError(
            f"You have no active consent for '{purpose}'" + (f" to '{recipient}'" if recipient else ""),
            code="ConsentNotFound",
            hint="List your consents with GET /api/talent/me.",
        )
    row.withdrawn_at = utcnow()
    if purpose == notices.POOL:
        profile.visibility = VISIBILITY_NOBODY
    _log(session, profile, f"withdrawal.{purpose}", f"consent to {purpose} withdrawn")
    session.flush()
    return row


# Visibility.


def set_visibility(
    session: Session,
    user: Actor,
    visibility: str,
    *,
    organizations: Sequence[str] | None = None,
    hidden_from: Sequence[str] | None = None,
) -> TalentProfile:
    """Who may see the profile; ``None`` keeps a list as it is, ``[]`` empties it."""
    profile = own_profile(session, user)
    if visibility not in VISIBILITIES:
        raise InvalidProfileError(
            f"Unknown visibility '{visibility}'", hint="Use one of: " + ", ".join(VISIBILITIES) + "."
        )
    if visibility != VISIBILITY_NOBODY and active_consent(session, profile, notices.POOL) is None:
        raise ConsentRequiredError(
            "Your profile cannot be made visible without your consent to be listed in the pool",
            hint="Read the 'pool' notice (GET /api/talent/notices) and consent (POST /api/talent/me/consents "
            "with purpose 'pool'), then set the visibility again.",
        )
    current = {
        (row.kind, row.organization_id): row
        for row in session.scalars(select(TalentAudience).where(TalentAudience.profile_id == profile.id))
    }
    allow_ids = (
        {_organization(session, name).id for name in organizations}
        if organizations is not None
        else {org_id for kind, org_id in current if kind == AUDIENCE_ALLOW}
    )
    hide_ids = (
        {_organization(session, name).id for name in hidden_from}
        if hidden_from is not None
        else {org_id for kind, org_id in current if kind == AUDIENCE_HIDE}
    )
    if allow_ids & hide_ids:
        raise InvalidProfileError("An organization cannot be both chosen and hidden from")
    if visibility == VISIBILITY_ORGANIZATIONS and not allow_ids:
        raise InvalidProfileError(
            "Visibility 'organizations' needs at least one organization",
            hint="Name the organizations that may see your profile, or choose 'pool' or 'nobody'.",
        )
    provided_to = {
        row.recipient_id for row in active_consents(session, [profile.id])[profile.id] if row.purpose == "provision"
    }
    clash = hide_ids & provided_to
    if clash:
        names = ", ".join(sorted(str(_account_name(session, org_id)) for org_id in clash))
        raise InvalidProfileError(
            f"You consented to provide your profile to {names}",
            hint="Withdraw that provision consent first, then hide from them.",
        )
    for (kind, org_id), row in current.items():
        wanted = allow_ids if kind == AUDIENCE_ALLOW else hide_ids
        if org_id not in wanted:
            session.delete(row)
    for kind, wanted in ((AUDIENCE_ALLOW, allow_ids), (AUDIENCE_HIDE, hide_ids)):
        for org_id in wanted - {org for k, org in current if k == kind}:
            session.add(TalentAudience(profile_id=profile.id, organization_id=org_id, kind=kind))
    profile.visibility = visibility
    profile.updated_at = utcnow()
    _log(session, profile, "visibility", f"visibility set to {visibility}")
    session.flush()
    return profile


@dataclass
class Audience:
    """Pre-loaded visibility facts for many profiles (one query per table, not per profile)."""

    consents: dict[int, list[TalentConsent]]
    allow: dict[int, set[int]]
    hide: dict[int, set[int]]
    provided: dict[int, set[int]]  # profile -> recipients it was provided to

    @classmethod
    def load(cls, session: Session, profile_ids: Iterable[int]) -> Audience:
        ids = list(profile_ids)
        allow: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        hide: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        provided: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        if ids:
            for row in session.scalars(select(TalentAudience).where(TalentAudience.profile_id.in_(ids))):
                (allow if row.kind == AUDIENCE_ALLOW else hide)[row.profile_id].add(row.organization_id)
            for profile_id, recipient_id in session.execute(
                select(TalentProvision.profile_id, TalentProvision.recipient_id).where(
                    TalentProvision.profile_id.in_(ids)
                )
            ):
                provided[profile_id].add(recipient_id)
        return cls(consents=active_consents(session, ids), allow=allow, hide=hide, provided=provided)

    def items_for(self, profile: TalentProfile, viewer: Actor | None, viewer_orgs: set[int]) -> list[str] | None:
        """The items ``viewer`` may see of ``profile``, or None when it is hidden from them."""
        if viewer is not None and viewer.account_id == profile.user_id:
            collected = _consent_items(self.consents[profile.id], notices.COLLECTION)
            return collected if collected is not None else list(notices.REQUIRED_ITEMS)
        if viewer is None:
            return None
        return self.items_for_organizations(profile, viewer_orgs)

    def items_for_organizations(self, profile: TalentProfile, viewer_orgs: set[int]) -> list[str] | None:
        """The items members of ``viewer_orgs`` may see (a signed-in viewer with no organization: empty set)."""
        # A member of an organization the person hides from never sees the profile, whatever else holds.
        if profile.suspended_at is not None or viewer_orgs & self.hide[profile.id]:
            return None
        seen: set[str] = set()
        consents = self.consents[profile.id]
        pool_items = _consent_items(consents, notices.POOL)
        if (
            pool_items is not None
            and profile.visibility != VISIBILITY_NOBODY
            and (profile.visibility == VISIBILITY_POOL or viewer_orgs & self.allow[profile.id])
        ):
            seen.update(pool_items)
        for org_id in viewer_orgs & self.provided[profile.id]:
            provision_items = _consent_items(consents, notices.PROVISION, org_id)
            if provision_items is not None:
                seen.update(provision_items)
        if not seen:
            return None
        return [item for item in notices.ALL_ITEMS if item in seen]


def visible_items(session: Session, viewer: Actor | None, profile: TalentProfile) -> list[str] | None:
    return Audience.load(session, [profile.id]).items_for(profile, viewer, _organization_ids_of(session, viewer))


def profile_by_public_id(session: Session, public_id: str) -> TalentProfile | None:
    return session.scalar(select(TalentProfile).where(TalentProfile.public_id == public_id))


def visible_profile(session: Session, viewer: Actor | None, public_id: str) -> tuple[TalentProfile, list[str]]:
    """The profile and the items ``viewer`` may see, or ProfileNotFoundError (404) when hidden."""
    profile = profile_by_public_id(session, public_id)
    items = visible_items(session, viewer, profile) if profile is not None else None
    if profile is None or items is None:
        raise ProfileNotFoundError(f"No talent profile '{public_id}'")
    return profile, items


def visible_profiles(session: Session, viewer: Actor | None) -> list[tuple[TalentProfile, list[str]]]:
    """Every profile ``viewer`` may see (pool listing and provisions to their organizations)."""
    if viewer is None:
        return []
    viewer_orgs = _organization_ids_of(session, viewer)
    candidates = list(
        session.scalars(
            select(TalentProfile)
            .where(TalentProfile.suspended_at.is_(None), TalentProfile.user_id != viewer.account_id)
            .order_by(TalentProfile.id)
        )
    )
    audience = Audience.load(session, [profile.id for profile in candidates])
    out = []
    for profile in candidates:
        items = audience.items_for(profile, viewer, viewer_orgs)
        if items is not None:
            out.append((profile, items))
    return out


def profile_json(profile: TalentProfile, items: Iterable[str], *, language: str | None = None) -> dict[str, Any]:
    """The items of ``profile`` named in ``items`` (and its pseudonymous id), as JSON."""
    wanted = set(items)
    out: dict[str, Any] = {"id": profile.public_id}
    if "name" in wanted:
        out["name"] = profile.name
    if "contact" in wanted:
        out["contact_email"] = profile.contact_email
    if "skills" in wanted:
        out["skills"] = [skill_json(code) for code in profile.skills]
    if "headline" in wanted:
        out["headline"] = profile.headline
    for item in ("keywords", "education", "career", "publications", "patents", "desired_roles", "places"):
        if item in wanted:
            out[item] = list(getattr(profile, item))
    if "earliest_start" in wanted:
        out["earliest_start"] = profile.earliest_start.isoformat() if profile.earliest_start else None
    if "service_status" in wanted:
        out["service_status"] = profile.service_status
        out["service_until"] = profile.service_until.isoformat() if profile.service_until else None
        constraints = []
        if profile.service_status == SERVICE_EXPERT_RESEARCH:
            constraints.append({"kind": SERVICE_EXPERT_RESEARCH, **SERVICE_CONSTRAINT})
        out["constraints"] = constraints
    if "former_team" in wanted:
        out["former_challenge"] = profile.former_challenge
        out["former_team"] = profile.former_team
    return out


def own_profile_json(session: Session, profile: TalentProfile) -> dict[str, Any]:
    """What the person sees about their own profile: items, choices, consents and state."""
    audience = {
        kind: sorted(
            name
            for name in session.scalars(
                select(Account.name)
                .join(TalentAudience, TalentAudience.organization_id == Account.id)
                .where(TalentAudience.profile_id == profile.id, TalentAudience.kind == kind)
            )
        )
        for kind in (AUDIENCE_ALLOW, AUDIENCE_HIDE)
    }
    return {
        **profile_json(profile, collected_items(session, profile)),
        "visibility": profile.visibility,
        "organizations": audience[AUDIENCE_ALLOW],
        "hidden_from": audience[AUDIENCE_HIDE],
        "automated_recommendation": profile.automated_recommendation,
        "suspended": profile.suspended_at is not None,
        "suspended_at": _iso(profile.suspended_at),
        "retain_until": _iso(profile.retain_until),
        "created_at": _iso(profile.created_at),
        "consents": [consent_json(session, row) for row in consent_history(session, profile, active_only=True)],
    }


def consent_history(session: Session, profile: TalentProfile, *, active_only: bool = False) -> list[TalentConsent]:
    query = select(TalentConsent).where(TalentConsent.profile_id == profile.id)
    if active_only:
        query = query.where(TalentConsent.withdrawn_at.is_(None))
    return list(session.scalars(query.order_by(TalentConsent.id)))


def consent_json(session: Session, row: TalentConsent) -> dict[str, Any]:
    return {
        "id": row.id,
        "purpose": row.purpose,
        "recipient": _account_name(session, row.recipient_id),
        "items": list(row.items),
        "notice_version": row.notice_version,
        "language": row.language,
        "granted_at": _iso(row.granted_at),
        "withdrawn_at": _iso(row.withdrawn_at),
    }


def _account_name(session: Session, account_id: int | None) -> str | None:
    account = session.get(Account, account_id) if account_id is not None else None
    return account.name if account is not None else None


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


# Provision (Art. 17).


def provide_profile(session: Session, actor: Actor, public_id: str, recipient: str) -> dict[str, Any]:
    """Provide a profile to a recipient organization: refused unless the person consented to that recipient.

    The person may do it (applying), or a member of the recipient organization (retrieving it).
    """
    recipient_account = _organization(session, recipient)
    profile = profile_by_public_id(session, public_id)
    if profile is None:
        raise ProfileNotFoundError(f"No talent profile '{public_id}'")
    is_owner = profile.user_id == actor.account_id
    if not is_owner:
        if (
            visible_items(session, actor, profile) is None
            and active_consent(session, profile, notices.PROVISION, recipient_account) is None
        ):
            raise ProfileNotFoundError(f"No talent profile '{public_id}'")
        accounts.require_namespace_role(session, actor, recipient_account, "write")
    if profile.suspended_at is not None:
        if is_owner:
            _require_active(profile)
        raise ProfileNotFoundError(f"No talent profile '{public_id}'")
    row = active_consent(session, profile, notices.PROVISION, recipient_account)
    if row is None:
        raise ConsentRequiredError(
            f"The person has not consented to provide their profile to '{recipient}'",
            hint=(
                f"Consent first: POST /api/talent/me/consents with purpose 'provision' and recipient '{recipient}'."
                if is_owner
                else "Only the person can consent to this (PIPA Art. 17); ask them through the talent pool."
            ),
        )
    session.add(
        TalentProvision(profile_id=profile.id, recipient_id=recipient_account.id, consent_id=row.id, items=row.items)
    )
    _log(session, profile, "provision", "profile provided to a consented recipient")
    session.flush()
    return {"recipient": recipient_account.name, "profile": profile_json(profile, row.items)}


def provided_profiles(session: Session, viewer: Actor, organization: str) -> list[dict[str, Any]]:
    """Profiles provided to ``organization`` whose consent still stands (for its members)."""
    org = _organization(session, organization)
    accounts.require_namespace_role(session, viewer, org, "read")
    rows = session.execute(
        select(TalentProfile, TalentConsent)
        .join(TalentConsent, TalentConsent.profile_id == TalentProfile.id)
        .where(
            TalentConsent.purpose == notices.PROVISION,
            TalentConsent.recipient_id == org.id,
            TalentConsent.withdrawn_at.is_(None),
            TalentProfile.suspended_at.is_(None),
            TalentProfile.id.in_(select(TalentProvision.profile_id).where(TalentProvision.recipient_id == org.id)),
        )
        .order_by(TalentProfile.id)
    ).all()
    return [profile_json(profile, row.items) for profile, row in rows]


# Export (Art. 35).


def export_profile(session: Session, user: Actor) -> dict[str, Any]:
    """Everything Baton's talent pool holds about the person, as one JSON document."""
    profile = find_profile(session, user)
    invitations = [
        invitation_json(row)
        for row in session.scalars(select(TalentInvitation).where(TalentInvitation.user_id == user.account_id))
    ]
    if profile is None:
        if not invitations:
            raise NoProfileError(f"'{user.name}' has no talent profile and no invitations")
        return {"account": user.name, "profile": None, "invitations": invitations}
    _log(session, profile, "access", "export of all data provided")
    session.flush()
    opening_titles = dict(session.execute(select(TalentOpening.id, TalentOpening.title)).all())
    return {
        "account": user.name,
        "exported_at": _iso(utcnow()),
        "profile": {
            **profile_json(profile, notices.ALL_ITEMS),
            "visibility": profile.visibility,
            "automated_recommendation": profile.automated_recommendation,
            "suspended_at": _iso(profile.suspended_at),
            "retain_until": _iso(profile.retain_until),
            "created_at": _iso(profile.created_at),
            "updated_at": _iso(profile.updated_at),
        },
        "settings": own_profile_json(session, profile),
        "consents": [consent_json(session, row) for row in consent_history(session, profile)],
        "provisions": [
            {
                "recipient": _account_name(session, row.recipient_id),
                "items": list(row.items),
                "provided_at": _iso(row.provided_at),
            }
            for row in session.scalars(select(TalentProvision).where(TalentProvision.profile_id == profile.id))
        ],
        "preferences": [
            {"opening": row.opening_id, "title": opening_titles.get(row.opening_id), "rank": row.rank}
            for row in session.scalars(
                select(TalentPersonPreference)
                .where(TalentPersonPreference.profile_id == profile.id)
                .order_by(TalentPersonPreference.rank)
            )
        ],
        "ranked_by_openings": [
            {"opening": row.opening_id, "title": opening_titles.get(row.opening_id), "rank": row.rank}
            for row in session.scalars(
                select(TalentOpeningPreference).where(TalentOpeningPreference.profile_id == profile.id)
            )
        ],
        "matches": [
            {"run": row.run_id, "opening": row.opening_id, "blocking_pair": row.blocking}
            for row in session.scalars(select(TalentMatch).where(TalentMatch.profile_id == profile.id))
        ],
        "reviews": [
            review_json(row)
            for row in session.scalars(select(TalentReview).where(TalentReview.profile_id == profile.id))
        ],
        "invitations": invitations,
        "placements": [
            {"opening": row.opening_id, "recorded_by": row.recorded_by, "month": row.placed_month}
            for row in session.scalars(select(TalentPlacement).where(TalentPlacement.profile_id == profile.id))
        ],
        "requests": request_log(session, profile),
    }


def request_log(session: Session, profile: TalentProfile) -> list[dict[str, Any]]:
    return [
        {
            "kind": row.kind,
            "received_at": _iso(row.received_at),
            "completed_at": _iso(row.completed_at),
            "outcome": row.outcome,
        }
        for row in session.scalars(
            select(TalentRequest).where(TalentRequest.profile_id == profile.id).order_by(TalentRequest.id)
        )
    ]


# Openings.


def _opening_skills(fields: OpeningFields, opening: TalentOpening | None) -> tuple[list[str], list[str]]:
    required = validate_skills(fields.required_skills) if fields.required_skills is not None else None
    preferred = validate_skills(fields.preferred_skills) if fields.preferred_skills is not None else None
    required = required if required is not None else (list(opening.required_skills) if opening else [])
    preferred = preferred if preferred is not None else (list(opening.preferred_skills) if opening else [])
    if not required:
        raise InvalidOpeningError(
            "An opening needs at least one required skill",
            hint="Give ACM CCS codes in required_skills; find them with GET /api/talent/skills?q=<words>.",
        )
    return required, [code for code in preferred if code not in required]


def _apply_opening(opening: TalentOpening, fields: OpeningFields) -> None:
    required, preferred = _opening_skills(fields, opening if opening.id else None)
    opening.required_skills, opening.preferred_skills = required, preferred
    for name in ("title", "description", "places", "location", "starts_on", "ends_on", "closes_on"):
        value = getattr(fields, name)
        if value is not None:
            setattr(opening, name, value)
    if not opening.title:
        raise InvalidOpeningError("An opening needs a title")
    if opening.starts_on and opening.ends_on and opening.ends_on < opening.starts_on:
        raise InvalidOpeningError("The opening ends before it starts", hint="Check starts_on and ends_on.")


def create_opening(session: Session, user: Actor, organization: str, fields: OpeningFields) -> TalentOpening:
    """Post an opening for ``organization`` (write or admin role there).

    There is deliberately no field to exclude another organization's people: agreements between
    employers not to hire each other's staff are unlawful; only the person can hide themselves.
    """
    org = _organization(session, organization)
    accounts.require_namespace_role(session, user, org, "write")
    now = utcnow()
    opening = TalentOpening(
        organization_id=org.id,
        title="",
        description="",
        places=1,
        location="",
        status=OPENING_OPEN,
        created_by_id=user.account_id,
        created_at=now,
        updated_at=now,
    )
    _apply_opening(opening, fields)
    session.add(opening)
    session.flush()
    return opening


def get_opening(session: Session, opening_id: int) -> TalentOpening:
    opening = session.get(TalentOpening, opening_id)
    if opening is None:
        raise OpeningNotFoundError(f"No opening {opening_id}")
    return opening


def writable_opening(session: Session, user: Actor, opening_id: int) -> TalentOpening:
    opening = get_opening(session, opening_id)
    org = session.get(Account, opening.organization_id)
    assert org is not None
    accounts.require_namespace_role(session, user, org, "write")
    return opening


def update_opening(session: Session, user: Actor, opening_id: int, fields: OpeningFields) -> TalentOpening:
    opening = writable_opening(session, user, opening_id)
    _apply_opening(opening, fields)
    opening.updated_at = utcnow()
    session.flush()
    return opening


def close_opening(session: Session, user: Actor, opening_id: int) -> TalentOpening:
    opening = writable_opening(session, user, opening_id)
    opening.status = OPENING_CLOSED
    opening.updated_at = utcnow()
    session.flush()
    return opening


def list_openings(
    session: Session, *, status: str | None = OPENING_OPEN, organization: str | None = None
) -> list[TalentOpening]:
    query = select(TalentOpening).order_by(TalentOpening.id)
    if status is not None:
        if status not in (OPENING_OPEN, OPENING_CLOSED):
            raise InvalidOpeningError(f"Unknown opening status '{status}'", hint="Use 'open' or 'closed'.")
        query = query.where(TalentOpening.status == status)
    if organization is not None:
        query = query.where(TalentOpening.organization_id == _organization(session, organization).id)
    return list(session.scalars(query))


def opening_json(session: Session, opening: TalentOpening) -> dict[str, Any]:
    org = session.get(Account, opening.organization_id)
    return {
        "id": opening.id,
        "organization": org.name if org else None,
        "title": opening.title,
        "description": opening.description,
        "required_skills": [skill_json(code) for code in opening.required_skills],
        "preferred_skills": [skill_json(code) for code in opening.preferred_skills],
        "places": opening.places,
        "location": opening.location,
        "starts_on": _iso(opening.starts_on),
        "ends_on": _iso(opening.ends_on),
        "closes_on": _iso(opening.closes_on),
        "status": opening.status,
        "created_at": _iso(opening.created_at),
    }


# Preferences (the person's and the opening owner's own ranked lists).


def set_person_preferences(session: Session, user: Actor, opening_ids: Sequence[int]) -> list[int]:
    """Replace the person's ranked list of openings; every id must name an open opening."""
    profile = own_profile(session, user)
    _require_active(profile)
    if len(set(opening_ids)) != len(opening_ids):
        raise InvalidProfileError("An opening appears twice in the preferences", hint="Name each opening once.")
    known = set(
        session.scalars(
            select(TalentOpening.id).where(
                TalentOpening.id.in_(list(opening_ids)), TalentOpening.status == OPENING_OPEN
            )
        )
    )
    unknown = [opening_id for opening_id in opening_ids if opening_id not in known]
    if unknown:
        raise UnknownOpeningsError(
            "These openings do not exist or are closed: " + ", ".join(str(opening_id) for opening_id in unknown)
        )
    session.execute(delete(TalentPersonPreference).where(TalentPersonPreference.profile_id == profile.id))
    for rank, opening_id in enumerate(opening_ids, start=1):
        session.add(TalentPersonPreference(profile_id=profile.id, opening_id=opening_id, rank=rank))
    _log(session, profile, "preferences", "preferences replaced")
    session.flush()
    return list(opening_ids)


def set_opening_preferences(session: Session, user: Actor, opening_id: int, public_ids: Sequence[str]) -> list[str]:
    """Replace an opening's ranked list of people: only people visible to its owner may be named."""
    opening = writable_opening(session, user, opening_id)
    if len(set(public_ids)) != len(public_ids):
        raise InvalidOpeningError("A person appears twice in the preferences", hint="Name each person once.")
    org_ids = {opening.organization_id}
    profiles = {
        profile.public_id: profile
        for profile in session.scalars(select(TalentProfile).where(TalentProfile.public_id.in_(list(public_ids))))
    }
    audience = Audience.load(session, [profile.id for profile in profiles.values()])
    unknown = [
        public_id
        for public_id in public_ids
        if public_id not in profiles or audience.items_for(profiles[public_id], user, org_ids) is None
    ]
    if unknown:
        raise ProfileNotFoundError(
            "No visible talent profiles: " + ", ".join(unknown),
            hint="Name only people listed to your organization (GET /api/talent/people).",
        )
    session.execute(delete(TalentOpeningPreference).where(TalentOpeningPreference.opening_id == opening.id))
    for rank, public_id in enumerate(public_ids, start=1):
        session.add(TalentOpeningPreference(opening_id=opening.id, profile_id=profiles[public_id].id, rank=rank))
    session.flush()
    return list(public_ids)


# Human review (Art. 37-2).


def request_review(session: Session, user: Actor, subject: str, message: str = "") -> TalentReview:
    profile = own_profile(session, user)
    subject = subject.strip()
    if not subject or len(subject) > 200:
        raise InvalidProfileError(
            "A review request needs a subject of 1 to 200 characters",
            hint="Say what should be reviewed, e.g. 'recommendations for opening 12'.",
        )
    review = TalentReview(profile_id=profile.id, subject=subject, message=message.strip()[:5000], status="open")
    session.add(review)
    _log(session, profile, "review", "human review requested")
    session.flush()
    return review


def _require_operator(user: Actor) -> None:
    user.require_operator("review talent recommendations or run matching")


def list_reviews(session: Session, operator: Actor, *, status: str | None = "open") -> list[TalentReview]:
    _require_operator(operator)
    query = select(TalentReview).order_by(TalentReview.id)
    if status is not None:
        query = query.where(TalentReview.status == status)
    return list(session.scalars(query))


def own_reviews(session: Session, user: Actor) -> list[TalentReview]:
    profile = own_profile(session, user)
    return list(session.scalars(select(TalentReview).where(TalentReview.profile_id == profile.id)))


def answer_review(session: Session, operator: Actor, review_id: int, answer: str) -> TalentReview:
    _require_operator(operator)
    review = session.get(TalentReview, review_id)
    if review is None:
        raise ReviewNotFoundError(f"No review request {review_id}")
    if not answer.strip():
        raise InvalidProfileError("The answer is empty", hint="Write the outcome of the human review.")
    review.answer = answer.strip()
    review.status = "answered"
    review.answered_at = utcnow()
    review.answered_by_id = operator.account_id
    session.flush()
    return review


def review_json(review: TalentReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "subject": review.subject,
        "message": review.message,
        "status": review.status,
        "created_at": _iso(review.created_at),
        "answer": review.answer,
        "answered_at": _iso(review.answered_at),
    }


def review_for_operator(session: Session, review: TalentReview) -> dict[str, Any]:
    """A queued review with what the operator needs to review the automated processing."""
    profile = session.get(TalentProfile, review.profile_id)
    assert profile is not None
    recommendation = active_consent(session, profile, notices.RECOMMENDATION)
    items = list(recommendation.items) if recommendation is not None else ["skills"]
    return {
        **review_json(review),
        "person": profile_json(profile, items),
        "automated_recommendation": profile.automated_recommendation,
    }


# Invitations from the challenge.


def on_team_exit(session: Session, runtime: Any, exit: TeamExit) -> None:
    """A team left for good: invite each of its people to opt in. Nothing else about them is recorded."""
    for name in exit.members:
        account = accounts.find_account(session, name)
        if account is None or account.kind != "user":
            continue
        exists = session.scalar(
            select(TalentInvitation.id).where(
                TalentInvitation.user_id == account.id,
                TalentInvitation.challenge == exit.challenge,
                TalentInvitation.team == exit.team,
            )
        )
        if exists is None:
            session.add(
                TalentInvitation(
                    user_id=account.id,
                    challenge=exit.challenge,
                    team=exit.team,
                    stage=exit.stage,
                    reason=exit.reason,
                    status="pending",
                )
            )
    session.flush()


def list_invitations(session: Session, user: Actor) -> list[TalentInvitation]:
    return list(
        session.scalars(
            select(TalentInvitation).where(TalentInvitation.user_id == user.account_id).order_by(TalentInvitation.id)
        )
    )


def _own_invitation(session: Session, user: Actor, invitation_id: int) -> TalentInvitation:
    invitation = session.get(TalentInvitation, invitation_id)
    if invitation is None or invitation.user_id != user.account_id:
        raise InvitationNotFoundError(f"No invitation {invitation_id} for '{user.name}'")
    return invitation


def accept_invitation(session: Session, user: Actor, invitation_id: int) -> TalentInvitation:
    """Opt in; the former team is attached to the profile only if the person consents to that item."""
    invitation = _own_invitation(session, user, invitation_id)
    invitation.status = "accepted"
    invitation.responded_at = utcnow()
    profile = find_profile(session, user)
    if profile is not None and "former_team" in collected_items(session, profile):
        profile.former_challenge, profile.former_team = invitation.challenge, invitation.team
    session.flush()
    return invitation


def decline_invitation(session: Session, user: Actor, invitation_id: int) -> None:
    """Declining deletes the invitation: nothing about the person is kept."""
    session.delete(_own_invitation(session, user, invitation_id))
    session.flush()


def invitation_json(invitation: TalentInvitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "challenge": invitation.challenge,
        "team": invitation.team,
        "stage": invitation.stage,
        "reason": invitation.reason,
        "status": invitation.status,
        "created_at": _iso(invitation.created_at),
        "message_ko": f"'{invitation.challenge}'의 '{invitation.team}' 팀 활동이 끝났습니다. 인력 풀에 참여해 "
        "후속 일자리를 찾으시겠습니까? 동의하기 전에는 어떤 정보도 공유되지 않습니다.",
        "message_en": f"Team '{invitation.team}' of '{invitation.challenge}' has ended. Would you like to join "
        "the talent pool to find a new place? Nothing about you is shared before you consent.",
    }


# Placements.


def _record_placement(
    session: Session, profile: TalentProfile, opening: TalentOpening | None, by: str
) -> TalentPlacement:
    collected = collected_items(session, profile)
    team = profile.former_team if "former_team" in collected else None
    challenge = profile.former_challenge if "former_team" in collected else None
    placement = session.scalars(select(TalentPlacement).where(TalentPlacement.profile_id == profile.id)).first()
    if placement is None:
        placement = TalentPlacement(profile_id=profile.id, recorded_by=by, placed_month="")
        session.add(placement)
    placement.opening_id = opening.id if opening else None
    placement.former_team, placement.former_challenge = team, challenge
    placement.recorded_by = by
    placement.placed_month = utcnow().strftime("%Y-%m")
    session.flush()
    return placement


def record_hire(session: Session, user: Actor, opening_id: int, public_id: str) -> TalentPlacement:
    """The opening's owner marks a person hired (the person must be visible to them)."""
    opening = writable_opening(session, user, opening_id)
    profile = profile_by_public_id(session, public_id)
    if profile is None or (
        Audience.load(session, [profile.id]).items_for(profile, user, {opening.organization_id}) is None
    ):
        raise ProfileNotFoundError(f"No talent profile '{public_id}'")
    return _record_placement(session, profile, opening, "owner")


def report_placement(session: Session, user: Actor, opening_id: int | None = None) -> TalentPlacement:
    """The person reports that they found a new place (through an opening or elsewhere)."""
    profile = own_profile(session, user)
    opening = get_opening(session, opening_id) if opening_id is not None else None
    placement = _record_placement(session, profile, opening, "person")
    _log(session, profile, "placement", "placement reported")
    return placement


def placements_by_team(session: Session, challenge: str | None = None) -> dict[str, int]:
    """How many people from each former team found a new place (for the commons catalogue)."""
    query = (
        select(TalentPlacement.former_team, func.count(TalentPlacement.id))
        .where(TalentPlacement.former_team.is_not(None))
        .group_by(TalentPlacement.former_team)
    )
    if challenge is not None:
        query = query.where(TalentPlacement.former_challenge == challenge)
    return {str(team): int(count) for team, count in session.execute(query).all()}
