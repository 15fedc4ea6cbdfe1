"""Pseudonyms and salted commitments: name a private thing in public without revealing it.

A *pseudonym* is an HMAC of a thing's stable identity under a secret key (a challenge's secret, or
one derived from the server's secret key): the same thing always gets the same pseudonym under one
key, and nobody without the key can tell which thing it is or test a guess.

A *commitment* binds a published record to a value that stays hidden until its *opening* (the
value and its salt) is published: ``sha256("baton-commitment-v1\\n" + canonical JSON of {"salt",
"value"})`` with a fresh 32-byte random salt. The salt makes a guess of the value impossible to
confirm; the hash makes the opening impossible to change afterwards. Anyone can check an opening
with ``opens`` and no key. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

SALT_BYTES = 32
COMMITMENT_DOMAIN = "baton-commitment-v1"
PSEUDONYM_DOMAIN = "baton-pseudonym-v1"
HEX = frozenset("0123456789abcdef")
# A sealed label where a name would stand: "<prefix>-<16 hex>@<64 hex>" (see ``Sealed.label``).
LABEL = re.compile(r"[a-z]+-[0-9a-f]{16}@[0-9a-f]{64}")


def new_salt() -> str:
    """A fresh 32-byte random salt, as 64 lowercase hex digits."""
    return secrets.token_hex(SALT_BYTES)


def _canonical(value: Any) -> bytes:
    # The same canonical form as the challenge ledger (sorted keys, no spaces, UTF-8, no NaN), so a
    # verifier needs nothing beyond a JSON library and sha256 to recompute a commitment.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def commitment(value: dict[str, Any], salt: str) -> str:
    """The commitment to ``value`` under ``salt`` (64 hex digits)."""
    return hashlib.sha256(f"{COMMITMENT_DOMAIN}\n".encode() + _canonical({"salt": salt, "value": value})).hexdigest()


def opens(committed: object, value: object, salt: object) -> bool:
    """Whether (``value``, ``salt``) is the opening of ``committed`` (constant-time comparison).

    Takes whatever a ledger line holds: anything but a string commitment, an object value and a
    string salt opens nothing.
    """
    if not isinstance(committed, str) or not isinstance(salt, str) or not isinstance(value, dict):
        return False
    try:
        expected = commitment(value, salt)
    except (TypeError, ValueError):  # a value with no canonical JSON form opens nothing
        return False
    return hmac.compare_digest(expected.encode(), committed.encode())


def is_commitment(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= HEX


def pseudonym(key: bytes, kind: str, identity: str, *, prefix: str = "model") -> str:
    """``prefix-`` and 16 hex digits of HMAC-SHA256(key, kind and identity): stable, and opaque without the key."""
    mac = hmac.new(key, f"{PSEUDONYM_DOMAIN}\n{kind}\n{identity}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{mac[:16]}"


def model_value(repo_type: str, repo: str, revision: str) -> dict[str, str]:
    """What a model's commitment binds: the repo (type and 'namespace/name') and the pinned revision."""
    return {"repo": repo, "repo_type": repo_type, "revision": revision}


def repo_value(repo_type: str, repo: str) -> dict[str, str]:
    """What a commitment to a repo alone binds, where no revision is pinned (a release plan, a target model)."""
    return {"repo": repo, "repo_type": repo_type}


@dataclass(frozen=True)
class Sealed:
    """How public responses name a private model: a pseudonym and a commitment to (repo, revision)."""

    pseudonym: str
    commitment: str

    @property
    def label(self) -> str:
        """The model's public name where a 'repo@revision' would stand (unique per revision)."""
        return f"{self.pseudonym}@{self.commitment}"

    def to_json(self) -> dict[str, str]:
        return {"pseudonym": self.pseudonym, "commitment": self.commitment}

    @classmethod
    def from_label(cls, text: object) -> Sealed | None:
        """The sealed name a label stands for (None: ``text`` is not a label, e.g. a public 'repo@commit')."""
        if not isinstance(text, str) or LABEL.fullmatch(text) is None:
            return None
        pseudonym, _, committed = text.partition("@")
        return cls(pseudonym, committed)
