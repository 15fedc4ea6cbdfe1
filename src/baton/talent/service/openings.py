"""Openings of organizations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.core.database import utcnow
from baton.talent.errors import InvalidOpeningError, OpeningNotFoundError
from baton.talent.models import OPENING_CLOSED, OPENING_OPEN, TalentOpening
from baton.talent.service.common import _iso, _organization, skill_json, validate_skills
from baton.talent.service.inputs import OpeningFields


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
