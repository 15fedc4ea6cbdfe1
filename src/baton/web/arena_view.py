"""What the arena page adds for the voter: their progress, and once voting closes, who was who.

The reveal names teams only as the ledger's published openings name them (``state_of``'s battles,
filled by ``commitments.revealed``); a battle whose opening is not published stays unnamed, and
nothing is revealed while the stage still votes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge import service
from baton.challenge.models import Battle, Vote


def _budget(session: Session, slug: str, stage: str) -> int | None:
    spec = service.spec_of(service.get_challenge(session, slug))
    arena = [c for c in service.stage_of(spec, stage).criteria if c.kind == "arena"]
    return arena[0].max_votes_per_voter if arena else None


def progress(session: Session, slug: str, stage: str, voter: Actor) -> dict[str, Any]:
    """Votes ``voter`` cast in the stage, and how many they may cast."""
    challenge = service.get_challenge(session, slug)
    cast = (
        session.scalar(
            select(func.count(Vote.id)).where(
                Vote.challenge_id == challenge.id, Vote.stage == stage, Vote.voter_id == voter.account_id
            )
        )
        or 0
    )
    return {"cast": int(cast), "budget": _budget(session, slug, stage)}


def reveal(session: Session, slug: str, stage: str, voter: Actor) -> list[dict[str, Any]]:
    """After voting closed: the battles ``voter`` judged, their choice, and the teams the ledger opened."""
    if not service.voting_closed(session, slug, stage):
        return []
    challenge = service.get_challenge(session, slug)
    opened = service.state_of(session, challenge).stage_data(stage).battles
    rows = session.execute(
        select(Battle.battle, Battle.prompt, Vote.choice)
        .join(Vote, Vote.battle_id == Battle.id)
        .where(Battle.challenge_id == challenge.id, Battle.stage == stage, Vote.voter_id == voter.account_id)
        .order_by(Vote.id)
    ).all()
    found = []
    for battle, prompt, choice in rows:
        shown = opened.get(battle)
        found.append(
            {
                "battle": battle,
                "prompt": prompt,
                "choice": choice,
                "team_a": shown.team_a if shown is not None else "",
                "team_b": shown.team_b if shown is not None else "",
            }
        )
    return found
