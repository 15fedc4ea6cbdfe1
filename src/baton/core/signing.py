"""Signed, expiring URLs.

The Hugging Face client sends LFS upload PUTs without its token (as it does to S3), so the
upload links Baton hands out carry their own authorization: an HMAC over the path, the expiry
and the token the link was issued to. The token is named in the link (``by``) so that every use
can check that the token still holds the access it had (not revoked, not expired, still a writer).
"""

from __future__ import annotations

import hashlib
import hmac

from baton.core import clock
from baton.core.errors import AuthenticationError

DEFAULT_TTL_SECONDS = 24 * 3600


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use of the server's secret (e.g. pseudonyms), independent of the signing key."""
        return hmac.new(self._key, f"baton-derived-key\n{purpose}".encode(), hashlib.sha256).digest()

    def _mac(self, path: str, expires: int, by: str) -> str:
        return hmac.new(self._key, f"{path}\n{expires}\n{by}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, *, by: int | None = None) -> str:
        """Return ``path`` with ``expires``, ``by`` (the token it is issued to) and ``signature`` parameters."""
        expires = int(clock.now().timestamp()) + ttl_seconds
        holder = "" if by is None else str(by)
        return f"{path}?expires={expires}&by={holder}&signature={self._mac(path, expires, holder)}"

    def verify(self, path: str, expires: str | None, signature: str | None, by: str | None = None) -> int | None:
        """Check a signed link; returns the id of the token it was issued to (None: issued to no token)."""
        by = by or ""
        if not expires or not signature or not expires.isdigit() or not (by == "" or (by.isdigit() and len(by) < 19)):
            raise AuthenticationError("This upload link is not signed", hint="Ask the LFS batch API for a new link.")
        if int(expires) < clock.now().timestamp():
            raise AuthenticationError("This upload link has expired", hint="Ask the LFS batch API for a new link.")
        if not signature.isascii() or not hmac.compare_digest(self._mac(path, int(expires), by), signature):
            raise AuthenticationError("This upload link's signature is wrong", hint="Use the link exactly as given.")
        return int(by) if by else None
