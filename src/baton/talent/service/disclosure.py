"""Provision to organizations (PIPA Art. 17) and the person's export of their data (Art. 35)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.core.database import utcnow
from baton.talent import consent as notices
from baton.talent.errors import ConsentRequiredError, NoProfileError, ProfileNotFoundError
from baton.talent.models import (
    TalentConsent,
    TalentInvitation,
    TalentMatch,
    TalentOpening,
    TalentOpeningPreference,
    TalentPersonPreference,
    TalentPlacement,
    TalentProfile,
    TalentProvision,
    TalentRequest,
    TalentReview,
)
from baton.talent.service.common import (
    _account_name,
    _iso,
    _log,
    _organization,
    active_consent,
    find_profile,
    require_active,
)
from baton.talent.service.invitations import invitation_json
from baton.talent.service.review import review_json
from baton.talent.service.visibility import (
    consent_history,
    consent_json,
    own_profile_json,
    profile_by_public_id,
    profile_json,
    visible_items,
)


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
            require_active(profile)
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


def record_export(session: Session, user: Actor) -> None:
    """The audit record of an export (Art. 35), written in its own short transaction before the read."""
    profile = find_profile(session, user)
    if profile is not None:
        _log(session, profile, "access", "export of all data provided")
        session.flush()


def export_profile(session: Session, user: Actor) -> dict[str, Any]:
    """Everything Baton's talent pool holds about the person, as one JSON document (reads only;
    :func:`record_export` writes its audit record)."""
    profile = find_profile(session, user)
    invitations = [
        invitation_json(row)
        for row in session.scalars(select(TalentInvitation).where(TalentInvitation.user_id == user.account_id))
    ]
    if profile is None:
        if not invitations:
            raise NoProfileError(f"'{user.name}' has no talent profile and no invitations")
        return {"account": user.name, "profile": None, "invitations": invitations}
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
