"""Consent: notices in Korean and English, per item and purpose, per recipient (Art. 17), withdrawal at once."""

from __future__ import annotations

import httpx

from .talent_helpers import VERSION, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]


def test_notices_state_purpose_items_retention_and_refusal_in_both_languages(client: httpx.Client) -> None:
    for lang in ("ko", "en"):
        served = client.get("/api/talent/notices", params={"lang": lang}).json()
        assert [notice["purpose"] for notice in served] == ["collection", "pool", "recommendation", "provision"]
        for notice in served:
            assert notice["version"] == VERSION and notice["language"] == lang
            assert notice["title"] and notice["purpose_text"] and notice["retention"] and notice["refusal"]
            assert notice["retention_days"] > 0
        collection = served[0]
        assert [item["item"] for item in collection["required_items"]] == ["name", "contact", "skills"]
        assert "career" in [item["item"] for item in collection["optional_items"]]
    provision = client.get(
        f"/api/talent/notices/provision/{VERSION}", params={"lang": "ko", "recipient": "newco"}
    ).json()
    assert "newco" in provision["purpose_text"] and "거부할 권리" in provision["refusal"]
    assert client.get("/api/talent/notices/pool/1999.1").json()["error"] == "InvalidConsent"


def test_consent_records_items_version_and_time_and_replaces_the_previous(client: httpx.Client, cast: Cast) -> None:
    headers = cast.headers("dave")
    create_profile(client, headers, optional_items=["keywords"], keywords=["음성 인식"])
    first = consent(client, headers, "pool", ["name"])
    assert first["items"] == ["name", "skills"]  # the required item is part of any pool consent
    assert first["notice_version"] == VERSION and first["granted_at"]
    second = consent(client, headers, "pool", ["keywords"])
    export = client.get("/api/talent/me/export", headers=headers).json()
    pool = [row for row in export["consents"] if row["purpose"] == "pool"]
    assert [row["id"] for row in pool] == [first["id"], second["id"]]
    assert pool[0]["withdrawn_at"] is not None and pool[1]["withdrawn_at"] is None

    not_held = client.post(
        "/api/talent/me/consents",
        json={"purpose": "pool", "notice_version": VERSION, "items": ["career"]},
        headers=headers,
    )
    assert not_held.status_code == 400 and "career" in not_held.json()["message"]
    unknown_item = client.post(
        "/api/talent/me/consents",
        json={"purpose": "pool", "notice_version": VERSION, "items": ["contact"]},
        headers=headers,
    )
    assert unknown_item.status_code == 400  # contact is never listed in the pool
    bad_purpose = client.post(
        "/api/talent/me/consents", json={"purpose": "marketing", "notice_version": VERSION}, headers=headers
    )
    assert bad_purpose.status_code == 400 and "marketing" in bad_purpose.json()["message"]


def test_provision_needs_consent_naming_each_recipient(client: httpx.Client, cast: Cast) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    listed_person(client, dave)

    # gus (newco) sees the pool listing, but the contact is not in it.
    listing = client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("gus")).json()
    assert "contact_email" not in listing and listing["name"]

    # No consent for newco yet: refused, for the person and for newco's member alike.
    refused = client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave)
    assert refused.status_code == 403 and refused.json()["error"] == "ConsentRequired"
    assert "newco" in refused.json()["message"]
    pulled = client.post(
        f"/api/talent/people/{me['id']}/provide", json={"recipient": "newco"}, headers=cast.headers("gus")
    )
    assert pulled.status_code == 403 and pulled.json()["error"] == "ConsentRequired"

    # Consent to lab does not cover newco.
    consent(client, dave, "provision", recipient="lab")
    still = client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave)
    assert still.status_code == 403
    to_lab = client.post("/api/talent/me/provisions", json={"recipient": "lab"}, headers=dave)
    assert to_lab.status_code == 201 and to_lab.json()["profile"]["contact_email"] == "dave.kim@example.org"

    # bob (lab) now sees the provided items; gus (newco) still sees only the listing.
    assert client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("bob")).json()["contact_email"]
    assert "contact_email" not in client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("gus")).json()
    provided = client.get("/api/talent/organizations/lab/provided", headers=cast.headers("bob")).json()
    assert [person["id"] for person in provided] == [me["id"]]
    assert client.get("/api/talent/organizations/lab/provided", headers=cast.headers("gus")).status_code == 403

    # Withdrawal stops access through Baton at once.
    assert (
        client.delete("/api/talent/me/consents/provision", params={"recipient": "lab"}, headers=dave).status_code == 200
    )
    assert client.get("/api/talent/organizations/lab/provided", headers=cast.headers("bob")).json() == []
    assert "contact_email" not in client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("bob")).json()

    no_recipient = client.post(
        "/api/talent/me/consents", json={"purpose": "provision", "notice_version": VERSION}, headers=dave
    )
    assert no_recipient.status_code == 400 and "Art. 17" in no_recipient.json()["hint"]
    to_user = client.post(
        "/api/talent/me/consents",
        json={"purpose": "provision", "notice_version": VERSION, "recipient": "carol"},
        headers=dave,
    )
    assert to_user.status_code == 400 and "not an organization" in to_user.json()["message"]


def test_withdrawing_pool_consent_hides_at_once_and_collection_is_withdrawn_by_deletion(
    client: httpx.Client, cast: Cast
) -> None:
    dave = cast.headers("dave")
    me = create_profile(client, dave)
    listed_person(client, dave)
    assert client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("gus")).status_code == 200
    assert client.delete("/api/talent/me/consents/pool", headers=dave).status_code == 200
    assert client.get(f"/api/talent/people/{me['id']}", headers=cast.headers("gus")).status_code == 404
    assert client.get("/api/talent/me", headers=dave).json()["visibility"] == "nobody"

    again = client.delete("/api/talent/me/consents/pool", headers=dave)
    assert again.status_code == 404 and again.json()["error"] == "ConsentNotFound"
    collection = client.delete("/api/talent/me/consents/collection", headers=dave)
    assert collection.status_code == 400 and "DELETE /api/talent/me" in collection.json()["hint"]
