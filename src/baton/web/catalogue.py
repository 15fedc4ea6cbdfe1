"""The commons catalogue as the site shows it: the commons' catalogue with the talent domain's placements.

``baton.commons.catalogue`` builds the catalogue without knowing the talent domain; this module passes
it the talent domain's count of the people from each former team who found a new place
(``placements_by_team``), and serves the result: ``GET /api/commons`` (JSON) and the ``/commons`` page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.http import OptionalUser
from baton.commons import catalogue as commons_catalogue
from baton.commons import schemas as commons_schemas
from baton.core.http import ExactRoute, RuntimeDep
from baton.talent import service as talent_service
from baton.web import templating
from baton.web.signin import PageUser

router = APIRouter(route_class=ExactRoute)


def catalogue(session: Session, user: Actor | None = None, *, challenge: str | None = None) -> dict[str, Any]:
    """The commons (``baton.commons.catalogue.catalogue``), each team with its ``placements``."""
    return commons_catalogue.catalogue(
        session, user, challenge=challenge, placements_of=talent_service.placements_by_team
    )


@router.get("/api/commons", name="get_commons")
def get_commons(runtime: RuntimeDep, user: OptionalUser, challenge: str | None = None) -> commons_schemas.Catalogue:
    with runtime.database.session() as session:
        return commons_schemas.Catalogue.model_validate(catalogue(session, user, challenge=challenge))


@router.get("/commons", name="commons_page", response_class=HTMLResponse, include_in_schema=False)
def commons_page(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    with runtime.database.session() as session:
        data = catalogue(session, user, challenge=challenge)
    return templating.render_page(request, "commons.html", viewer=user.name if user else None, data=data)
