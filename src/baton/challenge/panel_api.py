"""HTTP routes of a panel criterion: operators assign raters and import ratings; raters see their
assignments, declare conflicts of interest and rate. Thin: the checks live in ``service.panel``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from baton.accounts.http import OperatorUser, RequiredUser, ReviewUser
from baton.challenge import schemas, service
from baton.core.http import ExactRoute, RuntimeDep

router = APIRouter(prefix="/api/challenges", tags=["challenge"], route_class=ExactRoute)
PANEL = "/{slug}/stages/{stage}/panel"


class RatersBody(BaseModel):
    raters: list[str] = Field(min_length=1, max_length=1000)
    teams: list[str] | None = None  # every competing team when absent
    criterion: str | None = None


class ConflictBody(BaseModel):
    team: str
    rater: str | None = None  # an operator declaring for a rater; a rater declares for themselves


class RatingBody(BaseModel):
    team: str
    item: str | int
    score: int | float | None = None  # a single scale (whole points; checked by the service)
    scores: dict[str, Any] | None = None  # one entry per dimension
    criterion: str | None = None


class ImportBody(BaseModel):
    text: str = Field(min_length=1, max_length=20_000_000)
    format: Literal["csv", "jsonl"] = "csv"
    criterion: str | None = None


@router.post(PANEL + "/raters", status_code=201)
def assign_raters(
    slug: str, stage: str, body: RatersBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.PanelAssignment:
    from baton.accounts import service as accounts

    with runtime.database.session(write=True) as session:
        raters = [accounts.get_account(session, name) for name in body.raters]
        result = service.assign_raters(
            session, slug, stage, raters, operator=user, teams=body.teams, criterion=body.criterion
        )
        return schemas.PanelAssignment.model_validate(result)


@router.get(PANEL + "/assignments")
def rater_assignments(slug: str, stage: str, runtime: RuntimeDep, user: RequiredUser) -> schemas.RaterAssignments:
    with runtime.database.session() as session:
        return schemas.RaterAssignments.model_validate(service.panel_assignments_of(session, slug, stage, user))


@router.post(PANEL + "/conflicts", status_code=201)
def declare_conflict(
    slug: str, stage: str, body: ConflictBody, runtime: RuntimeDep, user: ReviewUser
) -> schemas.PanelConflict:
    from baton.accounts import service as accounts

    with runtime.database.session(write=True) as session:
        rater = None if body.rater is None else accounts.get_account(session, body.rater)
        result = service.declare_conflict(session, slug, stage, body.team, actor=user, rater=rater)
        return schemas.PanelConflict.model_validate(result)


@router.post(PANEL + "/ratings", status_code=201)
def rate(slug: str, stage: str, body: RatingBody, runtime: RuntimeDep, user: ReviewUser) -> schemas.PanelRating:
    with runtime.database.session(write=True) as session:
        result = service.rate(
            session,
            slug,
            stage,
            body.team,
            rater=user,
            item=body.item,
            score=body.score,
            scores=body.scores,
            criterion=body.criterion,
        )
        return schemas.PanelRating.model_validate(result)


@router.post(PANEL + "/ratings/import", status_code=201)
def import_ratings(
    slug: str, stage: str, body: ImportBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.RatingsImported:
    with runtime.database.session(write=True) as session:
        result = service.import_ratings(
            session, slug, stage, body.text, operator=user, fmt=body.format, criterion=body.criterion
        )
        return schemas.RatingsImported.model_validate(result)
