"""Signing in to the web pages: database sessions behind an opaque cookie, passwords, CSRF and limits.

The interface the pages call (each function runs its own transactions: a failed sign-in must be
counted although the call fails, and argon2 runs outside SQLite's write lock):

- ``sign_in_with_password(runtime, name=, password=, client=, user_agent=)`` and
  ``sign_in_with_token(runtime, token=, client=, user_agent=)`` -> ``SignedIn(actor, cookie)``;
  any failure is one ``AuthenticationError`` (the same words whether the name exists or not),
  too many failures a ``RateLimitedError`` with ``Retry-After``.
- ``actor_from_cookie(runtime, value)`` -> the Actor, or None (unknown, ended, expired, idle too
  long, its token revoked or expired, its account gone).
- ``sign_out(runtime, value)``, ``end_sessions(runtime, account_id)``.
- ``set_password(runtime, actor, name, new, current_password=, client=, keep_cookie=)``: a user
  changes their own (with the current one), an operator sets anyone's; ``reset_password`` is the
  same without an actor, for the CLI on the server's machine. Either ends the account's sessions.
- ``csrf_token(runtime, cookie)`` / ``check_csrf(runtime, cookie, submitted)`` for forms of a
  signed-in person; ``presession_cookie(value)`` / ``presession_csrf(runtime, value)`` /
  ``check_presession_csrf(runtime, value, submitted)`` for the sign-in form itself (login CSRF).
- ``session_cookie(value, https=)``, ``presession_cookie_options(value, https=)`` and
  ``cleared_cookie(name, https=)``: the keyword arguments of ``Response.set_cookie``.

What is stored: the cookie holds 32 random bytes (base64url); the database holds only their
sha256, so a copy of the database opens no session. A session ends 12 hours after it opened, or
after 2 hours without a request, at sign-out, when its account's password changes, and (when it
was opened with a token) when that token is revoked or expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from baton.accounts import passwords
from baton.accounts import service as accounts
from baton.accounts.actor import ALL_SCOPES, WRITE, Actor
from baton.accounts.models import (
    BY_PASSWORD,
    BY_TOKEN,
    USER,
    Account,
    AccountPassword,
    ApiToken,
    SignInAttempt,
    WebSession,
)
from baton.core.database import utcnow
from baton.core.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from baton.core.runtime import Runtime

COOKIE_NAME: Final = "baton_session"
PRESESSION_COOKIE_NAME: Final = "baton_presession"
SESSION_LIFETIME: Final = timedelta(hours=12)
IDLE_TIMEOUT: Final = timedelta(hours=2)
SEEN_EVERY: Final = timedelta(minutes=1)  # last_seen_at is written at most this often
PRESESSION_LIFETIME: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta


# Failed sign-ins allowed (refused ones are not counted) before the next attempt must wait.
FAILURES_PER_NAME_AND_CLIENT: Final = Limit(5, timedelta(minutes=15))
FAILURES_PER_CLIENT: Final = Limit(50, timedelta(hours=1))
ATTEMPTS_KEPT: Final = max(FAILURES_PER_NAME_AND_CLIENT.window, FAILURES_PER_CLIENT.window)

USER_AGENT_LENGTH: Final = 200
CLIENT_LENGTH: Final = 64
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PRESESSION_VALUE = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{32})$")

SIGN_IN_FAILED: Final = "The user name or password is wrong"
_SIGN_IN_HINT: Final = "Check both and try again; an operator can set a new password: baton user set-password NAME"


class PasswordChange(NamedTuple):
    """A password set: how many web sessions it ended, and the rotated session's cookie (if one was kept)."""

    sessions_ended: int
    cookie: str | None


class SignedIn(NamedTuple):
    """Who signed in, and the value for the ``baton_session`` cookie (shown once, never stored)."""

    actor: Actor
    cookie: str


# --------------------------------------------------------------------------------------------- cookies


def session_cookie(value: str, *, https: bool) -> dict[str, Any]:
    """``Response.set_cookie`` arguments for the session cookie (HttpOnly, SameSite=Lax, Path=/)."""
    return {
        "key": COOKIE_NAME,
        "value": value,
        "max_age": int(SESSION_LIFETIME.total_seconds()),
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": https,
    }


