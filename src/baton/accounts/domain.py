"""What the accounts domain brings: users, organizations, memberships and tokens."""

from __future__ import annotations

from baton.accounts import models  # noqa: F401  (the domain's tables)
from baton.core.registry import Registry


def register(registry: Registry) -> None:
    """Accounts have tables only: their routes live with the hub's API, which serves the HF client."""
