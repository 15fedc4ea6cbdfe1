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
    home,
    language,
    provenance_pages,
    signin,
    static,
    talent_pages,
)


def routers() -> list[APIRouter]:
    return [
        static.router,
        language.router,
        signin.router,
        api_docs.router,
        home.router,
        catalogue.router,
        challenge_pages.router,
        challenge_pages.downloads,
        talent_pages.router,
        provenance_pages.router,
    ]


# Matched before the lower domains' routers: /api/provenance/reports/{id}.html would otherwise be
# taken by the provenance domain's /api/provenance/reports/{id} (and refused: "5.html" is no id).
FIRST = (provenance_pages.router,)


def register(registry: Registry) -> None:
    for router in routers():
        registry.router(router, first=router in FIRST)