def presession_cookie_options(value: str, *, https: bool) -> dict[str, Any]:
    """``Response.set_cookie`` arguments for the short-lived cookie the sign-in form is bound to."""
    return session_cookie(value, https=https) | {
        "key": PRESESSION_COOKIE_NAME,
        "max_age": int(PRESESSION_LIFETIME.total_seconds()),
    }


def cleared_cookie(name: str, *, https: bool) -> dict[str, Any]:
    """``Response.delete_cookie`` arguments that remove ``name`` (same path and attributes as set)."""
    return {"key": name, "path": "/", "httponly": True, "samesite": "lax", "secure": https}


def _session_id(value: str | None) -> str | None:
    """The stored id (sha256) of a well-formed cookie value; None for anything else."""
    if not value or not _COOKIE_VALUE.match(value):
        return None
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def _printable(text: str | None, length: int) -> str:
    """Header-borne text as stored: printable characters only (PostgreSQL refuses NUL), cut to ``length``."""
    return "".join(character if character.isprintable() else "?" for character in (text or "")[:length])


def _client(client: str | None) -> str:
    return _printable(client, CLIENT_LENGTH) or "unknown"


# --------------------------------------------------------------------------------------------- limits


def _name_key(runtime: Runtime, name: str) -> str:
    key = runtime.signer.derived_key("sign-in-attempts")
    return hmac.new(key, name.casefold()[:200].encode(), hashlib.sha256).hexdigest()


def _over(session: Session, limit: Limit, now: datetime, *conditions: Any) -> float:
    """Seconds until one more failure fits under ``limit`` (0 when it fits now)."""
    since = now - limit.window
    recent = select(SignInAttempt.at).where(SignInAttempt.at > since, *conditions)
    count = session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if count < limit.failures:
        return 0.0
    # The failure whose leaving the window brings the count under the limit.
    oldest_needed = session.scalar(recent.order_by(SignInAttempt.at.desc()).offset(limit.failures - 1).limit(1))
    if oldest_needed is None:
        return 0.0
    return max(1.0, (oldest_needed + limit.window - now).total_seconds())


def _count_attempt(runtime: Runtime, name_key: str | None, client: str) -> int:
    """Refuse when over a limit; else record this attempt as failed (undone on success) and return its id.

    Recording before the password is checked means parallel guesses are all counted.
    """
    runtime.rate_limiter.hit("sign-in", "address:" + client)  # any sign-in, per address, in memory
    with runtime.database.session(write=True) as session:
        now = utcnow()
        wait = _over(session, FAILURES_PER_CLIENT, now, SignInAttempt.client == client)
        if name_key is not None:
            pair = _over(
                session,
                FAILURES_PER_NAME_AND_CLIENT,
                now,
                SignInAttempt.client == client,
                SignInAttempt.name_key == name_key,
            )
            wait = max(wait, pair)
        if wait > 0:
            error = RateLimitedError("failed sign-ins", wait)
            error.hint = (
                f"Wait {error.headers['Retry-After']} seconds and try again; after "
                f"{FAILURES_PER_NAME_AND_CLIENT.failures} wrong passwords for one name, Baton waits before the next. "
                "Forgot it? An operator can set a new one: baton user set-password NAME"
            )
            raise error
        attempt = SignInAttempt(name_key=name_key or "", client=client, at=now)
        session.add(attempt)
        session.flush()
        return attempt.id


def _forget_attempts(session: Session, attempt_id: int, name_key: str | None, client: str) -> None:
    """After a success: this attempt, and this name's failures from this address (no one else's)."""
    condition = SignInAttempt.id == attempt_id
    if name_key is not None:
        condition = or_(condition, (SignInAttempt.name_key == name_key) & (SignInAttempt.client == client))
    session.execute(delete(SignInAttempt).where(condition))


# --------------------------------------------------------------------------------------------- sign-in


def _failed() -> AuthenticationError:
    return AuthenticationError(SIGN_IN_FAILED, code="SignInFailed", hint=_SIGN_IN_HINT)


