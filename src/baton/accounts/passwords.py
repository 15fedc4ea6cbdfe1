"""Passwords: the policy a new one must meet, and argon2id hashing with a bounded cost.

Hashes are argon2id with OWASP's recommended minimum (19 MiB of memory, 2 passes, 1 lane): about
50 ms of one core per hash. At most ``MAX_CONCURRENT_HASHES`` run at once in a process, so a flood
of sign-ins queues instead of taking all the memory and cores. A hash made with other parameters
still verifies; ``needs_rehash`` says when to store a fresh one (done on the next sign-in).

Passwords are compared in Unicode NFC, so the same password typed on two keyboards (Hangul
composed or as separate jamo) is the same password.
"""

from __future__ import annotations

import secrets
import threading
import unicodedata
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from baton.core.errors import BadRequestError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024  # bounds the work one request can ask of the hasher
MIN_DISTINCT: Final = 5
MAX_CONCURRENT_HASHES: Final = 4

HASHER: Final = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)

_HINT: Final = (
    f"Choose a password of {MIN_LENGTH} to {MAX_LENGTH} characters, e.g. a few unrelated words "
    "(a password manager can make one)."
)

# Passwords long enough to pass the length rule that lists of leaked passwords put near the top.
# Compared after lower-casing and removing spaces, so "Password 1234" is caught as well.
COMMON: Final = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456789012345",
        "1234567890123456",
        "123123123123",
        "111111111111",
        "000000000000",
        "123412341234",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "qwertyuiopasdfgh",
        "qwertyuiopasdfghjkl",
        "qwerty123456",
        "qwertyqwerty",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "1qaz2wsx3edc4rfv",
        "zaq12wsxcde3",
        "asdfghjkl123",
        "asdfasdfasdf",
        "password1234",
        "password12345",
        "password123456",
        "password1234!",
        "passwordpassword",
        "password123!",
        "mypassword123",
        "letmein12345",
        "iloveyou1234",
        "iloveyouiloveyou",
        "welcome12345",
        "welcome123456",
        "administrator",
        "administrator1",
        "admin1234567",
        "adminadmin123",
        "changeme1234",
        "trustno11234",
        "sunshine1234",
        "football1234",
        "baseball1234",
        "princess1234",
        "superman1234",
        "starwars1234",
        "monkey123456",
        "dragon123456",
        "abc123456789",
        "abcdefghijkl",
        "abcd12345678",
        "abcdefg12345",
        "correcthorsebatterystaple",
        "thequickbrownfox",
        "sarang123456",
        "saranghae123",
        "saranghae1234",
        "dkssudgktpdy",  # 안녕하세요 typed on a Korean keyboard set to English
        "baton1234567",
        "batonbaton123",
    }
)


def normalize(password: str) -> str:
    """The password as compared and hashed: Unicode NFC."""
    return unicodedata.normalize("NFC", password)


def check_policy(password: str, *, user_name: str) -> str:
    """The normalized password if it may be used by ``user_name``; else BadRequestError saying why."""
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        raise BadRequestError(
            f"The password is too short: {len(password)} characters, at least {MIN_LENGTH} are needed",
            code="PasswordTooShort",
            hint=_HINT,
        )
    if len(password) > MAX_LENGTH:
        raise BadRequestError(
            f"The password is too long: at most {MAX_LENGTH} characters", code="PasswordTooLong", hint=_HINT
        )
    if any(unicodedata.category(character) == "Cc" for character in password):
        raise BadRequestError(
            "The password holds a control character (a tab, a newline or another invisible one)",
            code="PasswordInvalid",
            hint="Use letters, digits, spaces and punctuation only.",
        )
    folded = "".join(password.casefold().split())
    name = user_name.casefold()
    if folded == name or (len(name) >= 4 and name in folded):
        raise BadRequestError(
            "The password contains the user name", code="PasswordTooWeak", hint="Choose one that does not: " + _HINT
        )
    if folded in COMMON:
        raise BadRequestError(
            "The password is one of the most common ones, which are tried first by anyone guessing",
            code="PasswordTooWeak",
            hint=_HINT,
        )
    if len(set(folded)) < MIN_DISTINCT:
        raise BadRequestError(
            f"The password repeats too few characters (fewer than {MIN_DISTINCT} different ones)",
            code="PasswordTooWeak",
            hint=_HINT,
        )
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of a password that passed ``check_policy``."""
    with _slots:
        return HASHER.hash(normalize(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with no hash, the same work against a dummy one, then False.

    The dummy keeps a sign-in for an unknown user (or one without a password) as slow as a wrong
    password, so the time of the answer does not tell which names exist.
    """
    candidate = normalize(password)[: MAX_LENGTH + 1]
    with _slots:
        try:
            return HASHER.verify(stored_hash or _dummy_hash(), candidate) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (store a fresh one)."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(24))
