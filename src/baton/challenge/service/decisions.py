"""Decisions and finality: deciding a stage, its record, and making decisions final (with team exits)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge import recompute
from baton.challenge.errors import GatePendingError, StageStateError
from baton.challenge.events import TeamLeft
from baton.challenge.models import Appeal, Challenge, Decision, Team
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _latest_decision,
    _local,
    _lock,
    _now,
    _team,
    current_submission,
    get_challenge,
    iso,
    participants,
    spec_of,
    stage_of,
    state_of,
)
from baton.challenge.service.appeals import list_appeals
from baton.challenge.service.gates import check_gate, gate_standing
from baton.challenge.service.panel import raters_short, record_affiliation_conflicts
from baton.challenge.service.repechage import readmit
from baton.challenge.service.sealed_names import _reveal_battles, _reveal_public
from baton.challenge.spec import ChallengeSpec, Stage
from baton.core import events
from baton.core.errors import NotFoundError
from baton.core.runtime import Runtime


def decide(
    session: Session, runtime: Runtime | None, slug: str, stage: str, *, operator: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Compute and record the stage's decision from the ledger (the same code ``verify`` reruns)."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    index = spec.stage_index(stage)
    if index > 0:
        previous = _latest_decision(session, challenge, spec.stages[index - 1].id)
        if previous is None or previous.final_at is None:
            raise StageStateError(f"Decide {stage} once the decision of {spec.stages[index - 1].id} is final")
    current = _latest_decision(session, challenge, stage)
    if current is not None and current.final_at is not None:
        raise StageStateError(f"The decision of {stage} is final and cannot be redone")
    if moment < stage_spec.deadline:
        raise StageStateError(
            f"{stage} takes submissions until {_local(spec, stage_spec.deadline)}; decide after the deadline"
        )
    teams = participants(session, challenge, spec, stage)
    _check_field(spec, stage_spec, teams)
    pending: list[str] = []
    for team_slug in teams:
        team = _team(session, challenge, team_slug)
        for gate in stage_spec.gates:
            if gate.kind == "threshold":
                continue  # computed by the decision itself
            standing = gate_standing(session, challenge, stage, gate.id, team)
            if standing is None and current_submission(session, challenge, stage, team) is not None:
                standing = check_gate(
                    session,
                    slug,
                    stage,
                    team_slug,
                    operator=operator,
                    gate=gate.id,
                    now=moment,
                    store=None if runtime is None else runtime.store,
                )
            if standing is None:
                pending.append(f"{team_slug} ({gate.id}: no submission to check)")
            elif standing.outcome == "inconclusive":
                pending.append(f"{team_slug} ({gate.id}: {standing.reason})")
    if pending:
        raise GatePendingError(f"Gates of {stage} await an operator: " + "; ".join(pending))
    record_affiliation_conflicts(session, slug, stage, now=moment)  # a panel rater affiliated since assignment
    state = state_of(session, challenge)
    reviews = state.stage_data(stage).reviews
    short: list[str] = []
    for criterion in stage_spec.criteria:
        if criterion.kind != "review":
            continue
        for team_slug in teams:
            count = sum(1 for (crit, tm, _r) in reviews if crit == criterion.id and tm == team_slug)
            if count < criterion.min_reviewers:
                short.append(f"{team_slug} has {count} of {criterion.min_reviewers} reviews for {criterion.id}")
    if short:
        raise StageStateError("Reviews are missing: " + "; ".join(short), hint="Assign reviewers and collect scores.")
    short = raters_short(state, stage_spec, teams)
    if short:
        raise StageStateError(
            "Ratings are missing: " + "; ".join(short),
            hint="Assign raters (baton challenge panel-assign SLUG STAGE --rater NAME --as OPERATOR) and collect "
            "their ratings (baton challenge rate, or baton challenge import-ratings SLUG STAGE FILE).",
        )
    # Deciding closes the stage's voting (``record_vote`` refuses from now on): open the battles, so
    # the decision is computed from, and verifiable against, the revealed teams and answers.
    revealed = _reveal_battles(session, challenge, stage, moment)
    if revealed is not None:
        recompute.apply(state, revealed)
    seed = stage_spec.seed if stage_spec.seed is not None else secrets.randbits(31)
    seed_event = _append(
        session,
        challenge,
        "seed.drawn",
        {"stage": stage, "seed": seed, "source": "spec" if stage_spec.seed is not None else "drawn"},
        moment,
    )
    recompute.apply(state, seed_event)  # the state now holds every event up to the head
    record = recompute.compute_decision(
        state, stage, seed=seed, decided_at=iso(moment), head=challenge.head_hash, head_seq=challenge.last_seq
    )
    event = _append(session, challenge, "decision.made", {"stage": stage, "record": record}, moment)
    if current is not None:
        current.superseded = True
    session.add(
        Decision(
            challenge_id=challenge.id,
            stage=stage,
            seq=event.seq,
            record=record,
            decided_at=moment,
            appeal_deadline=datetime.fromisoformat(record["appeal_deadline"]),
        )
    )
    session.flush()
    return record


def _check_field(spec: ChallengeSpec, stage: Stage, teams: Sequence[str]) -> None:
    """The number of competing teams against the YAML: ``advance: N`` needs N of them; a later stage
    takes at most ``teams`` (which, with the rule form or a repechage, is checked here, not in the YAML)."""
    if stage.advance is not None and len(teams) < stage.advance:
        raise StageStateError(
            f"{stage.id} advances {stage.advance} teams but only {len(teams)} compete in it",
            hint="Admit teams (repechage) or lower 'advance' in a new version of the challenge YAML.",
        )
    if not stage.is_repechage and spec.stage_index(stage.id) > 0 and len(teams) > stage.teams:
        raise StageStateError(
            f"{len(teams)} teams compete in {stage.id} but it takes {stage.teams}: {', '.join(teams)}",
            hint="Raise 'teams' of the stage in a new version of the challenge YAML, or decide the repechage "
            "before it again.",
        )


def decision_record(session: Session, slug: str, stage: str) -> dict[str, Any]:
    """The stage's current decision with its finality and appeals."""
    challenge = get_challenge(session, slug)
    stage_of(spec_of(challenge), stage)
    decision = _latest_decision(session, challenge, stage)
    if decision is None:
        raise NotFoundError(f"{stage} of {slug} is not decided yet", hint="An operator decides after the deadline.")
    appeals = list_appeals(session, slug, stage)
    return decision.record | {
        "seq": decision.seq,
        "final": decision.final_at is not None,
        "final_at": None if decision.final_at is None else iso(decision.final_at),
        "appeals": appeals,
    }


