"""Openings: posted by members with the write role in their organization, validated skills and dates,
and no way to exclude another organization's people."""

from __future__ import annotations

import httpx

from .talent_helpers import ML, NLP, Cast, cast

__all__ = ["cast"]

OPENING = {
    "organization": "newco",
    "title": "한국어 LLM 연구원",
    "description": "Pretraining and evaluation of Korean language models",
    "required_skills": [NLP],
    "preferred_skills": [ML, NLP],
    "places": 3,
    "location": "Seoul",
    "starts_on": "2027-01-04",
    "closes_on": "2026-12-20",
}


def test_post_list_update_and_close(client: httpx.Client, cast: Cast) -> None:
    created = client.post("/api/talent/openings", json=OPENING, headers=cast.headers("gus"))
    assert created.status_code == 201, created.text
    opening = created.json()
    assert opening["organization"] == "newco" and opening["places"] == 3
    assert [skill["code"] for skill in opening["required_skills"]] == [NLP]
    assert [skill["code"] for skill in opening["preferred_skills"]] == [ML]  # required ones are not repeated
    assert [o["id"] for o in client.get("/api/talent/openings").json()] == [opening["id"]]  # public listing

    updated = client.patch(f"/api/talent/openings/{opening['id']}", json={"places": 5}, headers=cast.headers("gus"))
    assert updated.json()["places"] == 5 and updated.json()["title"] == OPENING["title"]
    closed = client.post(f"/api/talent/openings/{opening['id']}/close", headers=cast.headers("gus"))
    assert closed.json()["status"] == "closed"
    assert client.get("/api/talent/openings").json() == []
    assert len(client.get("/api/talent/openings", params={"status": "closed"}).json()) == 1


def test_only_writers_of_the_organization_may_post(client: httpx.Client, cast: Cast) -> None:
    for name in ("bob", "carol", "dave"):  # bob writes in lab, not newco
        refused = client.post("/api/talent/openings", json=OPENING, headers=cast.headers(name))
        assert refused.status_code == 403, name
    assert client.post("/api/talent/openings", json=OPENING).status_code == 401
    opening = client.post("/api/talent/openings", json=OPENING | {"organization": "lab"}, headers=cast.headers("bob"))
    assert opening.status_code == 201
    edit = client.patch(f"/api/talent/openings/{opening.json()['id']}", json={"places": 2}, headers=cast.headers("gus"))
    assert edit.status_code == 403


def test_bad_openings_are_refused_with_a_clear_message(client: httpx.Client, cast: Cast) -> None:
    gus = cast.headers("gus")
    unknown = client.post("/api/talent/openings", json=OPENING | {"required_skills": ["12345"]}, headers=gus)
    assert unknown.status_code == 400 and unknown.json()["error"] == "UnknownSkill"
    no_skill = client.post("/api/talent/openings", json=OPENING | {"required_skills": []}, headers=gus)
    assert no_skill.status_code == 400 and "required skill" in no_skill.json()["message"]
    backwards = client.post(
        "/api/talent/openings", json=OPENING | {"starts_on": "2027-05-01", "ends_on": "2027-01-01"}, headers=gus
    )
    assert backwards.status_code == 400 and "ends before" in backwards.json()["message"]
    zero = client.post("/api/talent/openings", json=OPENING | {"places": 0}, headers=gus)
    assert zero.status_code == 400
    to_user = client.post("/api/talent/openings", json=OPENING | {"organization": "carol"}, headers=gus)
    assert to_user.status_code == 400
    assert client.get("/api/talent/openings/999").status_code == 404
    assert client.get("/api/talent/openings").json() == []  # nothing half-written


def test_no_feature_excludes_another_organizations_people(client: httpx.Client, cast: Cast) -> None:
    # Anti-poaching agreements are unlawful: an opening cannot name organizations whose people to
    # exclude. Only the person can hide themselves (their hidden-from list).
    for field in ("exclude_organizations", "excluded_employers", "hidden_from"):
        refused = client.post("/api/talent/openings", json=OPENING | {field: ["rival"]}, headers=cast.headers("gus"))
        assert refused.status_code == 400, field
        assert field in refused.json()["message"]
