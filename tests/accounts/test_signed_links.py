"""Signed upload links are checked against the uploader's current access every time they are used."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import delete

from baton.accounts import service as accounts
from baton.accounts.models import Membership
from baton.core.runtime import Runtime


def _upload_link(client: TestClient, headers: dict[str, str], repo_id: str, content: bytes) -> str:
    oid = hashlib.sha256(content).hexdigest()
    answer = client.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(content)}]},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    href = answer.json()["objects"][0]["actions"]["upload"]["href"]
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


def _lab_repo(client: TestClient, users: dict[str, str]) -> None:
    created = client.post(
        "/api/repos/create", json={"name": "shared", "organization": "lab"}, headers=users.headers("bob")
    )
    assert created.status_code == 200


def test_a_link_works_while_the_uploader_keeps_access(client: TestClient, users: dict[str, str]) -> None:
    _lab_repo(client, users)
    content = os.urandom(300)
    link = _upload_link(client, users.headers("bob"), "lab/shared", content)
    assert client.put(link, content=content).status_code == 200


def test_a_link_stops_when_its_token_is_revoked(client: TestClient, runtime: Runtime, users: dict[str, str]) -> None:
    _lab_repo(client, users)
    with runtime.database.session(write=True) as session:
        issued = accounts.issue_token(session, accounts.get_account(session, "bob"), name="uploader")
        token_id = issued.token.id
    content = os.urandom(300)
    link = _upload_link(client, {"Authorization": f"Bearer {issued.value}"}, "lab/shared", content)
    with runtime.database.session(write=True) as session:
        accounts.revoke_token(session, accounts.get_account(session, "bob"), token_id)
    answer = client.put(link, content=content)
    assert answer.status_code == 401
    assert not runtime.store.exists(hashlib.sha256(content).hexdigest())


def test_a_link_stops_when_the_uploader_loses_write_access(
    client: TestClient, runtime: Runtime, users: dict[str, str]
) -> None:
    _lab_repo(client, users)
    content = os.urandom(300)
    link = _upload_link(client, users.headers("bob"), "lab/shared", content)
    with runtime.database.session(write=True) as session:
        bob = accounts.get_account(session, "bob")
        session.execute(delete(Membership).where(Membership.user_id == bob.id))
    answer = client.put(link, content=content)
    assert answer.status_code in (403, 404)
    assert not runtime.store.exists(hashlib.sha256(content).hexdigest())


def test_a_link_cannot_be_rebound_to_another_token(client: TestClient, users: dict[str, str]) -> None:
    _lab_repo(client, users)
    content = os.urandom(300)
    link = _upload_link(client, users.headers("bob"), "lab/shared", content)
    path, _, query = link.partition("?")
    fields = dict(part.split("=", 1) for part in query.split("&"))
    fields["by"] = str(int(fields["by"]) + 1)
    forged = path + "?" + "&".join(f"{key}={value}" for key, value in fields.items())
    answer = client.put(forged, content=content)
    assert answer.status_code == 401 and "signature" in answer.json()["message"]
