"""HTTP routes of the commons (held releases, resolutions, due releases) and of the decision report.

Thin: each route calls ``baton.commons.release`` or ``baton.challenge.report`` and returns JSON (or
CSV). The catalogue's routes (``GET /api/commons`` and the ``/commons`` page) show the talent
domain's placements too, so they live in the web layer (``baton.web.catalogue``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from baton.accounts.http import OperatorUser
from baton.challenge import report as reports
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


_REPORT_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The decision report: JSON (format=json), CSV or an HTML page",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}


@router.get(
    "/api/challenges/{challenge}/stages/{stage}/report",
    response_model=None,
    response_class=Response,
    responses=_REPORT_FORMATS,
)
def get_report(
    runtime: RuntimeDep,
    challenge: str,
    stage: str,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
    lang: Annotated[Literal["ko", "en"], Query()] = "en",
) -> Response:
    with runtime.database.session() as session:
        data = reports.load_report(session, challenge, stage)
    name = f"{challenge}-{stage}-decision"
    if format == "csv":
        return Response(
            reports.to_csv(data, lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "html":
        return Response(reports.render_html(data, lang), media_type="text/html; charset=utf-8")
    return Response(reports.to_json(data), media_type="application/json")
