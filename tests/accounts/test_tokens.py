"""Tokens: scopes cap what a request may do, tokens expire, and revoking one stops it everywhere."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from baton.accounts import service as accounts
from baton.accounts.actor import ALL_SCOPES, Actor, parse_scopes
from baton.accounts.models import ApiToken
from baton.core.database import utcnow
from baton.core.errors import AuthenticationError, BadRequestError, PermissionDeniedError
from baton.core.runtime import Runtime


def _token(runtime: Runtime, user: str, **options: Any) -> str:
    with runtime.database.session(write=True) as session:
        return accounts.issue_token(session, accounts.get_account(session, user), **options).value


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_scopes_parse_from_names_and_presets() -> None:
    assert parse_scopes(["write"]) == ALL_SCOPES
    assert parse_scopes(["read"]) == frozenset({"read"})
    assert parse_scopes(["vote,review"]) == frozenset({"read", "vote", "review"})
    with pytest.raises(BadRequestError) as refused:
        parse_scopes(["vote", "delete-everything"])
    assert refused.value.code == "UnknownScope" and "delete-everything" in refused.value.message


def test_an_actor_is_immutable_and_says_which_scope_is_missing() -> None:
    actor = Actor(account_id=1, name="rae", is_admin=False, scopes=frozenset({"read"}))
    with pytest.raises(AttributeError):
        actor.scopes = ALL_SCOPES  # type: ignore[misc]
    with pytest.raises(PermissionDeniedError) as refused:
        actor.require("vote", "vote")
    assert refused.value.code == "InsufficientScope"
    assert "baton user token create rae --scope vote" in refused.value.hint


def test_operator_needs_site_admin_and_the_admin_scope() -> None:
    admin_read = Actor(account_id=1, name="op", is_admin=True, scopes=frozenset({"read", "write"}))
    assert not admin_read.is_operator
    with pytest.raises(PermissionDeniedError) as refused:
        admin_read.require_operator("decide")
    assert refused.value.code == "InsufficientScope"
    member = Actor(account_id=2, name="bob", is_admin=False, scopes=ALL_SCOPES)
    with pytest.raises(PermissionDeniedError) as not_operator:
        member.require_operator("decide")
    assert not_operator.value.code == "NotOperator"
    assert Actor(account_id=1, name="op", is_admin=True, scopes=ALL_SCOPES).is_operator


def test_tokens_expire_after_the_default_lifetime(runtime: Runtime, users: dict[str, str]) -> None:
    with runtime.database.session(write=True) as session:
        issued = accounts.issue_token(session, accounts.get_account(session, "bob"))
        lifetime = issued.token.expires_at - issued.token.created_at
    assert lifetime == timedelta(days=accounts.DEFAULT_TOKEN_DAYS)
    with runtime.database.session() as session:
        accounts.authenticate(session, issued.value, now=utcnow() + timedelta(days=89))
        with pytest.raises(AuthenticationError) as expired:
            accounts.authenticate(session, issued.value, now=utcnow() + timedelta(days=91))
    assert expired.value.code == "TokenExpired"
    assert "baton user token create" in expired.value.hint


@pytest.mark.parametrize("days", [0, -1, accounts.MAX_TOKEN_DAYS + 1])
def test_token_lifetime_is_bounded(runtime: Runtime, users: dict[str, str], days: int) -> None:
    with runtime.database.session(write=True) as session, pytest.raises(BadRequestError) as refused:
        accounts.issue_token(session, accounts.get_account(session, "bob"), expires_in_days=days)
    assert str(accounts.MAX_TOKEN_DAYS) in refused.value.message


def test_an_expired_token_gets_401_token_expired_over_http(
    client: TestClient, runtime: Runtime, users: dict[str, str]
) -> None:
    token = _token(runtime, "bob")
    with runtime.database.session(write=True) as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = client.get("/api/whoami-v2", headers=_headers(token))
    assert response.status_code == 401
    assert response.json()["error"] == "TokenExpired"
    assert response.headers["X-Error-Code"] == "TokenExpired"
    assert "baton user token create" in response.json()["hint"]


def test_whoami_reports_the_tokens_scopes_and_expiry(
    client: TestClient, runtime: Runtime, users: dict[str, str]
) -> None:
    token = _token(runtime, "bob", scopes=["vote"], name="ballot")
    access = client.get("/api/whoami-v2", headers=_headers(token)).json()["auth"]["accessToken"]
    assert access["displayName"] == "ballot"
    assert access["role"] == "read"
    assert access["scopes"] == ["read", "vote"]
    assert access["expiresAt"] is not None
    full = client.get("/api/whoami-v2", headers=users.headers("bob")).json()["auth"]["accessToken"]
    assert full["role"] == "write" and set(full["scopes"]) == ALL_SCOPES


def test_a_read_token_cannot_write_to_a_repo_its_account_can(
    client: TestClient, runtime: Runtime, users: dict[str, str]
) -> None:
    read_only = _token(runtime, "bob", scopes=["read"])
    response = client.post("/api/repos/create", json={"name": "ro", "organization": "lab"}, headers=_headers(read_only))
    assert response.status_code == 403
    assert response.json()["error"] == "InsufficientScope"


def test_a_write_token_without_admin_scope_cannot_change_settings(
    client: TestClient, runtime: Runtime, users: dict[str, str]
) -> None:
    assert client.post("/api/repos/create", json={"name": "m"}, headers=users.headers("carol")).status_code == 200
    writer = _token(runtime, "carol", scopes=["write"])  # the preset: every scope
    narrow = _token(runtime, "carol", scopes=["read"])
    with runtime.database.session(write=True) as session:
        # A token holding write but not admin.
        token = session.query(ApiToken).filter(ApiToken.token_hash == accounts.hash_token(narrow)).one()
        token.scopes = "read,write"
    refused = client.put("/api/models/carol/m/settings", json={"private": True}, headers=_headers(narrow))
    assert refused.status_code == 403 and refused.json()["error"] == "InsufficientScope"
    assert (
        client.put("/api/models/carol/m/settings", json={"private": True}, headers=_headers(writer)).status_code == 200
    )


def test_revoked_tokens_stop_at_once(client: TestClient, runtime: Runtime, users: dict[str, str]) -> None:
    with runtime.database.session(write=True) as session:
        bob = accounts.get_account(session, "bob")
        issued = accounts.issue_token(session, bob, name="laptop")
        token_id = issued.token.id
    assert client.get("/api/whoami-v2", headers=_headers(issued.value)).status_code == 200
    with runtime.database.session(write=True) as session:
        accounts.revoke_token(session, accounts.get_account(session, "bob"), token_id)
    assert client.get("/api/whoami-v2", headers=_headers(issued.value)).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(runtime: Runtime, users: dict[str, str]) -> None:
    with runtime.database.session(write=True) as session:
        bob_token = accounts.issue_token(session, accounts.get_account(session, "bob")).token.id
        with pytest.raises(Exception) as refused:
            accounts.revoke_token(session, accounts.get_account(session, "carol"), bob_token)
    assert getattr(refused.value, "code", None) == "TokenNotFound"
    with runtime.database.session() as session:
        assert not session.get(ApiToken, bob_token).revoked
