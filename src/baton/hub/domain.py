"""What the hub domain brings: repos, commits, files, LFS uploads and the HF-compatible API."""

from __future__ import annotations

from baton.core.registry import Registry
from baton.hub import api, hf_api, models, upload_api  # noqa: F401  (models: the domain's tables)
from baton.hub.events import CommitLanded


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.publishes(CommitLanded)
    # Upload links and the HF download routes match broad patterns: they are tried last.
    registry.router(upload_api.router, fallback=True)
    registry.router(hf_api.router, fallback=True)
