"""Helpers every part of the challenge service shares: the clock, spec lookups, the row lock and
the ledger append, and the lookups of challenges, teams, decisions and submissions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.challenge import ledger, recompute
from baton.challenge.access import is_member
from baton.challenge.errors import (
    ChallengeNotFoundError,
    NotInStageError,
    StageNotFoundError,
    StageStateError,
    TeamNotFoundError,
)
from baton.challenge.models import Challenge, Decision, LedgerEntry, Submission, Team
from baton.challenge.review import conflicted
from baton.challenge.spec import ChallengeSpec, Stage, load_spec
from baton.core import clock
from baton.core.errors import PermissionDeniedError

# What an operator-only action is called when a non-operator is refused.
OPERATOR_ACTION = "act as the challenge's operator"


def _now(now: datetime | None) -> datetime:
    return clock.now() if now is None else now


def iso(moment: datetime) -> str:
    return clock.aware(moment).isoformat()


def spec_of(challenge: Challenge) -> ChallengeSpec:
    return load_spec(challenge.spec)


def stage_of(spec: ChallengeSpec, stage_id: str) -> Stage:
    try:
        return spec.stage(stage_id)
    except KeyError:
        ids = ", ".join(stage.id for stage in spec.stages)
        raise StageNotFoundError(f"No stage '{stage_id}' in {spec.challenge}", hint=f"Stages: {ids}.") from None


def _local(spec: ChallengeSpec, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(spec.timezone)).strftime(f"%Y-%m-%d %H:%M ({spec.timezone})")


def pseudonym_for(challenge: Challenge, name: str, role: str) -> str:
    digest = hashlib.sha256(f"{challenge.salt}:{role}:{name}".encode()).hexdigest()
    return f"{role}-{digest[:10]}"


def _lock(session: Session, slug: str) -> Challenge:
    """The challenge row, locked for the rest of the transaction (appends are serialized per challenge)."""
    challenge = session.scalar(
        select(Challenge).where(Challenge.slug == slug).with_for_update().execution_options(populate_existing=True)
    )
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge '{slug}'")
    return challenge


def _append(session: Session, challenge: Challenge, kind: str, payload: dict[str, Any], now: datetime) -> ledger.Event:
    previous = None
    if challenge.last_seq:
        previous = ledger.Event(challenge.last_seq, "", "", {}, "", challenge.head_hash)
    event = ledger.make_event(previous, kind, iso(now), payload)
    session.add(
        LedgerEntry(
            challenge_id=challenge.id,
            seq=event.seq,
            kind=event.kind,
            payload=ledger.canonical_json(event.payload),
            recorded_at=event.recorded_at,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )
    )
    challenge.last_seq = event.seq
    challenge.head_hash = event.hash
    session.flush()
    return event


def _event(entry: LedgerEntry) -> ledger.Event:
    import json

    return ledger.Event(
        entry.seq, entry.kind, entry.recorded_at, json.loads(entry.payload), entry.prev_hash, entry.hash
    )


def events_of(session: Session, challenge: Challenge) -> list[ledger.Event]:
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.challenge_id == challenge.id).order_by(LedgerEntry.seq)
    )
    return [_event(entry) for entry in entries]


def state_of(session: Session, challenge: Challenge) -> recompute.State:
    return recompute.replay(events_of(session, challenge))


def get_challenge(session: Session, slug: str) -> Challenge:
    challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge '{slug}'")
    return challenge


def get_challenge_by_id(session: Session, challenge_id: int) -> Challenge:
    challenge = session.get(Challenge, challenge_id)
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge {challenge_id}")
    return challenge


def _team(session: Session, challenge: Challenge, team: str) -> Team:
    found = session.scalar(select(Team).where(Team.challenge_id == challenge.id, Team.slug == team))
    if found is None:
        raise TeamNotFoundError(f"No team '{team}' in {challenge.slug}")
    return found


def _latest_decision(session: Session, challenge: Challenge, stage: str) -> Decision | None:
    return session.scalar(
        select(Decision)
        .where(Decision.challenge_id == challenge.id, Decision.stage == stage, Decision.superseded.is_(False))
        .order_by(Decision.id.desc())
    )


def participants(session: Session, challenge: Challenge, spec: ChallengeSpec, stage_id: str) -> list[str]:
    """Teams competing in a stage (same rule as ``recompute.participants``, from the projections)."""
    return sorted(stage_entries(session, challenge, spec, stage_id))


def stage_entries(
    session: Session, challenge: Challenge, spec: ChallengeSpec, stage_id: str
) -> dict[str, dict[str, Any]]:
    """How each team competing in a stage came into it (same rule as ``recompute.entries``)."""
    stage = stage_of(spec, stage_id)
    found: dict[str, dict[str, Any]] = {}
    if stage.is_repechage:
        for application in applications_of(session, challenge, stage_id):
            found[application["team"]] = {
                "via": "applied",
                "as": application.get("as", "new"),
                "eliminated_in": application.get("eliminated_in"),
            }
        return found
    entered = session.scalars(
        select(Team.slug).where(Team.challenge_id == challenge.id, Team.entered_stage == stage_id)
    ).all()
    found.update({team: {"via": "entered"} for team in entered})
    repechage = spec.repechage_before(stage_id)
    if repechage is not None:
        admitted = _latest_decision(session, challenge, repechage.id)
        for team in admitted.record["advance"] if admitted is not None else []:
            found[team] = {"via": "repechage", "stage": repechage.id}
    previous = spec.previous_regular(stage_id)
    if previous is not None:
        decided = _latest_decision(session, challenge, previous.id)
        for team in decided.record["advance"] if decided is not None else []:
            found[team] = {"via": "advanced", "stage": previous.id}
    return found


REPECHAGE_APPLIED = "repechage.applied"


def applications_of(session: Session, challenge: Challenge, stage_id: str) -> list[dict[str, Any]]:
    """A repechage's applications, oldest first, read from the ledger (their one record), each with its seq."""
    import json

    found = []
    for seq, payload, recorded_at in session.execute(
        select(LedgerEntry.seq, LedgerEntry.payload, LedgerEntry.recorded_at)
        .where(LedgerEntry.challenge_id == challenge.id, LedgerEntry.kind == REPECHAGE_APPLIED)
        .order_by(LedgerEntry.seq)
    ):
        application = json.loads(payload)
        if application.get("stage") == stage_id:
            found.append(application | {"seq": seq, "applied_at": recorded_at})
    return found


