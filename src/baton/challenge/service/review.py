"""Expert review: reviewer assignments (with conflict-of-interest checks) and their scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.models import USER, Account
from baton.challenge.errors import ConflictOfInterestError
from baton.challenge.models import ReviewerAssignment, Team
from baton.challenge.review import RubricError, check_scores
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _conflicts,
    _lock,
    _now,
    _require_in_stage,
    _require_open,
    _team,
    get_challenge,
    pseudonym_for,
    spec_of,
    stage_of,
)
from baton.challenge.spec import Criterion, Stage
from baton.core.errors import BadRequestError, PermissionDeniedError


def review_criterion(stage: Stage, criterion: str | None) -> Criterion:
    reviews = [c for c in stage.criteria if c.kind == "review"]
    if not reviews:
        raise BadRequestError(f"{stage.id} has no expert review criterion")
    if criterion is None:
        return reviews[0]
    for candidate in reviews:
        if candidate.id == criterion:
            return candidate
    raise BadRequestError(f"'{criterion}' is not a review criterion of {stage.id}")


def assign_reviewer(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    reviewer: Account,
    *,
    operator: Actor,
    now: datetime | None = None,
) -> ReviewerAssignment:
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    review_criterion(stage_spec, None)
    row = _team(session, challenge, team)
    _require_in_stage(session, challenge, spec, stage_spec, row)
    if reviewer.kind != USER:
        raise BadRequestError(f"'{reviewer.name}' is an organization; reviewers are people")
    shared = _conflicts(session, reviewer, [row])
    if shared:
        raise ConflictOfInterestError(
            f"Reviewer '{reviewer.name}' cannot review team '{team}': affiliated through {', '.join(shared)}"
        )
    existing = session.scalar(
        select(ReviewerAssignment).where(
            ReviewerAssignment.challenge_id == challenge.id,
            ReviewerAssignment.stage == stage,
            ReviewerAssignment.team_id == row.id,
            ReviewerAssignment.reviewer_id == reviewer.id,
        )
    )
    if existing is not None:
        return existing
    assignment = ReviewerAssignment(
        challenge_id=challenge.id,
        stage=stage,
        team_id=row.id,
        reviewer_id=reviewer.id,
        pseudonym=pseudonym_for(challenge, reviewer.name, "reviewer"),
    )
    session.add(assignment)
    session.flush()
    _append(
        session,
        challenge,
        "reviewer.assigned",
        {"stage": stage, "team": team, "reviewer": assignment.pseudonym, "operator": operator.name},
        moment,
    )
    return assignment


def assignments_of(session: Session, slug: str, stage: str, reviewer: Actor) -> list[Team]:
    challenge = get_challenge(session, slug)
    return list(
        session.scalars(
            select(Team)
            .join(ReviewerAssignment, ReviewerAssignment.team_id == Team.id)
            .where(
                ReviewerAssignment.challenge_id == challenge.id,
                ReviewerAssignment.stage == stage,
                ReviewerAssignment.reviewer_id == reviewer.account_id,
            )
            .order_by(Team.slug)
        )
    )


def record_review(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    reviewer: Actor,
    scores: dict[str, Any],
    comment: str = "",
    criterion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    rubric = review_criterion(stage_spec, criterion)
    row = _team(session, challenge, team)
    _require_open(session, challenge, stage, "reviews")
    shared = _conflicts(session, reviewer, [row])
    if shared:
        raise ConflictOfInterestError(
            f"Reviewer '{reviewer.name}' is excluded from team '{team}': affiliated through {', '.join(shared)}"
        )
    assignment = session.scalar(
        select(ReviewerAssignment).where(
            ReviewerAssignment.challenge_id == challenge.id,
            ReviewerAssignment.stage == stage,
            ReviewerAssignment.team_id == row.id,
            ReviewerAssignment.reviewer_id == reviewer.account_id,
        )
    )
    if assignment is None:
        raise PermissionDeniedError(
            f"'{reviewer.name}' is not assigned to review team '{team}' in {stage}",
            hint="An operator assigns reviewers (POST /api/challenges/<slug>/stages/<stage>/reviewers).",
        )
    try:
        checked = check_scores(rubric, scores)
    except RubricError as error:
        raise BadRequestError(str(error), hint="Give every rubric item a score between 0 and its max.") from None
    payload = {
        "stage": stage,
        "criterion": rubric.id,
        "team": team,
        "reviewer": assignment.pseudonym,
        "scores": checked,
        "comment": comment,
    }
    _append(session, challenge, "review.recorded", payload, moment)
    return payload
