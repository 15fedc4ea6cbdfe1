"""Recommendations, human review, the non-binding matching run and the exposure report, through the API."""

from __future__ import annotations

from typing import Any

import httpx

from .talent_helpers import CV, ML, NLP, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]


def _opening(client: httpx.Client, cast: Cast, org: str, who: str, title: str, skills: list[str], places: int) -> int:
    body = {"organization": org, "title": title, "required_skills": skills, "places": places, "location": "Seoul"}
    response = client.post("/api/talent/openings", json=body, headers=cast.headers(who))
    assert response.status_code == 201, response.text
    opening_id: int = response.json()["id"]
    return opening_id


def _person(client: httpx.Client, cast: Cast, name: str, skills: list[str], **lists: Any) -> str:
    headers = cast.headers(name)
    me = create_profile(client, headers, name=name.title(), email=f"{name}@example.org", skills=skills)
    listed_person(client, headers, **lists)
    consent(client, headers, "recommendation")
    public_id: str = me["id"]
    return public_id


def test_both_sides_get_explained_automated_rankings(client: httpx.Client, cast: Cast) -> None:
    nlp = _opening(client, cast, "newco", "gus", "NLP researcher 자연어", [NLP], 1)
    vision = _opening(client, cast, "lab", "bob", "Vision engineer", [CV], 1)
    dave = _person(client, cast, "dave", [NLP, ML], hidden_from=["lab"])
    fay = _person(client, cast, "fay", [CV])

    mine = client.get("/api/talent/me/recommendations", headers=cast.headers("dave")).json()
    assert mine["automated"] is True and "자동" in mine["notice_ko"]
    assert mine["items"][0]["opening"]["id"] == nlp
    top = mine["items"][0]
    assert top["rank"] == 1 and top["automated"] is True
    assert "Natural language processing" in top["explanation_en"] and "자연어 처리" in top["explanation_ko"]

    for_nlp = client.get(f"/api/talent/openings/{nlp}/recommendations", headers=cast.headers("gus")).json()
    assert for_nlp["items"][0]["person"]["id"] == dave
    assert "contact_email" not in for_nlp["items"][0]["person"]  # only what is visible to newco
    # dave hides from lab: lab's opening never sees him ranked.
    for_vision = client.get(f"/api/talent/openings/{vision}/recommendations", headers=cast.headers("bob")).json()
    assert [item["person"]["id"] for item in for_vision["items"]] == [fay]
    assert client.get(f"/api/talent/openings/{nlp}/recommendations", headers=cast.headers("bob")).status_code == 403


def test_refusing_automation_removes_the_person_and_human_review_goes_to_operators(
    client: httpx.Client, cast: Cast
) -> None:
    nlp = _opening(client, cast, "newco", "gus", "NLP researcher", [NLP], 1)
    dave = _person(client, cast, "dave", [NLP])
    headers = cast.headers("dave")
    client.post("/api/talent/me/automated", json={"accept": False}, headers=headers)
    refused = client.get("/api/talent/me/recommendations", headers=headers)
    assert refused.status_code == 409 and refused.json()["error"] == "AutomatedRecommendationRefused"
    ranked = client.get(f"/api/talent/openings/{nlp}/recommendations", headers=cast.headers("gus")).json()
    assert dave not in [item["person"]["id"] for item in ranked["items"]]
    # Still listed for people to browse by hand.
    assert client.get(f"/api/talent/people/{dave}", headers=cast.headers("gus")).status_code == 200

    review = client.post(
        "/api/talent/me/reviews", json={"subject": "my ranking for opening", "message": "왜 낮은가요?"}, headers=headers
    )
    assert review.status_code == 201
    assert client.get("/api/talent/reviews", headers=cast.headers("gus")).status_code == 403  # not an operator
    queue = client.get("/api/talent/reviews", headers=cast.headers("alice")).json()
    assert [row["id"] for row in queue] == [review.json()["id"]]
    assert queue[0]["person"]["id"] == dave
    answered = client.post(
        f"/api/talent/reviews/{queue[0]['id']}/answer",
        json={"answer": "Reviewed by a person: skills match; ranked 1st."},
        headers=cast.headers("alice"),
    )
    assert answered.json()["status"] == "answered"
    mine = client.get("/api/talent/me/reviews", headers=headers).json()
    assert mine[0]["answer"].startswith("Reviewed by a person") and mine[0]["answered_at"]
    assert client.get("/api/talent/reviews", headers=cast.headers("alice")).json() == []


def test_recommendation_needs_consent(client: httpx.Client, cast: Cast) -> None:
    headers = cast.headers("dave")
    create_profile(client, headers)
    missing = client.get("/api/talent/me/recommendations", headers=headers)
    assert missing.status_code == 403 and missing.json()["error"] == "ConsentRequired"


def test_matching_run_preferences_and_exposure(client: httpx.Client, cast: Cast) -> None:
    nlp = _opening(client, cast, "newco", "gus", "NLP researcher", [NLP], 1)
    vision = _opening(client, cast, "lab", "bob", "Vision engineer", [CV, ML], 2)
    dave = _person(client, cast, "dave", [NLP, ML])
    fay = _person(client, cast, "fay", [CV, ML])

    unknown = client.put("/api/talent/me/preferences", json={"openings": [vision, 9999]}, headers=cast.headers("dave"))
    assert unknown.status_code == 400 and unknown.json()["error"] == "UnknownOpenings"
    assert "9999" in unknown.json()["message"]
    twice = client.put("/api/talent/me/preferences", json={"openings": [nlp, nlp]}, headers=cast.headers("dave"))
    assert twice.status_code == 400
    # dave ranks vision first by his own choice; vision's owner ranks fay then dave.
    ok = client.put("/api/talent/me/preferences", json={"openings": [vision, nlp]}, headers=cast.headers("dave"))
    assert ok.status_code == 200
    owner = client.put(
        f"/api/talent/openings/{vision}/preferences", json={"people": [fay, dave]}, headers=cast.headers("bob")
    )
    assert owner.status_code == 200
    hidden = client.put(
        f"/api/talent/openings/{vision}/preferences", json={"people": ["p-ffffffffffff"]}, headers=cast.headers("bob")
    )
    assert hidden.status_code == 404

    assert client.post("/api/talent/matching-runs", headers=cast.headers("bob")).status_code == 403
    run = client.post("/api/talent/matching-runs", headers=cast.headers("alice"))
    assert run.status_code == 201, run.text
    result = run.json()
    assert result["binding"] is False and result["stable"] is True and result["blocking_pairs"] == []
    assignment = {row["person"]: row["opening"] for row in result["assignments"]}
    assert assignment == {dave: vision, fay: vision}  # two places at vision, both wanted there
    mine = client.get("/api/talent/me/matches", headers=cast.headers("dave")).json()
    assert mine[0]["opening"]["id"] == vision and mine[0]["binding"] is False
    assert client.get(f"/api/talent/matching-runs/{result['id']}", headers=cast.headers("alice")).json() == result

    report = client.get("/api/talent/exposure", headers=cast.headers("alice")).json()
    assert sum(row["people"] for row in report) == 2
    assert all({"team", "share_of_exposure", "ratio", "flagged"} <= set(row) for row in report)
    assert client.get("/api/talent/exposure", headers=cast.headers("gus")).status_code == 403
