"""Visibility chosen by the person: the whole pool, chosen organizations, nobody; a hidden-from list
that answers 404 (never 403) to members of those organizations; suspension hides at once."""

from __future__ import annotations

import httpx

from .talent_helpers import Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]


def _status(client: httpx.Client, cast: Cast, viewer: str, public_id: str) -> int:
    return client.get(f"/api/talent/people/{public_id}", headers=cast.headers(viewer)).status_code


def test_visible_without_consent_is_refused(client: httpx.Client, cast: Cast) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    refused = client.put("/api/talent/me/visibility", json={"visibility": "pool"}, headers=dave)
    assert refused.status_code == 403
    assert refused.json()["error"] == "ConsentRequired" and "pool" in refused.json()["hint"]
    assert client.get("/api/talent/me", headers=dave).json()["visibility"] == "nobody"
    assert _status(client, cast, "gus", me["id"]) == 404


def test_pool_visibility_and_hidden_from_list_answer_404(client: httpx.Client, cast: Cast) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    listed_person(client, dave, "pool", hidden_from=["rival"])
    assert _status(client, cast, "gus", me["id"]) == 200  # newco member
    assert _status(client, cast, "bob", me["id"]) == 200  # lab member
    assert _status(client, cast, "carol", me["id"]) == 200  # signed in, no organization
    hidden = client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("erin"))  # rival admin
    assert hidden.status_code == 404 and hidden.json()["error"] == "ProfileNotFound"
    missing = client.get("/api/talent/people/p-000000000000", headers=cast.headers("erin"))
    assert missing.json() == hidden.json() | {"message": missing.json()["message"]}  # indistinguishable
    assert client.get(f"/api/talent/people/{me['id']}").status_code == 404  # anonymous
    assert me["id"] not in [p["id"] for p in client.get("/api/talent/people", headers=cast.headers("erin")).json()]
    assert me["id"] in [p["id"] for p in client.get("/api/talent/people", headers=cast.headers("gus")).json()]

    # Listing shows only the pool consent's items.
    seen = client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("gus")).json()
    assert set(seen) == {"id", "name", "skills"}

    # Hiding from a recipient one consented to provide to is refused until that consent is withdrawn.
    consent(client, dave, "provision", recipient="newco")
    clash = client.put("/api/talent/me/visibility", json={"visibility": "pool", "hidden_from": ["newco"]}, headers=dave)
    assert clash.status_code == 400 and "newco" in clash.json()["message"]
    to_hidden = client.post(
        "/api/talent/me/consents",
        json={"purpose": "provision", "notice_version": "2026.1", "recipient": "rival"},
        headers=dave,
    )
    assert to_hidden.status_code == 400 and "rival" in to_hidden.json()["message"]


def test_chosen_organizations_and_nobody(client: httpx.Client, cast: Cast) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    listed_person(client, dave, "organizations", organizations=["newco"])
    assert _status(client, cast, "gus", me["id"]) == 200
    assert _status(client, cast, "bob", me["id"]) == 404
    assert _status(client, cast, "carol", me["id"]) == 404
    assert client.get(f"/api/talent/people/{me['id']}", headers=dave).status_code == 200  # the person

    empty = client.put(
        "/api/talent/me/visibility", json={"visibility": "organizations", "organizations": []}, headers=dave
    )
    assert empty.status_code == 400
    both = client.put(
        "/api/talent/me/visibility",
        json={"visibility": "pool", "organizations": ["newco"], "hidden_from": ["newco"]},
        headers=dave,
    )
    assert both.status_code == 400
    assert client.put("/api/talent/me/visibility", json={"visibility": "everyone"}, headers=dave).status_code == 400
    unknown = client.put(
        "/api/talent/me/visibility", json={"visibility": "pool", "hidden_from": ["no-such-org"]}, headers=dave
    )
    assert unknown.status_code == 404

    assert client.put("/api/talent/me/visibility", json={"visibility": "nobody"}, headers=dave).status_code == 200
    assert _status(client, cast, "gus", me["id"]) == 404


def test_suspension_hides_from_everyone_at_once(client: httpx.Client, cast: Cast) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    listed_person(client, dave)
    consent(client, dave, "provision", recipient="newco")
    assert client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave).status_code == 201
    client.post("/api/talent/me/suspend", headers=dave)
    for viewer in ("gus", "bob", "carol", "alice"):
        assert _status(client, cast, viewer, me["id"]) == 404
    assert client.get("/api/talent/organizations/newco/provided", headers=cast.headers("gus")).json() == []
    suspended = client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave)
    assert suspended.status_code == 409 and suspended.json()["error"] == "ProfileSuspended"
    client.post("/api/talent/me/resume", headers=dave)
    assert _status(client, cast, "gus", me["id"]) == 200
