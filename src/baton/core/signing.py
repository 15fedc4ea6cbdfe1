"""Signed, expiring URLs.

The Hugging Face client sends LFS upload PUTs without its token (as it does to S3), so the
upload links Baton hands out carry their own authorization: an HMAC over the path and expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from baton.core.errors import AuthenticationError

DEFAULT_TTL_SECONDS = 24 * 3600


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use of the server's secret (e.g. pseudonyms), independent of the signing key."""
        return hmac.new(self._key, f"baton-derived-key\n{purpose}".encode(), hashlib.sha256).digest()

    def _mac(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """Return ``path`` with ``expires`` and ``signature`` query parameters."""
        expires = int(time.time()) + ttl_seconds
        return f"{path}?expires={expires}&signature={self._mac(path, expires)}"

    def verify(self, path: str, expires: str | None, signature: str | None) -> None:
        if not expires or not signature or not expires.isdigit():
            raise AuthenticationError(
                "This upload link is not signed", hint="Ask the LFS batch API for a new link."
            )
        if int(expires) < time.time():
            raise AuthenticationError(
                "This upload link has expired", hint="Ask the LFS batch API for a new link."
            )
        if not hmac.compare_digest(self._mac(path, int(expires)), signature):
            raise AuthenticationError(
                "This upload link's signature is wrong", hint="Use the link exactly as given."
            )
