"""Who is acting, and with which rights: the immutable ``Actor`` every service receives.

A request is made by an account through a token, and the token's scopes cap what the account
may do in that request. The Actor carries both, and it is built once per request (or once per
CLI command) and never changed afterwards, so no path can forget to set a role and fail open.

Scopes:

- ``read``: read what the account can read (private repos of its organizations, its profile).
- ``write``: change what the account can change (commits, repos, release plans, profiles).
- ``admin``: use the account's admin powers (repo settings and deletion, organization roles,
  and for site admins the operator's actions).
- ``vote``: vote in a challenge arena.
- ``review``: score assigned teams as an expert reviewer.

A token's preset ``write`` holds every scope (what tokens always could do); ``read`` holds only
``read``. Narrower tokens name their scopes (``baton user token create NAME --scope read,vote``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from baton.core.errors import BadRequestError, PermissionDeniedError

READ: Final = "read"
WRITE: Final = "write"
ADMIN: Final = "admin"
VOTE: Final = "vote"
REVIEW: Final = "review"
SCOPES: Final = (READ, WRITE, ADMIN, VOTE, REVIEW)
ALL_SCOPES: Final = frozenset(SCOPES)
READ_ONLY: Final = frozenset({READ})
# Named sets of scopes a token can be issued with.
PRESETS: Final = {"read": READ_ONLY, "write": ALL_SCOPES}

_SCOPE_HINTS: Final = {
    READ: "read",
    WRITE: "change anything",
    ADMIN: "use admin powers",
    VOTE: "vote in the arena",
    REVIEW: "submit expert reviews",
}


def parse_scopes(values: Iterable[str]) -> frozenset[str]:
    """Scopes from names or presets (``read``, ``write``); every token can at least read."""
    scopes: set[str] = {READ}
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name in PRESETS:
                scopes |= PRESETS[name]
            elif name in ALL_SCOPES:
                scopes.add(name)
            else:
                raise BadRequestError(
                    f"Unknown token scope '{name[:40]}'",
                    code="UnknownScope",
                    hint="Use any of: " + ", ".join(SCOPES) + " (write alone grants them all).",
                )
    return frozenset(scopes)


def scopes_text(scopes: Iterable[str]) -> str:
    """Scopes in their canonical order, comma-separated (how they are stored)."""
    chosen = set(scopes)
    return ",".join(scope for scope in SCOPES if scope in chosen)


@dataclass(frozen=True)
class Actor:
    """An account acting with a set of scopes (from a token, or all of them from the CLI)."""

    account_id: int
    name: str
    is_admin: bool
    scopes: frozenset[str]
    # The token behind the request; None when acting directly (CLI, jobs).
    token_id: int | None = None
    token_expires_at: datetime | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_operator(self) -> bool:
        """A site admin acting with the admin scope (operators run challenges)."""
        return self.is_admin and ADMIN in self.scopes

    def require(self, scope: str, action: str) -> None:
        """Refuse ``action`` unless this token holds ``scope``."""
        if scope not in self.scopes:
            raise PermissionDeniedError(
                f"This token of '{self.name}' cannot {action}: it lacks the '{scope}' scope",
                code="InsufficientScope",
                hint=f"Use a token with the '{scope}' scope (to {_SCOPE_HINTS.get(scope, scope)}): "
                f"baton user token create {self.name} --scope {scope} (or use a write token).",
            )

    def require_operator(self, action: str = "do this") -> None:
        """Operators are site admins acting with the admin scope."""
        if not self.is_admin:
            raise PermissionDeniedError(
                f"'{self.name}' is not an operator and cannot {action}",
                code="NotOperator",
                hint="Operators are site admins (a new one: baton user create NAME --admin).",
            )
        self.require(ADMIN, action)
