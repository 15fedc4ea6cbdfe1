"""Passwords: argon2id hashes with today's parameters, NFC comparison, and a policy that says what to fix."""

from __future__ import annotations

import unicodedata

import pytest
from argon2 import PasswordHasher

from baton.accounts import passwords
from baton.core.errors import BadRequestError

GOOD = "plum orbit casual 42"


def test_a_hash_is_argon2id_with_todays_parameters_and_a_salt() -> None:
    first, second = passwords.hash_password(GOOD), passwords.hash_password(GOOD)
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert first != second  # salted
    assert GOOD not in first
    assert passwords.verify_password(first, GOOD)
    assert not passwords.verify_password(first, GOOD + "!")
    assert not passwords.needs_rehash(first)


def test_a_hash_made_with_other_parameters_still_verifies_and_asks_for_a_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD)
    assert passwords.verify_password(old, GOOD)
    assert passwords.needs_rehash(old)
    assert passwords.needs_rehash("not a hash")


def test_no_hash_or_a_broken_one_never_matches() -> None:
    assert not passwords.verify_password(None, GOOD)
    assert not passwords.verify_password("", GOOD)
    assert not passwords.verify_password("$argon2id$garbage", GOOD)


def test_passwords_compare_in_nfc_so_hangul_typed_either_way_matches() -> None:
    composed = "한글 비밀번호 열두자 이상"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    stored = passwords.hash_password(composed)
    assert passwords.verify_password(stored, decomposed)
    assert passwords.check_policy(decomposed, user_name="bob") == composed


def test_a_password_over_the_limit_never_matches_even_its_own_prefix() -> None:
    stored = passwords.hash_password("x1y2z3" * 170)  # 1020 characters: allowed
    assert passwords.verify_password(stored, "x1y2z3" * 170)
    assert not passwords.verify_password(stored, "x1y2z3" * 170 + "x" * 10_000)


@pytest.mark.parametrize(
    ("candidate", "code", "words"),
    [
        ("short pass", "PasswordTooShort", "at least 12"),
        ("a1b2c3d4e5f6" * 90, "PasswordTooLong", "at most 1024"),
        ("carol-the-great-1", "PasswordTooWeak", "user name"),
        ("CAROL", "PasswordTooShort", "at least 12"),
        ("Password 1234", "PasswordTooWeak", "most common"),
        ("qwertyuiop123", "PasswordTooWeak", "most common"),
        ("abababababababab", "PasswordTooWeak", "different"),
        ("tab\tinside password", "PasswordInvalid", "control character"),
    ],
)
def test_the_policy_refuses_with_a_reason_and_a_hint(candidate: str, code: str, words: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        passwords.check_policy(candidate, user_name="carol")
    assert refused.value.code == code
    assert words in refused.value.message
    assert refused.value.hint
    assert candidate not in refused.value.message + refused.value.hint  # never echoed back


def test_the_policy_accepts_a_reasonable_password_and_short_names_do_not_block_letters() -> None:
    assert passwords.check_policy(GOOD, user_name="carol") == GOOD
    assert passwords.check_policy("a violet umbrella", user_name="a") == "a violet umbrella"
    with pytest.raises(BadRequestError):
        passwords.check_policy("a", user_name="a")
