"""The listing's data as JSON: ``GET /api/web/models`` and ``GET /api/web/datasets``.

Exactly what the ``/models`` and ``/datasets`` pages show (``baton.web.listing.list_page``): the
page's repos with their counts and labels, the total, and the filter form's values with counts.
Anyone may call them; each viewer sees only the repos they may see.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from baton.accounts.actor import Actor
from baton.accounts.http import OptionalUser
from baton.core.http import ExactRoute, RuntimeDep
from baton.core.runtime import Runtime
from baton.hub.search import MAX_QUERY_CHARS
from baton.web import listing
from baton.web.listing import ListingPage

router = APIRouter(route_class=ExactRoute)

# Bounds at the edge; the service checks them again (with hints) for its other callers.
SearchText = Annotated[str | None, Query(max_length=4 * MAX_QUERY_CHARS, description="Words to search for")]
FilterValue = Annotated[str | None, Query(max_length=listing.MAX_FILTER_CHARS)]
Page = Annotated[int, Query(ge=1, le=listing.MAX_OFFSET + 1)]
PageSize = Annotated[int, Query(ge=1, le=listing.MAX_PAGE_SIZE)]
SortKey = Annotated[str | None, Query(max_length=20, description="One of " + ", ".join(listing.SORTS))]


def _answer(
    runtime: Runtime,
    user: Actor | None,
    repo_type: str,
    q: str | None,
    kind: str | None,
    license: str | None,
    team: str | None,
    stage: str | None,
    release: str | None,
    sort: str | None,
    page: int,
    page_size: int,
    facets: bool,
) -> ListingPage:
    with runtime.database.session() as session:
        return listing.list_page(
            session,
            user,
            repo_type,
            query=q,
            kind=kind,
            license=license,
            team=team,
            stage=stage,
            release=release,
            sort=sort,
            page=page,
            page_size=page_size,
            with_facets=facets,
        )


@router.get("/api/web/models")
def list_models(
    runtime: RuntimeDep,
    user: OptionalUser,
    q: SearchText = None,
    kind: FilterValue = None,
    license: FilterValue = None,
    team: FilterValue = None,
    stage: FilterValue = None,
    release: FilterValue = None,
    sort: SortKey = None,
    page: Page = 1,
    page_size: PageSize = listing.DEFAULT_PAGE_SIZE,
    facets: bool = True,
) -> ListingPage:
    """A page of the models listing (search, filters, sort, facets) for the caller."""
    return _answer(runtime, user, "model", q, kind, license, team, stage, release, sort, page, page_size, facets)


@router.get("/api/web/datasets")
def list_datasets(
    runtime: RuntimeDep,
    user: OptionalUser,
    q: SearchText = None,
    kind: FilterValue = None,
    license: FilterValue = None,
    team: FilterValue = None,
    stage: FilterValue = None,
    release: FilterValue = None,
    sort: SortKey = None,
    page: Page = 1,
    page_size: PageSize = listing.DEFAULT_PAGE_SIZE,
    facets: bool = True,
) -> ListingPage:
    """A page of the datasets listing (search, filters, sort, facets) for the caller."""
    return _answer(runtime, user, "dataset", q, kind, license, team, stage, release, sort, page, page_size, facets)