def _open(
    session: Session,
    account_id: int,
    *,
    opened_by: str,
    token: ApiToken | None,
    client: str,
    user_agent: str,
    now: datetime,
) -> str:
    value = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    if token is not None:
        expires = min(expires, token.expires_at)
    session.add(
        WebSession(
            id=hashlib.sha256(value.encode("ascii")).hexdigest(),
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            opened_by=opened_by,
            token_id=token.id if token is not None else None,
            user_agent=_printable(user_agent, USER_AGENT_LENGTH),
            client=client,
        )
    )
    session.flush()
    return value


def _password_actor(account: Account) -> Actor:
    # A password stands for the person: every scope their account has.
    return Actor(account_id=account.id, name=account.name, is_admin=account.is_admin, scopes=ALL_SCOPES)


def sign_in_with_password(
    runtime: Runtime, *, name: str, password: str, client: str | None, user_agent: str = ""
) -> SignedIn:
    """Check a user's password and open a web session.

    Unknown names, organizations, users without a password and wrong passwords all get the same
    ``AuthenticationError`` after the same argon2 work. Failures count against the name from this
    address and against the address (``RateLimitedError`` past the limits).
    """
    client = _client(client)
    key = _name_key(runtime, name)
    attempt = _count_attempt(runtime, key, client)
    with runtime.database.session() as session:
        account = accounts.find_account(session, name) if accounts.NAME_PATTERN.match(name) else None
        stored = session.get(AccountPassword, account.id) if account is not None and account.kind == USER else None
        account_id = account.id if account is not None else None
        stored_hash = stored.password_hash if stored is not None else None
    if not passwords.verify_password(stored_hash, password) or stored_hash is None or account_id is None:
        raise _failed()
    fresh_hash = passwords.hash_password(password) if passwords.needs_rehash(stored_hash) else None
    with runtime.database.session(write=True) as session:
        now = utcnow()
        account = session.get(Account, account_id)
        record = session.get(AccountPassword, account_id)
        if account is None or record is None or record.password_hash != stored_hash:
            raise _failed()  # deleted, or the password changed while this one was being checked
        if fresh_hash is not None:
            record.password_hash = fresh_hash
        _forget_attempts(session, attempt, key, client)
        cookie = _open(
            session, account.id, opened_by=BY_PASSWORD, token=None, client=client, user_agent=user_agent, now=now
        )
        return SignedIn(_password_actor(account), cookie)


def sign_in_with_token(runtime: Runtime, *, token: str, client: str | None, user_agent: str = "") -> SignedIn:
    """Open a web session with an API token; the session has the token's scopes and ends with it.

    A wrong or revoked token is the generic ``AuthenticationError``; an expired one says so (only
    its holder can know the token). Failures count against the address.
    """
    client = _client(client)
    attempt = _count_attempt(runtime, None, client)
    with runtime.database.session(write=True) as session:
        now = utcnow()
        try:
            actor, api_token = accounts.authenticate_token(session, token.strip(), now)
        except AuthenticationError as error:
            if error.code == "TokenExpired":
                raise
            raise AuthenticationError(
                "That token is not valid (or was revoked)",
                code="SignInFailed",
                hint="Paste the whole token (it starts with 'baton_'), or create one: baton user token create NAME",
            ) from None
        _forget_attempts(session, attempt, None, client)
        cookie = _open(
            session,
            actor.account_id,
            opened_by=BY_TOKEN,
            token=api_token,
            client=client,
            user_agent=user_agent,
            now=now,
        )
        return SignedIn(actor, cookie)


# --------------------------------------------------------------------------------------------- sessions


def _live(row: WebSession | None, now: datetime) -> bool:
    return row is not None and row.ended_at is None and row.expires_at > now and row.last_seen_at + IDLE_TIMEOUT > now


