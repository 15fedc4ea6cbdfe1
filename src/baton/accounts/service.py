"""Users, organizations, memberships and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import ADMIN, ALL_SCOPES, WRITE, Actor, parse_scopes, scopes_text
from baton.accounts.models import ORGANIZATION, ROLES, USER, Account, ApiToken, Membership
from baton.core.database import utcnow
from baton.core.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
TOKEN_PREFIX = "baton_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 365

# Names the HTTP routes use at the top level, so that /<name>/<repo> can never shadow them.
RESERVED_NAMES = frozenset(
    {
        "api",
        "datasets",
        "spaces",
        "models",
        "buckets",
        "collections",
        "docs",
        "static",
        "assets",
        "login",
        "logout",
        "join",
        "new",
        "settings",
        "organizations",
        "orgs",
        "users",
        "admin",
        "commons",
        "challenges",
        "challenge",
        "arena",
        "talent",
        "provenance",
        "evaluation",
        "healthz",
        "health",
        "metrics",
        "openapi.json",
        "redoc",
        "favicon.ico",
        "robots.txt",
        "resolve",
        "blob",
        "tree",
        "raw",
        "lfs",
        "xet",
        "baton",
        "help",
        "about",
        "search",
        "pricing",
        "notifications",
        "papers",
        "jobs",
        "reports",
        "decisions",
    }
)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``value`` is shown once and never stored."""

    token: ApiToken
    value: str


def validate_account_name(name: str) -> str:
    if not NAME_PATTERN.match(name) or ".." in name or name.endswith((".git", ".")):
        raise InvalidNameError(f"'{name[:100]}' is not a valid user or organization name")
    if name.lower() in RESERVED_NAMES:
        raise InvalidNameError(
            f"'{name}' is reserved: Baton's own URLs use it",
            hint="Choose another name; reserved: " + ", ".join(sorted(RESERVED_NAMES)[:12]) + ", ...",
        )
    return name


def find_account(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def get_account(session: Session, name: str) -> Account:
    account = find_account(session, name)
    if account is None:
        raise NotFoundError(f"No user or organization named '{name}'", hint="Check the spelling.")
    return account


def _ensure_free(session: Session, name: str) -> None:
    clash = session.scalar(select(Account).where(Account.name.ilike(name)))
    if clash is not None:
        raise ConflictError(f"The name '{name}' is taken", code="NameTaken", hint="Choose another name.")


def create_user(
    session: Session, name: str, *, fullname: str = "", email: str | None = None, is_admin: bool = False
) -> Account:
    validate_account_name(name)
    _ensure_free(session, name)
    user = Account(name=name, kind=USER, fullname=fullname or name, email=email, is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def create_organization(session: Session, name: str, *, creator: Account, fullname: str = "") -> Account:
    validate_account_name(name)
    _ensure_free(session, name)
    org = Account(name=name, kind=ORGANIZATION, fullname=fullname or name)
    session.add(org)
    session.flush()
    session.add(Membership(org_id=org.id, user_id=creator.id, role="admin"))
    session.flush()
    return org


def set_membership(session: Session, org: Account, user: Account, role: str) -> Membership:
    if org.kind != ORGANIZATION:
        raise BadRequestError(
            f"'{org.name}' is a user, not an organization",
            hint=f"Name an organization; create one first: baton org create NAME --admin {user.name}",
        )
    if user.kind != USER:
        raise BadRequestError(
            f"'{user.name}' is an organization; only users can be members",
            hint="Add each user of that organization by name instead.",
        )
    if role not in ROLES:
        raise BadRequestError(f"Unknown role '{role}'", hint="Use one of: " + ", ".join(ROLES))
    membership = session.scalar(select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id))
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def organizations_of(session: Session, account_id: int) -> list[tuple[Account, str]]:
    rows = session.execute(
        select(Account, Membership.role)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == account_id)
        .order_by(Account.name)
    ).all()
    return [(org, role) for org, role in rows]


def role_in_namespace(session: Session, actor: Actor | None, namespace: Account) -> str | None:
    """The actor's role over everything the namespace owns, or None.

    The token's scopes cap the role: without ``write`` it is at most read, without ``admin`` at
    most write.
    """
    if actor is None:
        return None
    role: str | None
    if actor.is_admin or actor.account_id == namespace.id:
        role = "admin"
    elif namespace.kind != ORGANIZATION:
        return None
    else:
        role = session.scalar(
            select(Membership.role).where(Membership.org_id == namespace.id, Membership.user_id == actor.account_id)
        )
    if role is None:
        return None
    if not actor.can(WRITE):
        return "read"
    if role == "admin" and not actor.can(ADMIN):
        return "write"
    return role


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def actor_for(account: Account, scopes: Iterable[str] = ALL_SCOPES) -> Actor:
    """The account acting directly (CLI, jobs), with every scope unless told otherwise."""
    return Actor(account_id=account.id, name=account.name, is_admin=account.is_admin, scopes=frozenset(scopes))


