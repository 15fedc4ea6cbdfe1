"""What the web layer brings: the site's pages, its static files and the answers that combine domains.

``routers()`` lists them; ``register`` adds them to the registry, and ``baton.web.templating`` names
paths from the same list when a page is drawn without a request. Each route is declared in
``baton.access``.
"""

from __future__ import annotations

from fastapi import APIRouter

from baton.core.registry import Registry
from baton.web import api_docs, catalogue, language, signin, static


def routers() -> list[APIRouter]:
    return [
        static.router,
        language.router,
        signin.router,
        api_docs.router,
        catalogue.router,
    ]


def register(registry: Registry) -> None:
    for router in routers():
        registry.router(router)
