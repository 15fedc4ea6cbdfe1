"""The process-wide parts a running Baton needs: settings, database, blob store, URL signer, registry.

``baton.domains.open_runtime`` builds one (it knows the domains); ``core`` only describes it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Runtime:
    settings: Settings
    database: Database
    store: BlobStore
    signer: UrlSigner
    rate_limiter: RateLimiter = field(default_factory=lambda: RateLimiter({}))
    # The domains' job kinds, events and handlers (``baton.domains.build_registry``).
    registry: Registry = field(default_factory=Registry)

    def close(self) -> None:
        self.database.dispose()
