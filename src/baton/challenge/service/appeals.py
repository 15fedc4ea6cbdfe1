"""Appeals against a stage's decision, and the operator's answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.errors import AppealError
from baton.challenge.models import Appeal, Team
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _latest_decision,
    _local,
    _lock,
    _now,
    _require_member,
    _team,
    get_challenge,
    iso,
    spec_of,
    stage_of,
)
from baton.core.errors import BadRequestError, ConflictError, NotFoundError


def appeal_json(session: Session, appeal: Appeal) -> dict[str, Any]:
    team = session.get(Team, appeal.team_id)
    return {
        "id": appeal.id,
        "stage": appeal.stage,
        "team": team.slug if team else None,
        "filed_by": appeal.filed_by,
        "text": appeal.text,
        "filed_at": iso(appeal.filed_at),
        "answer": appeal.answer,
        "upheld": appeal.upheld,
        "answered_by": appeal.answered_by,
        "answered_at": None if appeal.answered_at is None else iso(appeal.answered_at),
    }


def list_appeals(session: Session, slug: str, stage: str | None = None) -> list[dict[str, Any]]:
    """The appeals (as ``appeal_json`` dicts), oldest first."""
    return [appeal_json(session, appeal) for appeal in _appeal_rows(session, slug, stage)]


def _appeal_rows(session: Session, slug: str, stage: str | None = None) -> list[Appeal]:
    challenge = get_challenge(session, slug)
    query = select(Appeal).where(Appeal.challenge_id == challenge.id)
    if stage is not None:
        query = query.where(Appeal.stage == stage)
    return list(session.scalars(query.order_by(Appeal.id)))


def file_appeal(
    session: Session, slug: str, stage: str, team: str, *, text: str, user: Actor, now: datetime | None = None
) -> Appeal:
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_of(spec, stage)
    row = _team(session, challenge, team)
    _require_member(session, row, user)
    decision = _latest_decision(session, challenge, stage)
    if decision is None:
        raise AppealError(f"{stage} is not decided yet; there is nothing to appeal")
    if decision.final_at is not None or moment > decision.appeal_deadline:
        raise AppealError(f"The appeal window of {stage} closed at {_local(spec, decision.appeal_deadline)}")
    if team not in {entry["team"] for entry in decision.record["teams"]}:
        raise AppealError(f"Team '{team}' did not compete in {stage}")
    if not text.strip():
        raise BadRequestError("An appeal needs a text saying what is contested and why")
    appeal = Appeal(
        challenge_id=challenge.id, stage=stage, team_id=row.id, filed_by=user.name, text=text.strip(), filed_at=moment
    )
    session.add(appeal)
    session.flush()
    _append(
        session,
        challenge,
        "appeal.filed",
        {
            "appeal": str(appeal.id),
            "stage": stage,
            "team": team,
            "by": user.name,
            "text": appeal.text,
            "decision_seq": decision.seq,
        },
        moment,
    )
    return appeal


def answer_appeal(
    session: Session,
    slug: str,
    appeal_id: int,
    *,
    answer: str,
    upheld: bool,
    operator: Actor,
    now: datetime | None = None,
) -> Appeal:
    """Answer an appeal. An upheld appeal is acted on by the operator (an override, a score) and a new decision."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.challenge_id != challenge.id:
        raise NotFoundError(f"No appeal {appeal_id} in {slug}")
    if appeal.answered_at is not None:
        raise ConflictError(f"Appeal {appeal_id} is answered already")
    if not answer.strip():
        raise BadRequestError("An answer needs a text", hint="The answer is published beside the appeal.")
    appeal.answer = answer.strip()
    appeal.upheld = bool(upheld)
    appeal.answered_by = operator.name
    appeal.answered_at = moment
    _append(
        session,
        challenge,
        "appeal.answered",
        {
            "appeal": str(appeal.id),
            "stage": appeal.stage,
            "answer": appeal.answer,
            "upheld": bool(upheld),
            "by": operator.name,
        },
        moment,
    )
    return appeal