def actor_from_cookie(runtime: Runtime, value: str | None) -> Actor | None:
    """The signed-in person behind a session cookie, or None.

    None when the value is malformed or unknown, the session ended, expired (12 h) or idled
    (2 h), its token was revoked or expired, or its account is gone. A live session's
    ``last_seen_at`` is written at most once a minute.
    """
    session_id = _session_id(value)
    if session_id is None:
        return None
    with runtime.database.session() as session:
        now = utcnow()
        row = session.get(WebSession, session_id)
        if row is None or not _live(row, now):
            return None
        account = session.get(Account, row.account_id)
        if account is None or account.kind != USER:
            return None
        if row.opened_by == BY_TOKEN:
            token = session.get(ApiToken, row.token_id) if row.token_id is not None else None
            if token is None or token.user_id != account.id:
                return None
            try:
                actor = accounts.actor_from_token(session, token, now)
            except AuthenticationError:
                return None
        else:
            actor = _password_actor(account)
        stale = now - row.last_seen_at >= SEEN_EVERY
    if stale:
        with runtime.database.session(write=True) as session:
            session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.last_seen_at <= now - SEEN_EVERY)
                .values(last_seen_at=now)
            )
    return actor


def sign_out(runtime: Runtime, value: str | None) -> bool:
    """End the session behind ``value``; False when there was none to end (signing out twice is harmless)."""
    session_id = _session_id(value)
    if session_id is None:
        return False
    with runtime.database.session(write=True) as session:
        result = session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))