def act_as(session: Session, name: str) -> Actor:
    """The named account acting directly, with every scope (the CLI on the server's machine)."""
    return actor_for(get_account(session, name))


def actor_for_role_check(actor: Actor) -> Actor:
    """The same account with every scope: to tell "the account may not" from "this token may not"."""
    return replace(actor, scopes=ALL_SCOPES)


def issue_token(
    session: Session,
    user: Account,
    *,
    name: str = "default",
    scopes: Iterable[str] = ("write",),
    expires_in_days: int = DEFAULT_TOKEN_DAYS,
    now: datetime | None = None,
) -> IssuedToken:
    """A new token for ``user`` with ``scopes`` (names or the presets read/write)."""
    if user.kind != USER:
        raise BadRequestError("Tokens belong to users, not organizations")
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise BadRequestError(
            f"A token may last 1 to {MAX_TOKEN_DAYS} days, not {expires_in_days}",
            hint=f"Pass --expires-in between 1 and {MAX_TOKEN_DAYS} (default {DEFAULT_TOKEN_DAYS}).",
        )
    if not 1 <= len(name) <= 100:
        raise BadRequestError("A token's name must be 1 to 100 characters", hint="Pass a short label.")
    chosen = parse_scopes(scopes)
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = now or utcnow()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(value),
        display_prefix=value[:10],
        scopes=scopes_text(chosen),
        created_at=created,
        expires_at=created + timedelta(days=expires_in_days),
    )
    session.add(token)
    session.flush()
    return IssuedToken(token=token, value=value)


def authenticate_token(session: Session, value: str, now: datetime | None = None) -> tuple[Actor, ApiToken]:
    """The actor behind a token; raises AuthenticationError for unknown, revoked or expired tokens."""
    if not value.isascii() or len(value) > 200:
        raise AuthenticationError("Invalid or revoked token")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value)))
    if token is None or token.revoked:
        raise AuthenticationError("Invalid or revoked token")
    return actor_from_token(session, token, now), token


def actor_from_token(session: Session, token: ApiToken, now: datetime | None = None) -> Actor:
    """The actor a stored token stands for, if it is still good (not revoked, not expired)."""
    if token.revoked:
        raise AuthenticationError("Invalid or revoked token")
    if token.expires_at <= (now or utcnow()):
        owner = session.get(Account, token.user_id)
        owner_name = owner.name if owner is not None else "NAME"
        raise AuthenticationError(
            f"The token '{token.name}' ({token.display_prefix}...) expired on {token.expires_at:%Y-%m-%d}",
            code="TokenExpired",
            hint=f"Issue a new one: baton user token create {owner_name} (tokens last 90 days unless "
            "--expires-in says otherwise, at most 365).",
        )
    user = session.get(Account, token.user_id)
    if user is None:
        raise AuthenticationError("The token's user no longer exists")
    return Actor(
        account_id=user.id,
        name=user.name,
        is_admin=user.is_admin,
        scopes=token.scope_set,
        token_id=token.id,
        token_expires_at=token.expires_at,
    )


def authenticate(session: Session, value: str, now: datetime | None = None) -> Actor:
    """The actor behind a token (see ``authenticate_token``)."""
    return authenticate_token(session, value, now)[0]


def account_of(session: Session, actor: Actor) -> Account:
    """The stored account an actor acts as."""
    account = session.get(Account, actor.account_id)
    if account is None:
        raise AuthenticationError("The token's user no longer exists")
    return account


def list_tokens(session: Session, user: Account) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_token(session: Session, user: Account, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
    if token is None or token.user_id != user.id:
        raise NotFoundError(
            f"No token {token_id} for user '{user.name}'",
            code="TokenNotFound",
            hint=f"List the tokens: baton user token list {user.name}",
        )
    token.revoked = True
    session.flush()
    return token


def require_namespace_role(session: Session, actor: Actor | None, namespace: Account, needed: str) -> None:
    role = role_in_namespace(session, actor, namespace)
    if role is None or ROLES.index(role) < ROLES.index(needed):
        who = actor.name if actor else "anonymous"
        raise PermissionDeniedError(
            f"'{who}' needs the '{needed}' role in '{namespace.name}'",
            hint=f"Ask an admin of '{namespace.name}' to grant it.",
        )
