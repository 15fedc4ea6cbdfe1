"""Constants and small helpers shared by the talent service modules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ORGANIZATION, Account
from baton.core import jobs
from baton.core.database import utcnow
from baton.talent import consent as notices
from baton.talent.errors import InvalidProfileError, NoProfileError, ProfileSuspendedError
from baton.talent.models import TalentConsent, TalentProfile, TalentRequest
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


def require_active(profile: TalentProfile) -> None:
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


def organization_ids_of(session: Session, user: Actor | None) -> set[int]:
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


def _account_name(session: Session, account_id: int | None) -> str | None:
    account = session.get(Account, account_id) if account_id is not None else None
    return account.name if account is not None else None


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None
