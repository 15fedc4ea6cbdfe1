"""Shared setup for the talent service tests: more people and organizations, profile shortcuts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from baton.accounts import service as accounts
from baton.core.runtime import Runtime

ML = "10010257"  # Machine learning
NLP = "10010179"  # Natural language processing
CV = "10010224"  # Computer vision
VERSION = "2026.1"

Json = dict[str, Any]


class Cast(dict[str, str]):
    """User name -> token, for the users of the ``cast`` fixture (and the base ``users``)."""

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self[name]}"}


@pytest.fixture
def cast(runtime: Runtime, users: Any) -> Cast:
    """users (alice admin, bob write in lab, carol) plus: dave and fay (researchers), erin (admin of
    'rival'), gus (write in 'newco'); organizations 'rival' and 'newco'."""
    tokens = Cast(dict(users))
    with runtime.database.session(write=True) as session:
        alice = accounts.get_account(session, "alice")
        dave = accounts.create_user(session, "dave", fullname="Dave Kim", email="dave.kim@example.org")
        fay = accounts.create_user(session, "fay", fullname="Fay Park", email="fay@example.org")
        erin = accounts.create_user(session, "erin")
        gus = accounts.create_user(session, "gus")
        accounts.create_organization(session, "rival", creator=erin)
        newco = accounts.create_organization(session, "newco", creator=alice)
        accounts.set_membership(session, newco, gus, "write")
        for user in (dave, fay, erin, gus):
            tokens[user.name] = accounts.issue_token(session, user).value
    return tokens


def profile_body(
    name: str = "김다브 Dave Kim",
    email: str = "dave.kim@example.org",
    skills: list[str] | None = None,
    optional_items: list[str] | None = None,
    **extra: Any,
) -> Json:
    return {
        "name": name,
        "contact_email": email,
        "skills": skills if skills is not None else [NLP],
        **extra,
        "consent": {"notice_version": VERSION, "optional_items": optional_items or [], "language": "ko"},
    }


def create_profile(client: httpx.Client, headers: dict[str, str], **kwargs: Any) -> Json:
    response = client.post("/api/talent/profile", json=profile_body(**kwargs), headers=headers)
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def consent(
    client: httpx.Client,
    headers: dict[str, str],
    purpose: str,
    items: list[str] | None = None,
    recipient: str | None = None,
) -> Json:
    body: Json = {"purpose": purpose, "notice_version": VERSION, "items": items or []}
    if recipient:
        body["recipient"] = recipient
    response = client.post("/api/talent/me/consents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: Json = response.json()
    return result


def listed_person(
    client: httpx.Client,
    headers: dict[str, str],
    visibility: str = "pool",
    items: tuple[str, ...] = ("name", "skills"),
    **lists: Any,
) -> Json:
    """Consent to the pool (with ``items``) and set the visibility."""
    consent(client, headers, "pool", list(items))
    response = client.put("/api/talent/me/visibility", json={"visibility": visibility, **lists}, headers=headers)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result
