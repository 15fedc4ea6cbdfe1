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
from baton.hub import repos
from baton.talent import service as talent_service
from baton.variants import catalogue as variants_catalogue
from baton.web import templating
from baton.web.signin import PageUser

router = APIRouter(route_class=ExactRoute)


def catalogue(session: Session, user: Actor | None = None, *, challenge: str | None = None) -> dict[str, Any]:
    """The commons (``baton.commons.catalogue.catalogue``), each team with its ``placements``, each
    released model with its ``variants`` (size, speed, accuracy retained)."""
    data = commons_catalogue.catalogue(
        session, user, challenge=challenge, placements_of=talent_service.placements_by_team
    )
    for team in data["teams"]:
        for asset in team["assets"]:
            asset["variants"] = asset_variants(session, user, asset)
    return data


def asset_variants(session: Session, user: Actor | None, asset: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants of a released model the viewer may see, in the catalogue's short form."""
    if (
        asset.get("state") != "released"
        or asset.get("type") != "model"
        or not asset.get("url")
        or not asset.get("repo")
    ):
        return []
    repo = repos.find_repo(session, repos.parse_repo_id("model", str(asset["repo"])))
    if repo is None or (repo.private and not repos.has_role(session, user, repo, "read")):
        return []
    shown = []
    for variant in variants_catalogue.variants_of(session, user, repo):
        measured = variant["measurement"] or {}
        retained = measured.get("accuracy_retained") or {}
        ok = measured.get("status") == "ok"
        shown.append(
            {
                "id": variant["id"],
                "url": variant["url"],
                "kind": variant["kind"],
                "method": variant["method"],
                "runtime": variant["runtime"],
                "status": measured.get("status"),
                "file_size": measured.get("file_size") if ok else None,
                "base_file_size": measured.get("base_file_size") if ok else None,
                "tokens_per_second": measured.get("tokens_per_second") if ok else None,
                "speedup": measured.get("speedup") if ok else None,
                "accuracy": measured.get("variant_accuracy") if ok else None,
                "base_accuracy": measured.get("base_accuracy") if ok else None,
                "difference": retained.get("difference") if ok else None,
                "ci95": list(retained.get("ci95") or [None, None]) if ok else [None, None],
                "n_items": measured.get("n_items") if ok else None,
                "task": measured.get("task") if ok else None,
            }
        )
    return shown


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
