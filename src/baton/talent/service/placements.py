"""Placements: who found a new place, counted per former team for the commons catalogue."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core.database import utcnow
from baton.talent.errors import ProfileNotFoundError
from baton.talent.models import TalentOpening, TalentPlacement, TalentProfile
from baton.talent.service.common import _log, collected_items, own_profile
from baton.talent.service.openings import get_opening, writable_opening
from baton.talent.service.visibility import Audience, profile_by_public_id


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