def _require_in_stage(session: Session, challenge: Challenge, spec: ChallengeSpec, stage: Stage, team: Team) -> None:
    if team.slug not in participants(session, challenge, spec, stage.id):
        raise NotInStageError(f"Team '{team.slug}' does not compete in {stage.id} of {challenge.slug}")


def _require_member(session: Session, team: Team, user: Actor) -> None:
    if user.is_operator:
        return
    if not is_member(session, team, user):
        raise PermissionDeniedError(
            f"'{user.name}' is not a member of team '{team.slug}'",
            hint="Team actions need a member of the team or of one of its organizations.",
        )


def current_submission(session: Session, challenge: Challenge, stage: str, team: Team) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.challenge_id == challenge.id,
            Submission.team_id == team.id,
            Submission.stage == stage,
            Submission.current.is_(True),
        )
    )


def _require_open(session: Session, challenge: Challenge, stage: str, what: str) -> None:
    """Inputs to a stage are taken until its decision is final (a re-decision may follow an upheld appeal)."""
    decision = _latest_decision(session, challenge, stage)
    if decision is not None and decision.final_at is not None:
        raise StageStateError(f"The decision of {stage} is final; no more {what} are taken")


def _conflicts(session: Session, person: Account | Actor, teams: Sequence[Team]) -> list[str]:
    account_id = person.account_id if isinstance(person, Actor) else person.id
    organizations = [org.name for org, _role in accounts.organizations_of(session, account_id)]
    shared: list[str] = []
    for team in teams:
        shared.extend(conflicted(organizations, team.organizations))
        if person.name in team.members:
            shared.append(f"member of {team.slug}")
    return sorted(set(shared))
