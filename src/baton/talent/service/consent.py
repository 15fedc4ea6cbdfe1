"""Consent: granting and withdrawing consent per purpose (and recipient, for provision)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.core.database import utcnow
from baton.core.errors import NotFoundError
from baton.talent import consent as notices
from baton.talent.errors import InvalidConsentError
from baton.talent.models import AUDIENCE_HIDE, VISIBILITY_NOBODY, TalentAudience, TalentConsent, TalentProfile
from baton.talent.service.common import (
    _log,
    _organization,
    active_consent,
    active_consents,
    collected_items,
    own_profile,
)
from baton.talent.service.profiles import _adopt_former_team, _erase_item


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
