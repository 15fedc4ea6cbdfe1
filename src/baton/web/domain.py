"""What the web layer brings: the site's pages, its static files and the answers that combine domains.

``routers()`` lists them; ``register`` adds them to the registry, and ``baton.web.templating`` names
paths from the same list when a page is drawn without a request. Each route is declared in
``baton.access``.
"""

from __future__ import annotations

from fastapi import APIRouter

from baton.core.registry import Registry
from baton.web import (
    api_docs,
    catalogue,
    challenge_pages,
    challenge_public,
    home,
    language,
    listing_api,
    listing_pages,
    operator_pages,
    provenance_pages,
    repo_pages,
    settings_pages,
    signin,
    static,
    talent_pages,
    workspace_pages,
)


def routers() -> list[APIRouter]:
    """The web layer's routers matched in registration order (``CATCH_ALL`` comes after everyone's)."""
    return [
        static.router,
        language.router,
        signin.router,
        settings_pages.router,
        api_docs.router,
        home.router,
        catalogue.router,
        listing_api.router,
        listing_pages.router,
        challenge_pages.router,
        challenge_pages.downloads,
        challenge_public.router,
        talent_pages.router,
        provenance_pages.router,
        workspace_pages.router,
        operator_pages.router,
    ]


# Matched before the lower domains' routers: /api/provenance/reports/{id}.html would otherwise be
# taken by the provenance domain's /api/provenance/reports/{id} (and refused: "5.html" is no id).
FIRST = (provenance_pages.router,)

# Matched after every other route of the site, the hub's download routes included: the repo pages
# (``/{namespace}/{name}/...``, ``/datasets/...``), then a single name (``/{account}``), last of all.
CATCH_ALL = (repo_pages.router, repo_pages.account_router)


def register(registry: Registry) -> None:
    for router in routers():
        registry.router(router, first=router in FIRST)
    for router in CATCH_ALL:
        registry.router(router, fallback=True)
