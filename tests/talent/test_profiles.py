"""Profiles: the minimal required set, optional items only with their own consent, correction,
suspension, export, and clear refusals of bad input (on SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx

from .talent_helpers import CV, ML, NLP, Cast, cast, consent, create_profile, profile_body

__all__ = ["cast"]


def test_minimal_profile_needs_only_name_contact_and_one_skill(client: httpx.Client, cast: Cast) -> None:
    me = create_profile(client, cast.headers("dave"))
    assert me["name"] == "김다브 Dave Kim"
    assert [skill["code"] for skill in me["skills"]] == [NLP]
    assert me["skills"][0]["label_ko"] == "자연어 처리"
    assert me["visibility"] == "nobody"  # nothing is listed before the person says so
    assert [row["purpose"] for row in me["consents"]] == ["collection"]
    assert me["consents"][0]["items"] == ["name", "contact", "skills"]
    assert me["consents"][0]["notice_version"] == "2026.1"
    assert me["id"].startswith("p-")

    again = client.post("/api/talent/profile", json=profile_body(), headers=cast.headers("dave"))
    assert again.status_code == 409 and again.json()["error"] == "ProfileExists"


def test_missing_required_items_and_bad_values_are_refused(client: httpx.Client, cast: Cast) -> None:
    headers = cast.headers("dave")
    no_skill = client.post("/api/talent/profile", json=profile_body(skills=[]), headers=headers)
    assert no_skill.status_code == 400
    assert no_skill.json()["error"] == "InvalidProfile" and "skills" in no_skill.json()["message"]
    assert "optional" in no_skill.json()["hint"]

    unknown = client.post("/api/talent/profile", json=profile_body(skills=[NLP, "99999999"]), headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "UnknownSkill" and "99999999" in unknown.json()["message"]

    bad_email = client.post("/api/talent/profile", json=profile_body(email="not-an-email"), headers=headers)
    assert bad_email.status_code == 400 and "email" in bad_email.json()["message"]

    old_notice = profile_body()
    old_notice["consent"]["notice_version"] = "2019.1"
    stale = client.post("/api/talent/profile", json=old_notice, headers=headers)
    assert stale.status_code == 400 and stale.json()["error"] == "InvalidConsent"

    # Nothing was half-written by the refusals.
    assert client.get("/api/talent/me", headers=headers).status_code == 404


def test_optional_items_are_stored_only_with_their_consent(client: httpx.Client, cast: Cast) -> None:
    headers = cast.headers("dave")
    refused = client.post(
        "/api/talent/profile",
        json=profile_body(career=[{"organization": "Lab One", "role": "postdoc"}]),
        headers=headers,
    )
    assert refused.status_code == 400
    assert "career" in refused.json()["message"] and "consent" in refused.json()["hint"]

    me = create_profile(
        client,
        headers,
        skills=[NLP, ML],
        optional_items=["career", "education", "publications", "service_status", "earliest_start", "places"],
        career=[{"organization": "Lab One", "role": "postdoc", "start": "2024-03-01"}],
        education=[{"institution": "KAIST", "degree": "PhD", "field": "전산학", "year": 2023}],
        publications=[{"title": "Korean LLM", "url": "https://doi.org/10.1/abc"}],
        service_status="expert_research_personnel",
        service_until="2027-08-31",
        earliest_start="2027-01-02",
        places=["대전", "Seoul"],
    )
    assert me["career"][0]["organization"] == "Lab One"
    assert me["service_status"] == "expert_research_personnel"
    assert me["constraints"][0]["kind"] == "expert_research_personnel"
    assert "전문연구요원" in me["constraints"][0]["ko"]
    assert me["places"] == ["대전", "Seoul"]

    # Declining an optional item later erases it at once; the service goes on.
    consent(client, headers, "collection", ["career", "education", "places"])
    after = client.get("/api/talent/me", headers=headers).json()
    assert "publications" not in after and "service_status" not in after
    assert after["career"][0]["role"] == "postdoc"
    export = client.get("/api/talent/me/export", headers=headers).json()
    assert export["profile"]["publications"] == [] and export["profile"]["service_status"] is None


def test_correction_suspension_and_export(client: httpx.Client, cast: Cast) -> None:
    headers = cast.headers("dave")
    create_profile(client, headers, optional_items=["keywords"])
    corrected = client.patch(
        "/api/talent/me", json={"skills": [CV], "keywords": ["비전", "segmentation"]}, headers=headers
    )
    assert corrected.status_code == 200, corrected.text
    assert [skill["code"] for skill in corrected.json()["skills"]] == [CV]
    assert corrected.json()["keywords"] == ["비전", "segmentation"]

    bad = client.patch("/api/talent/me", json={"skills": ["nope"]}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"] == "UnknownSkill"
    unknown_field = client.patch("/api/talent/me", json={"gender": "x"}, headers=headers)
    assert unknown_field.status_code == 400  # no such item is ever collected

    suspended = client.post("/api/talent/me/suspend", headers=headers).json()
    assert suspended["suspended"] is True
    resumed = client.post("/api/talent/me/resume", headers=headers).json()
    assert resumed["suspended"] is False

    export = client.get("/api/talent/me/export", headers=headers).json()
    assert export["account"] == "dave"
    assert export["profile"]["contact_email"] == "dave.kim@example.org"
    assert [row["purpose"] for row in export["consents"]] == ["collection"]
    kinds = [row["kind"] for row in export["requests"]]
    assert kinds[:4] == ["consent.collection", "correction", "suspension", "resumption"]
    assert kinds[-1] == "access"
    assert all(row["completed_at"] == row["received_at"] for row in export["requests"])  # effective at once


def test_profiles_need_a_token_and_a_profile(client: httpx.Client, cast: Cast) -> None:
    assert client.get("/api/talent/me").status_code == 401
    missing = client.get("/api/talent/me", headers=cast.headers("carol"))
    assert missing.status_code == 404 and missing.json()["error"] == "NoProfile"
    assert "POST /api/talent/profile" in missing.json()["hint"]
