"""Preferences: the person's and the opening owner's own ranked lists (input to matching)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.talent.errors import InvalidOpeningError, InvalidProfileError, ProfileNotFoundError, UnknownOpeningsError
from baton.talent.models import (
    OPENING_OPEN,
    TalentOpening,
    TalentOpeningPreference,
    TalentPersonPreference,
    TalentProfile,
)
from baton.talent.service.common import _log, own_profile, require_active
from baton.talent.service.openings import writable_opening
from baton.talent.service.visibility import Audience


def set_person_preferences(session: Session, user: Actor, opening_ids: Sequence[int]) -> list[int]:
    """Replace the person's ranked list of openings; every id must name an open opening."""
    profile = own_profile(session, user)
    require_active(profile)
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
