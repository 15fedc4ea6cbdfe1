"""HTTP routes of the commons: held releases, resolutions, due releases.

Thin: each route calls ``baton.commons.release`` and returns JSON. The catalogue's routes
(``GET /api/commons`` and the ``/commons`` page) show the talent domain's placements too, so they
live in the web layer (``baton.web.catalogue``), and so does the decision report's download route,
whose HTML form is the report's page (``baton.web.challenge_pages``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from baton.accounts.http import OperatorUser
from baton.commons import release, schemas
from baton.core.http import DbId, ExactRoute, RuntimeDep

router = APIRouter(route_class=ExactRoute)


class Resolution(BaseModel):
    resolution: Literal["accept", "cleaned"]
    reason: str = Field(min_length=1, max_length=4000)


@router.get("/api/commons/held")
def get_held(runtime: RuntimeDep, user: OperatorUser, challenge: str | None = None) -> list[schemas.ReleaseItem]:
    with runtime.database.session() as session:
        return [schemas.ReleaseItem.model_validate(item) for item in release.held_items(session, challenge)]


@router.get("/api/commons/actions")
def get_actions(
    runtime: RuntimeDep, user: OperatorUser, challenge: str, team: str | None = None
) -> list[schemas.Action]:
    with runtime.database.session() as session:
        return [schemas.Action.model_validate(action) for action in release.actions_of(session, challenge, team)]


@router.post("/api/commons/findings/{finding_id}/resolve")
def resolve(runtime: RuntimeDep, user: OperatorUser, finding_id: DbId, body: Resolution) -> schemas.ReleaseItem:
    with runtime.database.session(write=True) as session:
        item = release.resolve_finding(
            session, runtime, finding_id, user, resolution=body.resolution, reason=body.reason
        )
        return schemas.ReleaseItem.model_validate(release.item_json(session, item))


@router.post("/api/commons/release-due")
def post_release_due(runtime: RuntimeDep, user: OperatorUser) -> schemas.ReleaseDue:
    items = release.release_due(runtime)  # checks read outside the write transaction
    with runtime.database.session() as session:
        return schemas.ReleaseDue.model_validate(
            {"items": [release.item_json(session, item, with_findings=False) for item in items]}
        )
