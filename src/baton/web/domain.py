"""What the web layer brings: pages and API answers that combine domains (the catalogue with placements,
the models and datasets listing)."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.web import catalogue, listing_api


def register(registry: Registry) -> None:
    registry.router(catalogue.router)
    registry.router(listing_api.router)
