"""Web sign-in on both databases: passwords and tokens open database sessions behind an opaque cookie;
sessions expire, idle out and end (sign-out, password change, token revoked, account deleted);
failed sign-ins are limited without revealing which names exist; forms carry a per-session CSRF value.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, func, select

from baton.accounts import passwords, web_sessions
from baton.accounts import service as accounts
from baton.accounts.actor import ALL_SCOPES, READ_ONLY, Actor
from baton.accounts.models import Account, AccountPassword, ApiToken, SignInAttempt, WebSession
from baton.core.clock import ManualClock
from baton.core.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from baton.core.ratelimit import RateLimiter
from baton.core.runtime import Runtime

BOB_PASSWORD = "bob's plum orbit 42"
ALICE_PASSWORD = "walks the long pier at noon"
HERE, THERE = "203.0.113.5", "198.51.100.7"


@pytest.fixture
def people(runtime: Runtime, users: Any) -> Any:
    """alice (operator), bob and carol from ``users``; alice and bob have passwords, carol has none."""
    web_sessions.reset_password(runtime, "alice", ALICE_PASSWORD)
    web_sessions.reset_password(runtime, "bob", BOB_PASSWORD)
    return users


def sign_in(runtime: Runtime, name: str = "bob", password: str = BOB_PASSWORD, client: str = HERE) -> str:
    return web_sessions.sign_in_with_password(
        runtime, name=name, password=password, client=client, user_agent="pytest"
    ).cookie


def refused(runtime: Runtime, name: str, password: str, client: str = HERE) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        sign_in(runtime, name, password, client)
    return caught.value


def actor(runtime: Runtime, name: str) -> Actor:
    with runtime.database.session() as session:
        return accounts.act_as(session, name)


# --- signing in ------------------------------------------------------------------------------------


def test_a_right_password_opens_a_session_stored_only_as_a_hash(runtime: Runtime, people: Any) -> None:
    signed = web_sessions.sign_in_with_password(
        runtime, name="bob", password=BOB_PASSWORD, client=HERE, user_agent="Firefox/" + "x" * 500
    )
    assert signed.actor.name == "bob" and signed.actor.scopes == ALL_SCOPES and signed.actor.token_id is None
    assert len(signed.cookie) == 43
    with runtime.database.session() as session:
        row = session.scalars(select(WebSession)).one()
        assert row.id == hashlib.sha256(signed.cookie.encode()).hexdigest()
        assert signed.cookie not in {row.id, row.user_agent, row.client, row.opened_by}
        assert (row.opened_by, row.client, row.token_id, row.ended_at) == ("password", HERE, None, None)
        assert len(row.user_agent) == 200 and row.user_agent.startswith("Firefox/")
        assert row.expires_at - row.created_at == web_sessions.SESSION_LIFETIME
    seen = web_sessions.actor_from_cookie(runtime, signed.cookie)
    assert seen is not None and seen.name == "bob" and seen.scopes == ALL_SCOPES


def test_wrong_password_unknown_user_organization_and_no_password_get_the_same_answer(
    runtime: Runtime, people: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    real = passwords.HASHER
    monkeypatch.setattr(
        passwords,
        "HASHER",
        Counting(time_cost=real.time_cost, memory_cost=real.memory_cost, parallelism=real.parallelism),
    )
    answers = [
        refused(runtime, "bob", BOB_PASSWORD + "x"),
        refused(runtime, "nobody-by-that-name", BOB_PASSWORD),
        refused(runtime, "lab", BOB_PASSWORD),  # an organization
        refused(runtime, "carol", BOB_PASSWORD),  # a user without a password
        refused(runtime, "", ""),
        refused(runtime, "x" * 5000, "y" * 5000),
    ]
    assert {(error.code, error.message, error.hint, error.status_code) for error in answers} == {
        ("SignInFailed", "The user name or password is wrong", answers[0].hint, 401)
    }
    # Every one of them did one argon2 verification: the answer takes as long whoever is named.
    assert len(verified) == len(answers)
    assert all(stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for stored in verified)
    with runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
        # The attempts are kept under a keyed hash: what was typed as a name is not stored.
        keys = session.scalars(select(SignInAttempt.name_key)).all()
        assert len(keys) == len(answers) and not {"bob", "lab", "carol", "nobody-by-that-name"} & set(keys)


def test_an_old_hash_is_replaced_at_the_next_sign_in(runtime: Runtime, people: Any) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(BOB_PASSWORD)
    with runtime.database.session(write=True) as session:
        bob = accounts.get_account(session, "bob")
        record = session.get(AccountPassword, bob.id)
        assert record is not None
        record.password_hash = old
        changed_at = record.changed_at
    refused(runtime, "bob", "not the password at all")
    with runtime.database.session() as session:
        assert session.get(AccountPassword, bob.id).password_hash == old  # type: ignore[union-attr]
    sign_in(runtime)
    with runtime.database.session() as session:
        record = session.get(AccountPassword, bob.id)
        assert record is not None and record.password_hash != old
        assert record.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert record.changed_at == changed_at  # the same password: not a change
    assert sign_in(runtime)  # and it still opens


# --- limits ----------------------------------------------------------------------------------------


def test_failed_sign_ins_are_limited_per_name_and_address(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    for _ in range(5):
        refused(runtime, "bob", "wrong guess number")
    with pytest.raises(RateLimitedError) as limited:
        sign_in(runtime)  # even the right password waits: the guesser cannot tell
    assert limited.value.status_code == 429
    assert 890 <= int(limited.value.headers["Retry-After"]) <= 900
    assert "baton user set-password" in limited.value.hint
    # Hammering while refused is not counted, so it does not push the wait further out.
    for _ in range(3):
        with pytest.raises(RateLimitedError):
            sign_in(runtime, password="another guess here")
    # Bob from another address, and another name from this address, are not held back.
    assert sign_in(runtime, client=THERE)
    assert sign_in(runtime, "alice", ALICE_PASSWORD)
    fake_clock.advance(timedelta(minutes=10))
    with pytest.raises(RateLimitedError) as later:
        sign_in(runtime)
    assert 290 <= int(later.value.headers["Retry-After"]) <= 300
    fake_clock.advance(timedelta(minutes=5, seconds=1))
    assert sign_in(runtime)


def test_a_success_resets_only_its_own_name_and_address(runtime: Runtime, people: Any, fake_clock: ManualClock) -> None:
    for _ in range(4):
        refused(runtime, "bob", "wrong guess number", client=THERE)
    for _ in range(4):
        refused(runtime, "bob", "wrong guess number", client=HERE)
    assert sign_in(runtime, "alice", ALICE_PASSWORD, client=THERE)  # another name from THERE
    assert sign_in(runtime, client=HERE)  # bob himself, from HERE
    refused(runtime, "bob", "wrong guess number", client=THERE)  # the fifth from THERE
    with pytest.raises(RateLimitedError):
        sign_in(runtime, client=THERE)
    for _ in range(4):  # HERE was reset by bob's own success there
        refused(runtime, "bob", "wrong guess number", client=HERE)
    assert sign_in(runtime, client=HERE)


def test_failed_sign_ins_are_limited_per_address_across_names(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    runtime.rate_limiter = RateLimiter({})  # the in-memory flood brake is not what this test is about
    for number in range(50):
        refused(runtime, f"guess-{number}", "a password guess")
        fake_clock.advance(timedelta(seconds=30))
    with pytest.raises(RateLimitedError) as limited:
        sign_in(runtime)
    assert 3600 - 25 * 60 - 5 <= int(limited.value.headers["Retry-After"]) <= 3600 - 25 * 60
    assert sign_in(runtime, client=THERE)
    with pytest.raises(RateLimitedError):
        web_sessions.sign_in_with_token(runtime, token=people["bob"], client=HERE)
    fake_clock.advance(timedelta(minutes=35))
    assert sign_in(runtime)


def test_the_in_memory_flood_brake_bounds_attempts_per_address(runtime: Runtime, people: Any) -> None:
    runtime.rate_limiter = RateLimiter({"sign-in": runtime.rate_limiter._limits["sign-in"]})
    answers = []
    for number in range(40):
        try:
            web_sessions.sign_in_with_token(runtime, token=f"baton_wrong{number}", client=HERE)
        except (AuthenticationError, RateLimitedError) as error:
            answers.append(error.code)
    assert answers == ["SignInFailed"] * 20 + ["RateLimited"] * 20
    with runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 20


# --- tokens ----------------------------------------------------------------------------------------


def test_a_token_opens_a_session_with_its_scopes_that_ends_with_it(runtime: Runtime, people: Any) -> None:
    with runtime.database.session(write=True) as session:
        issued = accounts.issue_token(session, accounts.get_account(session, "carol"), scopes=["read"])
    signed = web_sessions.sign_in_with_token(runtime, token="  " + issued.value + "\n", client=HERE)
    assert signed.actor.name == "carol" and signed.actor.scopes == READ_ONLY
    assert signed.actor.token_id == issued.token.id
    seen = web_sessions.actor_from_cookie(runtime, signed.cookie)
    assert seen is not None and seen.scopes == READ_ONLY and seen.token_id == issued.token.id
    with runtime.database.session() as session:
        row = session.scalars(select(WebSession)).one()
        assert (row.opened_by, row.token_id) == ("token", issued.token.id)
    with runtime.database.session(write=True) as session:
        accounts.revoke_token(session, accounts.get_account(session, "carol"), issued.token.id)
    assert web_sessions.actor_from_cookie(runtime, signed.cookie) is None
    with pytest.raises(AuthenticationError) as wrong:
        web_sessions.sign_in_with_token(runtime, token=issued.value, client=HERE)
    assert wrong.value.code == "SignInFailed"


def test_a_token_session_ends_when_the_token_expires(runtime: Runtime, people: Any, fake_clock: ManualClock) -> None:
    with runtime.database.session(write=True) as session:
        issued = accounts.issue_token(session, accounts.get_account(session, "bob"), expires_in_days=1)
    fake_clock.advance(timedelta(hours=23))
    cookie = web_sessions.sign_in_with_token(runtime, token=issued.value, client=HERE).cookie
    with runtime.database.session() as session:
        assert session.scalars(select(WebSession.expires_at)).one() == issued.token.expires_at
    fake_clock.advance(timedelta(minutes=59))
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    fake_clock.advance(timedelta(minutes=2))
    assert web_sessions.actor_from_cookie(runtime, cookie) is None
    with pytest.raises(AuthenticationError) as expired:
        web_sessions.sign_in_with_token(runtime, token=issued.value, client=HERE)
    assert expired.value.code == "TokenExpired"


# --- sessions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "short", "x" * 43 + "=", "ä" * 43, "A" * 43, "A" * 4000, "1.2.3"])
def test_a_malformed_or_unknown_cookie_is_nobody(runtime: Runtime, people: Any, value: str | None) -> None:
    sign_in(runtime)
    assert web_sessions.actor_from_cookie(runtime, value) is None
    assert web_sessions.sign_out(runtime, value) is False


def test_a_session_ends_twelve_hours_after_it_opened_however_busy(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    cookie = sign_in(runtime)
    for _ in range(11):
        fake_clock.advance(timedelta(hours=1))
        assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    fake_clock.advance(timedelta(minutes=59, seconds=59))
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    fake_clock.advance(timedelta(seconds=1))
    assert web_sessions.actor_from_cookie(runtime, cookie) is None


def test_a_session_idles_out_and_last_seen_is_written_at_most_once_a_minute(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    cookie = sign_in(runtime)
    opened = fake_clock.now()

    def last_seen() -> Any:
        with runtime.database.session() as session:
            return session.scalars(select(WebSession.last_seen_at)).one()

    fake_clock.advance(timedelta(seconds=30))
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    assert last_seen() == opened  # not written again within the minute
    fake_clock.advance(timedelta(minutes=1))
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    assert last_seen() == opened + timedelta(seconds=90)
    fake_clock.advance(timedelta(hours=1, minutes=59))
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None  # 1 h 59 min idle: still good
    fake_clock.advance(web_sessions.IDLE_TIMEOUT)
    assert web_sessions.actor_from_cookie(runtime, cookie) is None


def test_sign_out_ends_only_that_session(runtime: Runtime, people: Any) -> None:
    first, second = sign_in(runtime), sign_in(runtime, client=THERE)
    assert web_sessions.sign_out(runtime, first) is True
    assert web_sessions.actor_from_cookie(runtime, first) is None
    assert web_sessions.actor_from_cookie(runtime, second) is not None
    assert web_sessions.sign_out(runtime, first) is False


def test_end_sessions_and_a_deleted_account_sign_everyone_out(runtime: Runtime, people: Any) -> None:
    bob = [sign_in(runtime), sign_in(runtime)]
    alice = sign_in(runtime, "alice", ALICE_PASSWORD)
    bob_id = actor(runtime, "bob").account_id
    assert web_sessions.end_sessions(runtime, bob_id) == 2
    assert [web_sessions.actor_from_cookie(runtime, cookie) for cookie in bob] == [None, None]
    assert web_sessions.actor_from_cookie(runtime, alice) is not None
    alice_id = actor(runtime, "alice").account_id
    with runtime.database.session(write=True) as session:
        session.execute(delete(Account).where(Account.id == alice_id))
    assert web_sessions.actor_from_cookie(runtime, alice) is None


def test_the_prune_job_drops_dead_sessions_and_old_attempts_only(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    ended, expired, live = sign_in(runtime), sign_in(runtime), sign_in(runtime, "alice", ALICE_PASSWORD)
    web_sessions.sign_out(runtime, ended)
    refused(runtime, "bob", "an old wrong guess")
    fake_clock.advance(timedelta(hours=1, minutes=30))
    assert web_sessions.actor_from_cookie(runtime, live) is not None
    fake_clock.advance(timedelta(minutes=31))  # the expired one idled out (2 h); live was seen 31 min ago
    refused(runtime, "bob", "a recent wrong guess")
    assert "accounts.prune_sign_ins" in runtime.registry.describe()["jobs"]
    assert web_sessions.prune(runtime) == {"sessions": 2, "attempts": 1}
    assert web_sessions.actor_from_cookie(runtime, live) is not None
    assert web_sessions.actor_from_cookie(runtime, expired) is None
    with runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 1
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1


# --- passwords -------------------------------------------------------------------------------------


def test_a_password_change_ends_the_other_sessions_and_rotates_the_current_one(runtime: Runtime, people: Any) -> None:
    current, other, elsewhere = sign_in(runtime), sign_in(runtime, client=THERE), sign_in(runtime)
    alice = sign_in(runtime, "alice", ALICE_PASSWORD)
    bob = web_sessions.actor_from_cookie(runtime, current)
    assert bob is not None
    change = web_sessions.set_password(
        runtime, bob, "bob", "a brand new passphrase", current_password=BOB_PASSWORD, keep_cookie=current
    )
    assert change.sessions_ended == 2 and change.cookie is not None and change.cookie != current
    for cookie in (current, other, elsewhere):
        assert web_sessions.actor_from_cookie(runtime, cookie) is None
    rotated = web_sessions.actor_from_cookie(runtime, change.cookie)
    assert rotated is not None and rotated.name == "bob"
    assert web_sessions.actor_from_cookie(runtime, alice) is not None  # nobody else's
    refused(runtime, "bob", BOB_PASSWORD)
    assert sign_in(runtime, password="a brand new passphrase")


def test_a_user_needs_the_current_password_and_wrong_ones_are_limited(runtime: Runtime, people: Any) -> None:
    bob = actor(runtime, "bob")
    session_cookie = sign_in(runtime)
    with pytest.raises(BadRequestError) as missing:
        web_sessions.set_password(runtime, bob, "bob", "a brand new passphrase")
    assert missing.value.code == "CurrentPasswordNeeded"
    for _ in range(5):
        with pytest.raises(PermissionDeniedError) as wrong:
            web_sessions.set_password(
                runtime, bob, "bob", "a brand new passphrase", current_password="guess guess guess", client=THERE
            )
        assert wrong.value.code == "WrongPassword"
    with pytest.raises(RateLimitedError):
        web_sessions.set_password(
            runtime, bob, "bob", "a brand new passphrase", current_password=BOB_PASSWORD, client=THERE
        )
    with pytest.raises(BadRequestError) as weak:
        web_sessions.set_password(runtime, bob, "bob", "bob-bob-bob-bob", current_password=BOB_PASSWORD)
    assert weak.value.code == "PasswordTooWeak"
    # Nothing changed: the old password still opens, the session is still there.
    assert web_sessions.actor_from_cookie(runtime, session_cookie) is not None
    assert sign_in(runtime)


def test_a_user_without_a_password_cannot_plant_one_with_a_token(runtime: Runtime, people: Any) -> None:
    with pytest.raises(PermissionDeniedError) as refused_first:
        web_sessions.set_password(runtime, actor(runtime, "carol"), "carol", "a password c picks herself")
    assert refused_first.value.code == "NoPasswordYet"
    assert "baton user set-password carol" in refused_first.value.hint
    assert not web_sessions.has_password(runtime, "carol")


def test_an_operator_sets_anyones_password_and_others_cannot(runtime: Runtime, people: Any) -> None:
    bob, alice = actor(runtime, "bob"), actor(runtime, "alice")
    with pytest.raises(PermissionDeniedError) as not_operator:
        web_sessions.set_password(runtime, bob, "carol", "bob picks for carol", current_password=BOB_PASSWORD)
    assert not_operator.value.code == "NotOperator"
    with pytest.raises(PermissionDeniedError) as unknown:  # no hint at who exists
        web_sessions.set_password(runtime, bob, "nobody-here", "bob picks for them")
    assert unknown.value.code == "NotOperator"
    bob_session = sign_in(runtime)
    change = web_sessions.set_password(runtime, alice, "carol", "a first password for c")
    assert change == web_sessions.PasswordChange(0, None)
    assert sign_in(runtime, "carol", "a first password for c")
    assert web_sessions.set_password(runtime, alice, "bob", "reset by the operator").sessions_ended == 1
    assert web_sessions.actor_from_cookie(runtime, bob_session) is None
    # An admin's token without the admin scope is not the operator.
    narrow = Actor(account_id=alice.account_id, name="alice", is_admin=True, scopes=frozenset({"read", "write"}))
    with pytest.raises(PermissionDeniedError) as scope:
        web_sessions.set_password(runtime, narrow, "bob", "another reset attempt")
    assert scope.value.code == "InsufficientScope"
    read_only = Actor(account_id=bob.account_id, name="bob", is_admin=False, scopes=READ_ONLY)
    with pytest.raises(PermissionDeniedError) as reader:
        web_sessions.set_password(
            runtime, read_only, "bob", "a read token tries", current_password="reset by the operator"
        )
    assert reader.value.code == "InsufficientScope"
    with pytest.raises(BadRequestError) as organization:
        web_sessions.set_password(runtime, alice, "lab", "organizations cannot")
    assert organization.value.code == "NotAUser"


# --- CSRF ------------------------------------------------------------------------------------------


def test_csrf_values_are_bound_to_their_session(runtime: Runtime, people: Any) -> None:
    mine, theirs = sign_in(runtime), sign_in(runtime, "alice", ALICE_PASSWORD)
    token = web_sessions.csrf_token(runtime, mine)
    assert mine not in token and hashlib.sha256(mine.encode()).hexdigest() not in token
    assert token == web_sessions.csrf_token(runtime, mine)  # stable for the session's forms
    web_sessions.check_csrf(runtime, mine, token)
    cases = {
        "wrong": (mine, token[:-1] + ("0" if token[-1] != "0" else "1")),
        "missing": (mine, None),
        "empty": (mine, ""),
        "another session's": (mine, web_sessions.csrf_token(runtime, theirs)),
        "no cookie": (None, token),
        "non-ascii": (mine, "é" * 64),
    }
    for what, (cookie, submitted) in cases.items():
        with pytest.raises(PermissionDeniedError) as refused_form:
            web_sessions.check_csrf(runtime, cookie, submitted)
        assert refused_form.value.code == "CsrfFailed", what
        assert refused_form.value.status_code == 403 and "page again" in refused_form.value.hint


def test_the_sign_in_form_is_bound_to_a_short_lived_pre_session_cookie(
    runtime: Runtime, people: Any, fake_clock: ManualClock
) -> None:
    value = web_sessions.presession_cookie(None)
    form = web_sessions.presession_csrf(runtime, value)
    web_sessions.check_presession_csrf(runtime, value, form)
    assert web_sessions.presession_cookie(value) == value  # the same browser keeps its value
    other = web_sessions.presession_cookie(None)
    for cookie, submitted in ((other, form), (None, form), (value, None), (value, form.upper()), ("1.2", form)):
        with pytest.raises(PermissionDeniedError) as refused_form:
            web_sessions.check_presession_csrf(runtime, cookie, submitted)
        assert refused_form.value.code == "CsrfFailed"
    fake_clock.advance(timedelta(minutes=55))
    assert web_sessions.presession_cookie(value) != value  # too close to its end to show a new form with
    web_sessions.check_presession_csrf(runtime, value, form)  # a form shown earlier still goes through
    fake_clock.advance(timedelta(minutes=6))
    with pytest.raises(PermissionDeniedError) as old:
        web_sessions.check_presession_csrf(runtime, value, form)
    assert "too old" in old.value.message


def test_a_token_holder_signing_in_counts_against_the_address_not_a_name(runtime: Runtime, people: Any) -> None:
    cookie = web_sessions.sign_in_with_token(runtime, token=people["bob"], client=HERE).cookie
    assert web_sessions.actor_from_cookie(runtime, cookie) is not None
    with runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 0  # a success leaves none
        token = session.scalars(select(ApiToken).where(ApiToken.user_id == actor(runtime, "bob").account_id)).one()
        assert session.scalars(select(WebSession.token_id)).one() == token.id


def test_nul_and_control_characters_from_outside_are_answered_not_crashed_on(runtime: Runtime, people: Any) -> None:
    # PostgreSQL refuses NUL in text: what comes from a form or a header must never reach a query raw.
    assert refused(runtime, "bo\x00b", BOB_PASSWORD).code == "SignInFailed"
    signed = web_sessions.sign_in_with_password(
        runtime, name="bob", password=BOB_PASSWORD, client="10.0.0.1\x00", user_agent="agent\x00\n\x1b[31m"
    )
    with runtime.database.session() as session:
        row = session.scalars(select(WebSession)).one()
        assert (row.user_agent, row.client) == ("agent???[31m", "10.0.0.1?")
    assert web_sessions.actor_from_cookie(runtime, signed.cookie) is not None
    with pytest.raises(NotFoundError):
        web_sessions.set_password(runtime, actor(runtime, "alice"), "ca\x00rol", "a password for nobody")
