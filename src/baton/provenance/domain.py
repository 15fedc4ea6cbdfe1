"""What the provenance domain brings: weight fingerprints, comparisons and reports."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.provenance import api, models  # noqa: F401  (models: the domain's tables)


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.job("provenance.scan", "baton.provenance.service:scan_job")
