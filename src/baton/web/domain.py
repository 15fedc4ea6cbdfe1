"""What the web layer brings: pages and API answers that combine domains (the catalogue with placements)."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.web import catalogue


def register(registry: Registry) -> None:
    registry.router(catalogue.router)
