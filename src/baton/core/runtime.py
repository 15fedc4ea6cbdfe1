"""The process-wide parts a running Baton needs: settings, database, blob store, URL signer, registry.

``baton.domains.open_runtime`` builds one (it knows the domains); ``core`` only describes it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.core.blobs import BlobStore
from baton.core.database import Database
from baton.core.ratelimit import RateLimiter
from baton.core.registry import Registry
from baton.core.settings import Settings
from baton.core.signing import UrlSigner


def secret_key(settings: Settings) -> bytes:
    """BATON_SECRET_KEY if set, else a key kept in the data folder (made once, mode 0600)."""
    configured = os.environ.get("BATON_SECRET_KEY")
    if configured:
        return configured.encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.replace(temporary, path)
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class TeamExit:
    """A challenge team has left for good (its elimination is final, or the challenge ended).

    The challenge calls ``Runtime.team_exit_listeners`` with this inside the transaction that makes
    the exit final; other domains (releases, the talent pool) react without the challenge knowing them.
    """

    challenge: str  # challenge slug
    team: str  # team slug
    stage: str  # the stage at which the team left
    reason: str  # "eliminated" or "challenge_ended"
    organizations: tuple[str, ...] = ()  # account names of the consortium's organizations
    members: tuple[str, ...] = ()  # user names of the team's people


@dataclass
class Runtime:
    settings: Settings
    database: Database
    store: BlobStore
    signer: UrlSigner
    # Called inside the transaction of every commit made through the API, as
    # listener(session, repo, commit, changed_paths). The app wires domains in here (provenance
    # queues a scan), so the hub does not depend on them.
    commit_listeners: list[Callable[..., Any]] = field(default_factory=list)
    # Called as listener(session, runtime, team_exit) when a team's exit becomes final.
    team_exit_listeners: list[Callable[..., Any]] = field(default_factory=list)
    # Called as listener(session, runtime) inside the transaction of each finality sweep (the
    # challenge's timer), after the due decisions became final; each returns a dict that is merged
    # into the sweep job's result (the commons releases due embargoes here).
    sweep_listeners: list[Callable[..., dict[str, Any]]] = field(default_factory=list)
    rate_limiter: RateLimiter = field(default_factory=lambda: RateLimiter({}))
    # The domains' job kinds, events and handlers (``baton.domains.build_registry``).
    registry: Registry = field(default_factory=Registry)

    def close(self) -> None:
        self.database.dispose()