def _leave(team: Team, stage: str, reason: str) -> dict[str, Any]:
    """Project a team's exit (its status); ``_publish_exits`` announces it."""
    team.status = "eliminated" if reason == "eliminated" else "ended"
    team.exit_stage = stage
    return {"team": team.slug, "reason": reason}


def _publish_exits(
    session: Session, challenge: Challenge, leaving: Sequence[tuple[Team, str, str]], moment: datetime
) -> None:
    """Publish a ``TeamLeft`` for each (team, stage, reason), in this transaction (``baton.core.events``)."""
    session.flush()
    for team, stage, reason in leaving:
        events.publish(
            session,
            TeamLeft(
                challenge=challenge.slug,
                team=team.slug,
                stage=stage,
                reason=reason,
                at=moment,
                organizations=tuple(team.organizations),
                members=tuple(team.members),
            ),
        )


def due(session: Session, now: datetime | None = None) -> bool:
    """Whether some decision waits to become final (cheap; lets readers skip a write transaction)."""
    moment = _now(now)
    rows = session.scalars(
        select(Decision).where(
            Decision.final_at.is_(None), Decision.superseded.is_(False), Decision.appeal_deadline <= moment
        )
    ).all()
    return any(_open_appeals(session, row) == 0 for row in rows)


def _open_appeals(session: Session, decision: Decision) -> int:
    return (
        session.scalar(
            select(func.count(Appeal.id)).where(
                Appeal.challenge_id == decision.challenge_id,
                Appeal.stage == decision.stage,
                Appeal.answered_at.is_(None),
            )
        )
        or 0
    )


def finalize_due(session: Session, now: datetime | None = None) -> list[tuple[str, str]]:
    """Make final every decision whose appeal window has closed with all its appeals answered.

    For each team eliminated there a ``TeamLeft`` event is published in this transaction (the
    commons runs its release plan, the talent pool invites its people, as jobs); after the last
    stage the remaining teams leave with reason ``challenge_ended``.
    """
    moment = _now(now)
    finalized: list[tuple[str, str]] = []
    candidates = session.execute(
        select(Challenge.slug, Decision.stage)
        .join(Decision, Decision.challenge_id == Challenge.id)
        .where(Decision.final_at.is_(None), Decision.superseded.is_(False), Decision.appeal_deadline <= moment)
        .order_by(Challenge.slug, Decision.id)
    ).all()
    for slug, stage in candidates:
        challenge = _lock(session, slug)
        decision = _latest_decision(session, challenge, stage)
        if decision is None or decision.final_at is not None or decision.appeal_deadline > moment:
            continue
        if _open_appeals(session, decision):
            continue
        spec = spec_of(challenge)
        leaving: list[tuple[Team, str, str]] = []
        for team_slug in decision.record["eliminated"]:
            team = _team(session, challenge, team_slug)
            if team.status == "active":
                leaving.append((team, stage, "eliminated"))
        exits = [_leave(team, team_stage, reason) for team, team_stage, reason in leaving]
        back = readmit(session, challenge, decision.record) if stage_of(spec, stage).is_repechage else []
        session.flush()
        decision.final_at = moment
        last = spec.stages[-1].id == stage
        if last:
            for team in list(
                session.scalars(
                    select(Team).where(Team.challenge_id == challenge.id, Team.status == "active").order_by(Team.slug)
                )
            ):
                leaving.append((team, stage, "challenge_ended"))
                exits.append(_leave(team, stage, "challenge_ended"))
        _append(
            session,
            challenge,
            "decision.final",
            {"stage": stage, "decision_seq": decision.seq, "final_at": iso(moment), "exits": exits}
            | ({"readmitted": back} if back else {}),
            moment,
        )
        # The exits' consequences (release plans, invitations) are events, stored with the finality
        # they stem from and carried out by jobs; each release action reveals what it makes public.
        _publish_exits(session, challenge, leaving, moment)
        _reveal_public(session, challenge, stage, "decision_final", moment)
        if last:
            challenge.ended_at = moment
            _append(session, challenge, "challenge.ended", {"stage": stage, "at": iso(moment)}, moment)
        finalized.append((slug, stage))
    return finalized
