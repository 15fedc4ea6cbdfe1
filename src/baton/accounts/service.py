"""Users, organizations, memberships and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.models import ORGANIZATION, ROLES, USER, Account, ApiToken, Membership
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
            hint="Name an organization; create one first with `baton org create NAME --admin USER`.",
        )
    if user.kind != USER:
        raise BadRequestError(
            f"'{user.name}' is an organization; only users can be members",
            hint="Add each user of that organization by name instead.",
        )
    if role not in ROLES:
        raise BadRequestError(f"Unknown role '{role}'", hint="Use one of: " + ", ".join(ROLES))
    membership = session.scalar(
        select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
    )
    if membership is None:
        membership = Membership(org_id=org.id, user_id=user.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def organizations_of(session: Session, user: Account) -> list[tuple[Account, str]]:
    rows = session.execute(
        select(Account, Membership.role)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == user.id)
        .order_by(Account.name)
    ).all()
    return [(org, role) for org, role in rows]


def role_in_namespace(session: Session, user: Account | None, namespace: Account) -> str | None:
    """The user's role over everything the namespace owns, or None (a read-only token caps it at read)."""
    if user is None:
        return None
    role: str | None
    if user.is_admin or user.id == namespace.id:
        role = "admin"
    elif namespace.kind != ORGANIZATION:
        return None
    else:
        role = session.scalar(
            select(Membership.role).where(Membership.org_id == namespace.id, Membership.user_id == user.id)
        )
    return "read" if role is not None and user.token_role == "read" else role


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_token(
    session: Session, user: Account, *, name: str = "default", role: str = "write"
) -> IssuedToken:
    if user.kind != USER:
        raise BadRequestError("Tokens belong to users, not organizations")
    if role not in ("read", "write"):
        raise BadRequestError(f"Unknown token role '{role}'", hint="Use 'read' or 'write'.")
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=hash_token(value), display_prefix=value[:10], role=role
    )
    session.add(token)
    session.flush()
    return IssuedToken(token=token, value=value)


def authenticate(session: Session, value: str) -> tuple[Account, ApiToken]:
    """The user a token belongs to; raises AuthenticationError for unknown or revoked tokens."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value)))
    if token is None or token.revoked:
        raise AuthenticationError("Invalid or revoked token")
    user = session.get(Account, token.user_id)
    if user is None:
        raise AuthenticationError("The token's user no longer exists")
    user.token_role = token.role
    return user, token


def revoke_token(session: Session, user: Account, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"No token {token_id} for user '{user.name}'")
    token.revoked = True


def require_namespace_role(session: Session, user: Account | None, namespace: Account, needed: str) -> None:
    role = role_in_namespace(session, user, namespace)
    if role is None or ROLES.index(role) < ROLES.index(needed):
        who = user.name if user else "anonymous"
        raise PermissionDeniedError(
            f"'{who}' needs the '{needed}' role in '{namespace.name}'",
            hint=f"Ask an admin of '{namespace.name}' to grant it.",
        )