def _end_all(session: Session, account_id: int, now: datetime) -> int:
    result = session.execute(
        update(WebSession)
        .where(WebSession.account_id == account_id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class SessionInfo:
    """One live web session, as its owner sees it on the account settings page."""

    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    opened_by: str
    user_agent: str
    client: str
    current: bool


SESSIONS_LISTED: Final = 50


def active_sessions(runtime: Runtime, account_id: int, current_cookie: str | None = None) -> list[SessionInfo]:
    """The account's live web sessions, most recently seen first (at most 50); ``current`` marks the caller's."""
    current_id = _session_id(current_cookie)
    with runtime.database.session() as session:
        now = utcnow()
        rows = session.scalars(
            select(WebSession)
            .where(
                WebSession.account_id == account_id,
                WebSession.ended_at.is_(None),
                WebSession.expires_at > now,
                WebSession.last_seen_at > now - IDLE_TIMEOUT,
            )
            .order_by(WebSession.last_seen_at.desc(), WebSession.created_at.desc())
            .limit(SESSIONS_LISTED)
        )
        return [
            SessionInfo(
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                expires_at=row.expires_at,
                opened_by=row.opened_by,
                user_agent=row.user_agent,
                client=row.client,
                current=row.id == current_id,
            )
            for row in rows
        ]


def end_other_sessions(runtime: Runtime, account_id: int, keep_cookie: str | None) -> int:
    """End every web session of the account except the one behind ``keep_cookie``; returns how many ended."""
    keep = _session_id(keep_cookie)
    with runtime.database.session(write=True) as session:
        condition = (WebSession.account_id == account_id) & WebSession.ended_at.is_(None)
        if keep is not None:
            condition = condition & (WebSession.id != keep)
        result = session.execute(update(WebSession).where(condition).values(ended_at=utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(runtime: Runtime, account_id: int) -> int:
    """End every web session of an account (e.g. when it is compromised); returns how many were open."""
    with runtime.database.session(write=True) as session:
        return _end_all(session, account_id, utcnow())


def prune(runtime: Runtime) -> dict[str, Any]:
    """The periodic ``accounts.prune_sign_ins`` job: drop sessions that can no longer be used, and old attempts."""
    with runtime.database.session(write=True) as session:
        now = utcnow()
        sessions = session.execute(
            delete(WebSession).where(
                or_(
                    WebSession.expires_at <= now,
                    WebSession.ended_at.is_not(None),
                    WebSession.last_seen_at <= now - IDLE_TIMEOUT,
                )
            )
        )
        attempts = session.execute(delete(SignInAttempt).where(SignInAttempt.at <= now - ATTEMPTS_KEPT))
        return {
            "sessions": int(getattr(sessions, "rowcount", 0) or 0),
            "attempts": int(getattr(attempts, "rowcount", 0) or 0),
        }


# --------------------------------------------------------------------------------------------- passwords


def _user_account(session: Session, name: str) -> Account:
    if not accounts.NAME_PATTERN.match(name):
        raise NotFoundError(
            f"No user named '{name[:96]}'", hint="Check the spelling (a new user: baton user create NAME)."
        )
    account = accounts.get_account(session, name)
    if account.kind != USER:
        raise BadRequestError(
            f"'{name}' is an organization; organizations do not sign in and have no password",
            code="NotAUser",
            hint="Set a password for each member instead: baton user set-password NAME",
        )
    return account


def _store(runtime: Runtime, account_id: int, password_hash: str, keep_cookie: str | None) -> PasswordChange:
    """Store the hash and end the account's sessions; the one behind ``keep_cookie`` is replaced by a new one."""
    keep = _session_id(keep_cookie)
    with runtime.database.session(write=True) as session:
        now = utcnow()
        record = session.get(AccountPassword, account_id)
        if record is None:
            session.add(AccountPassword(account_id=account_id, password_hash=password_hash, changed_at=now))
        else:
            record.password_hash = password_hash
            record.changed_at = now
        current = session.get(WebSession, keep) if keep is not None else None
        kept = current is not None and current.account_id == account_id and _live(current, now)
        ended = _end_all(session, account_id, now)
        if current is None or not kept:
            return PasswordChange(ended, None)
        token = session.get(ApiToken, current.token_id) if current.token_id is not None else None
        cookie = _open(
            session,
            account_id,
            opened_by=current.opened_by,
            token=token,
            client=current.client,
            user_agent=current.user_agent,
            now=now,
        )
        return PasswordChange(ended - 1, cookie)


def reset_password(runtime: Runtime, name: str, new_password: str) -> PasswordChange:
    """Set a user's password without asking for the old one (the CLI, on the server's machine).

    Ends every web session of the user.
    """
    with runtime.database.session() as session:
        account = _user_account(session, name)
        account_id, account_name = account.id, account.name
    password = passwords.check_policy(new_password, user_name=account_name)
    return _store(runtime, account_id, passwords.hash_password(password), None)


def set_password(
    runtime: Runtime,
    actor: Actor,
    name: str,
    new_password: str,
    *,
    current_password: str | None = None,
    client: str | None = None,
    keep_cookie: str | None = None,
) -> PasswordChange:
    """Set the password of user ``name`` as ``actor``.

    - A user changes their own and must give the current one (wrong guesses count as failed
      sign-ins, so a stolen token cannot be used to guess it). A user who has no password yet
      asks an operator for a first one, so a stolen token cannot plant a password either.
    - An operator (a site admin acting with the admin scope) sets or resets anyone's, without it.

    Every web session of the user ends; when ``keep_cookie`` is the session making the change,
    it is replaced by a new session whose cookie is returned (set it in the response); other
    sessions are counted in ``sessions_ended``.
    """
    own = name == actor.name
    if not own:
        actor.require_operator(f"set the password of '{name[:96]}'")
    actor.require(WRITE, "change a password")
    operator = actor.is_operator
    with runtime.database.session() as session:
        account = _user_account(session, name)
        record = session.get(AccountPassword, account.id)
        account_id, account_name = account.id, account.name
        stored_hash = record.password_hash if record is not None else None
    if own and account_id != actor.account_id:
        raise NotFoundError(f"No user named '{name}'", hint="Check the spelling.")
    password = passwords.check_policy(new_password, user_name=account_name)
    # An operator changing their own password may skip the current one (they could reset it anyway),
    # but when one is given it is checked: the account page always asks for it.
    check_current = own and (not operator or (current_password is not None and stored_hash is not None))
    if own and not operator and stored_hash is None:
        raise PermissionDeniedError(
            f"'{account_name}' has no password yet; an operator sets the first one",
            code="NoPasswordYet",
            hint=f"Ask an operator to run this on the server: baton user set-password {account_name}",
        )
    if check_current:
        if current_password is None or stored_hash is None:
            raise BadRequestError(
                "Changing your password needs your current one",
                code="CurrentPasswordNeeded",
                hint="Send current_password with the new one; forgot it? Ask an operator to reset it.",
            )
        key = _name_key(runtime, account_name)
        where = _client(client)
        attempt = _count_attempt(runtime, key, where)
        if not passwords.verify_password(stored_hash, current_password):
            # 403, not 401: the caller is who they say (their token or session is good).
            raise PermissionDeniedError(
                "The current password is wrong",
                code="WrongPassword",
                hint="Type your current password again; forgot it? Ask an operator to reset it.",
            )
        with runtime.database.session(write=True) as session:
            _forget_attempts(session, attempt, key, where)
    return _store(runtime, account_id, passwords.hash_password(password), keep_cookie)


def is_user(runtime: Runtime, name: str) -> bool:
    """Whether ``name`` is a user (not an organization, not unknown): someone who may have a password."""
    if not accounts.NAME_PATTERN.match(name):
        return False
    with runtime.database.session() as session:
        account = accounts.find_account(session, name)
        return account is not None and account.kind == USER


def has_password(runtime: Runtime, name: str) -> bool:
    """Whether user ``name`` can sign in with a password."""
    with runtime.database.session() as session:
        account = accounts.find_account(session, name)
        return account is not None and session.get(AccountPassword, account.id) is not None


# --------------------------------------------------------------------------------------------- CSRF


def _csrf_error(what: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"This form cannot be accepted: {what}",
        code="CsrfFailed",
        hint="Open the page again and send the form from there (forms expire when you sign out or in again).",
    )


def csrf_token(runtime: Runtime, cookie_value: str) -> str:
    """The value a signed-in page puts in its forms: an HMAC of the session's id, never the cookie itself."""
    session_id = _session_id(cookie_value)
    if session_id is None:
        raise _csrf_error("there is no sign-in to bind it to")
    key = runtime.signer.derived_key("web-csrf")
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def check_csrf(runtime: Runtime, cookie_value: str | None, submitted: str | None) -> None:
    """Refuse a form whose CSRF value is missing or was made for another session (PermissionDeniedError, 403)."""
    if not cookie_value or _session_id(cookie_value) is None:
        raise _csrf_error("you are not signed in")
    if not submitted:
        raise _csrf_error("its security value is missing")
    if not hmac.compare_digest(csrf_token(runtime, cookie_value).encode(), submitted.encode("utf-8", "replace")):
        raise _csrf_error("its security value belongs to another sign-in or page")


def presession_cookie(current: str | None = None) -> str:
    """The pre-session cookie for an anonymous form: ``current`` when still good, else a fresh one."""
    if current is not None and _presession_age(current) is not None:
        return current
    return f"{int(utcnow().timestamp())}.{secrets.token_urlsafe(24)}"


def _presession_age(value: str) -> timedelta | None:
    match = _PRESESSION_VALUE.match(value)
    if match is None:
        return None
    age = utcnow() - datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    # Reused while young enough that a form shown with it can still be sent.
    if age < -SEEN_EVERY or age > PRESESSION_LIFETIME - timedelta(minutes=10):
        return None
    return age


def presession_csrf(runtime: Runtime, value: str) -> str:
    """The value the sign-in form carries: an HMAC of the pre-session cookie (double submit, signed)."""
    key = runtime.signer.derived_key("web-presession-csrf")
    return hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def check_presession_csrf(runtime: Runtime, value: str | None, submitted: str | None) -> None:
    """Refuse an anonymous form not sent from Baton's own page in this browser (login CSRF)."""
    match = _PRESESSION_VALUE.match(value or "")
    if value is None or match is None:
        raise _csrf_error("the page's cookie is missing (are cookies blocked?)")
    age = utcnow() - datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    if age > PRESESSION_LIFETIME or age < -SEEN_EVERY:
        raise _csrf_error("the page is too old")
    if not submitted:
        raise _csrf_error("its security value is missing")
    if not hmac.compare_digest(presession_csrf(runtime, value).encode(), submitted.encode("utf-8", "replace")):
        raise _csrf_error("its security value does not match this browser")
