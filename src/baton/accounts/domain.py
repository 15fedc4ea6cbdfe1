"""What the accounts domain brings: users, organizations, memberships, tokens, passwords and web sessions."""

from __future__ import annotations

from baton.accounts import (
    api,
    models,  # noqa: F401  (the domain's tables)
    web_sessions,
)
from baton.core.registry import Registry

PRUNE_SECONDS = 3600


def register(registry: Registry) -> None:
    """The password route and the hourly prune of dead web sessions and old sign-in attempts.

    The token routes live with the hub's API, which serves the HF client.
    """
    registry.router(api.router)
    registry.every("accounts.prune_sign_ins", PRUNE_SECONDS, web_sessions.prune)
