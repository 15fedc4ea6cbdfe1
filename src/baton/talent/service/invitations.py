"""Invitations to the pool when a challenge team leaves for good."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.challenge.events import TeamLeft
from baton.core.database import utcnow
from baton.core.runtime import Runtime
from baton.talent.errors import InvitationNotFoundError
from baton.talent.models import TalentInvitation
from baton.talent.service.common import _iso, collected_items, find_profile


def invite_team(runtime: Runtime, exit: TeamLeft) -> dict[str, Any]:
    """Handler of ``challenge.team_left``: invite each of the team's people to opt in (once each).

    Nothing else about them is recorded. Idempotent: a person already invited for this team is skipped.
    """
    with runtime.database.session(write=True) as session:
        return {"invited": invite_members(session, exit)}


def invite_members(session: Session, exit: TeamLeft) -> int:
    """Add the pending invitations of a team that left; returns how many are new."""
    added = 0
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
            added += 1
    session.flush()
    return added


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
