"""Groups who want to move together (couples, small teams of researchers), formed only by consent.

A person with a profile proposes a group naming one to four other people of the pool by their
profile id; the proposer is counted as having accepted, everyone else is ``invited``. Nobody is
grouped without agreeing: a group is *active* (and given to the matching as a group) only while
every member has accepted. Any member may leave at once (an invited member leaving is a refusal);
when someone leaves, a group of two or more that remains goes back to ``invited`` for everyone,
since each agreed to move with other people, and a group left with one member is deleted.

A proposal may name only profiles the proposer can see (``service.visible_profile``); an unknown,
hidden or suspended profile answers 404, exactly like a missing one. A person may belong to one
accepted group at a time (the matching puts each applicant in at most one group). Members see
each other's profile ids and answers only, never more of a profile than its visibility allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core.database import utcnow
from baton.talent import service
from baton.talent.errors import GroupConflictError, GroupNotFoundError, InvalidGroupError
from baton.talent.models import (
    GROUP_MEMBER_ACCEPTED,
    GROUP_MEMBER_INVITED,
    TalentGroup,
    TalentGroupMember,
    TalentProfile,
)

MAX_OTHERS = 4


def _members(session: Session, group_id: int) -> list[TalentGroupMember]:
    return list(
        session.scalars(
            select(TalentGroupMember).where(TalentGroupMember.group_id == group_id).order_by(TalentGroupMember.id)
        )
    )


def _accepted_group_of(session: Session, profile_id: int, *, besides: int | None = None) -> int | None:
    """A group (other than ``besides``) the person has accepted, if any."""
    query = select(TalentGroupMember.group_id).where(
        TalentGroupMember.profile_id == profile_id, TalentGroupMember.status == GROUP_MEMBER_ACCEPTED
    )
    if besides is not None:
        query = query.where(TalentGroupMember.group_id != besides)
    return session.scalars(query.limit(1)).first()


def _own_membership(session: Session, profile: TalentProfile, group_id: int) -> TalentGroupMember:
    row = session.scalar(
        select(TalentGroupMember).where(
            TalentGroupMember.group_id == group_id, TalentGroupMember.profile_id == profile.id
        )
    )
    if row is None:
        raise GroupNotFoundError(f"You are not in a group {group_id}")
    return row


def propose_group(session: Session, user: Actor, members: Sequence[str]) -> TalentGroup:
    """Propose moving together with ``members`` (profile ids); they are invited and must each accept."""
    profile = service.own_profile(session, user)
    service.require_active(profile)
    wanted = [member.strip() for member in members]
    if not wanted or len(wanted) > MAX_OTHERS:
        raise InvalidGroupError(f"A group names one to {MAX_OTHERS} other people, not {len(wanted)}")
    if len(set(wanted)) != len(wanted):
        raise InvalidGroupError("The group names someone twice")
    if profile.public_id in wanted:
        raise InvalidGroupError("Name the other people only: you are in the group already")
    if _accepted_group_of(session, profile.id) is not None:
        raise GroupConflictError("You already accepted another group")
    others = [service.visible_profile(session, user, public_id)[0] for public_id in wanted]  # 404 when hidden
    group = TalentGroup(created_at=utcnow())
    session.add(group)
    session.flush()
    now = utcnow()
    session.add(
        TalentGroupMember(
            group_id=group.id, profile_id=profile.id, status=GROUP_MEMBER_ACCEPTED, proposer=True, responded_at=now
        )
    )
    for other in others:
        session.add(TalentGroupMember(group_id=group.id, profile_id=other.id, status=GROUP_MEMBER_INVITED))
    session.flush()
    return group


def accept_group(session: Session, user: Actor, group_id: int) -> TalentGroup:
    """Agree to move together with the group's other members."""
    profile = service.own_profile(session, user)
    service.require_active(profile)
    row = _own_membership(session, profile, group_id)
    if _accepted_group_of(session, profile.id, besides=group_id) is not None:
        raise GroupConflictError("You already accepted another group")
    if row.status != GROUP_MEMBER_ACCEPTED:
        row.status = GROUP_MEMBER_ACCEPTED
        row.responded_at = utcnow()
    session.flush()
    group = session.get(TalentGroup, group_id)
    assert group is not None
    return group


def _remove_member(session: Session, row: TalentGroupMember) -> None:
    group_id = row.group_id
    session.delete(row)
    session.flush()
    remaining = _members(session, group_id)
    if len(remaining) < 2:
        session.execute(delete(TalentGroupMember).where(TalentGroupMember.group_id == group_id))
        session.execute(delete(TalentGroup).where(TalentGroup.id == group_id))
    else:
        for member in remaining:  # each agreed to move with different people: ask everyone again
            member.status = GROUP_MEMBER_INVITED
            member.responded_at = None
    session.flush()


def leave_group(session: Session, user: Actor, group_id: int) -> dict[str, Any]:
    """Leave a group (or refuse an invitation) at once; works while suspended too."""
    profile = service.own_profile(session, user)
    row = _own_membership(session, profile, group_id)
    _remove_member(session, row)
    remains = session.get(TalentGroup, group_id) is not None
    return {
        "left": True,
        "group": group_id,
        "message": "You left the group. "
        + (
            "The others must accept again before they are matched as a group."
            if remains
            else "The group had no one else left and was deleted."
        ),
    }


def forget_profile(session: Session, profile_id: int) -> None:
    """Take a destroyed profile out of every group (called by ``service.destroy_profile``)."""
    for row in list(session.scalars(select(TalentGroupMember).where(TalentGroupMember.profile_id == profile_id))):
        _remove_member(session, row)


def own_groups(session: Session, user: Actor) -> list[dict[str, Any]]:
    """The groups the person is in or invited to."""
    profile = service.own_profile(session, user)
    ids = session.scalars(
        select(TalentGroupMember.group_id)
        .where(TalentGroupMember.profile_id == profile.id)
        .order_by(TalentGroupMember.group_id)
    )
    out = []
    for group_id in list(ids):
        group = session.get(TalentGroup, group_id)
        if group is not None:
            out.append(group_json(session, group, profile))
    return out


def group_json(session: Session, group: TalentGroup, viewer: TalentProfile) -> dict[str, Any]:
    rows = session.execute(
        select(TalentGroupMember, TalentProfile.public_id)
        .join(TalentProfile, TalentProfile.id == TalentGroupMember.profile_id)
        .where(TalentGroupMember.group_id == group.id)
        .order_by(TalentGroupMember.id)
    ).all()
    mine = next((row for row, _pid in rows if row.profile_id == viewer.id), None)
    return {
        "id": group.id,
        "created_at": group.created_at.isoformat(),
        "active": len(rows) >= 2 and all(row.status == GROUP_MEMBER_ACCEPTED for row, _pid in rows),
        "my_status": mine.status if mine is not None else None,
        "members": [{"person": public_id, "status": row.status, "proposer": row.proposer} for row, public_id in rows],
    }


def active_groups(session: Session) -> list[list[int]]:
    """Profile ids of every group whose members (two or more) have all accepted, in group order."""
    by_group: dict[int, list[TalentGroupMember]] = {}
    for row in session.scalars(select(TalentGroupMember).order_by(TalentGroupMember.group_id, TalentGroupMember.id)):
        by_group.setdefault(row.group_id, []).append(row)
    return [
        [row.profile_id for row in rows]
        for rows in by_group.values()
        if len(rows) >= 2 and all(row.status == GROUP_MEMBER_ACCEPTED for row in rows)
    ]
