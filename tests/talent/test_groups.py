"""Groups who want to move together: proposal, consent of every member, leaving, and the matching run."""

from __future__ import annotations

from typing import Any

import httpx

from .talent_helpers import CV, ML, NLP, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]


def _person(client: httpx.Client, cast: Cast, name: str, skills: list[str], **lists: Any) -> str:
    headers = cast.headers(name)
    me = create_profile(client, headers, name=name.title(), email=f"{name}@example.org", skills=skills)
    listed_person(client, headers, **lists)
    consent(client, headers, "recommendation")
    public_id: str = me["id"]
    return public_id


def _propose(client: httpx.Client, cast: Cast, who: str, members: list[str]) -> httpx.Response:
    return client.post("/api/talent/groups", json={"members": members}, headers=cast.headers(who))


def _statuses(group: dict[str, Any]) -> dict[str, str]:
    return {row["person"]: row["status"] for row in group["members"]}


def test_propose_accept_and_leave(client: httpx.Client, cast: Cast) -> None:
    dave = _person(client, cast, "dave", [NLP])
    fay = _person(client, cast, "fay", [ML])
    carol = _person(client, cast, "carol", [CV])

    proposed = _propose(client, cast, "dave", [fay, carol])
    assert proposed.status_code == 201, proposed.text
    group = proposed.json()
    assert group["active"] is False and group["my_status"] == "accepted"
    assert _statuses(group) == {dave: "accepted", fay: "invited", carol: "invited"}
    # fay is invited, not grouped: she sees the invitation and must answer.
    seen = client.get("/api/talent/groups", headers=cast.headers("fay")).json()
    assert [row["id"] for row in seen] == [group["id"]] and seen[0]["my_status"] == "invited"
    # Someone outside the group cannot accept it, nor learn that it exists.
    outsider = client.post(f"/api/talent/groups/{group['id']}/accept", headers=cast.headers("gus"))
    assert outsider.status_code == 404 and outsider.json()["error"] == "NoProfile"
    erin_profile = create_profile(client, cast.headers("erin"), name="Erin", email="erin@example.org")
    assert erin_profile["id"]
    outsider = client.post(f"/api/talent/groups/{group['id']}/accept", headers=cast.headers("erin"))
    assert outsider.status_code == 404 and outsider.json()["error"] == "GroupNotFound"

    fay_accepts = client.post(f"/api/talent/groups/{group['id']}/accept", headers=cast.headers("fay")).json()
    assert fay_accepts["active"] is False  # carol has not agreed yet
    carol_accepts = client.post(f"/api/talent/groups/{group['id']}/accept", headers=cast.headers("carol")).json()
    assert carol_accepts["active"] is True
    assert set(_statuses(carol_accepts).values()) == {"accepted"}

    # One accepted group at a time.
    second = _propose(client, cast, "fay", [dave])
    assert second.status_code == 409 and second.json()["error"] == "GroupConflict"

    # carol leaves at once; dave and fay agreed to move with carol too, so both must accept again.
    left = client.post(f"/api/talent/groups/{group['id']}/leave", headers=cast.headers("carol"))
    assert left.status_code == 200 and left.json()["left"] is True
    assert client.get("/api/talent/groups", headers=cast.headers("carol")).json() == []
    remaining = client.get("/api/talent/groups", headers=cast.headers("dave")).json()
    assert remaining[0]["active"] is False
    assert _statuses(remaining[0]) == {dave: "invited", fay: "invited"}
    again = client.post(f"/api/talent/groups/{group['id']}/leave", headers=cast.headers("carol"))
    assert again.status_code == 404
    # fay refuses (leaves): nobody else is left with dave, so the group is gone.
    client.post(f"/api/talent/groups/{group['id']}/leave", headers=cast.headers("fay"))
    assert client.get("/api/talent/groups", headers=cast.headers("dave")).json() == []
    # Now fay is free to propose her own group.
    assert _propose(client, cast, "fay", [dave]).status_code == 201


def test_refusals_reveal_nothing(client: httpx.Client, cast: Cast) -> None:
    assert client.get("/api/talent/groups").status_code == 401
    no_profile = _propose(client, cast, "gus", ["p-000000000000"])
    assert no_profile.status_code == 404 and no_profile.json()["error"] == "NoProfile"
    dave = _person(client, cast, "dave", [NLP])
    fay = create_profile(client, cast.headers("fay"), name="Fay Park", email="fay@example.org")["id"]  # not listed
    rival = _person(client, cast, "carol", [ML], hidden_from=["lab"])  # hidden from bob's organization
    create_profile(client, cast.headers("bob"), name="Bob", email="bob@example.org")

    unknown = _propose(client, cast, "dave", ["p-ffffffffffff"])
    hidden = _propose(client, cast, "dave", [fay])
    assert unknown.status_code == hidden.status_code == 404
    assert unknown.json()["error"] == hidden.json()["error"] == "ProfileNotFound"
    assert unknown.json()["hint"] == hidden.json()["hint"]
    assert hidden.json()["message"] == unknown.json()["message"].replace("p-ffffffffffff", fay)
    from_lab = _propose(client, cast, "bob", [rival])
    assert from_lab.status_code == 404 and from_lab.json()["error"] == "ProfileNotFound"
    # Nothing was written by the refusals.
    assert client.get("/api/talent/groups", headers=cast.headers("dave")).json() == []
    assert client.get("/api/talent/groups", headers=cast.headers("fay")).json() == []

    for members, fragment in (([], "one to 4"), ([dave], "you are in the group"), ([rival, rival], "twice")):
        bad = _propose(client, cast, "dave", members)
        assert bad.status_code == 400 and bad.json()["error"] == "InvalidGroup", bad.text
        assert fragment in bad.json()["message"]
    too_many = _propose(client, cast, "dave", [f"p-{i:012d}" for i in range(5)])
    assert too_many.status_code == 400
    # A suspended profile cannot be named.
    client.post("/api/talent/me/suspend", headers=cast.headers("carol"))
    suspended = _propose(client, cast, "dave", [rival])
    assert suspended.status_code == 404 and suspended.json()["error"] == "ProfileNotFound"


def _opening(client: httpx.Client, cast: Cast, org: str, who: str, title: str, skills: list[str], places: int) -> int:
    body = {"organization": org, "title": title, "required_skills": skills, "places": places}
    response = client.post("/api/talent/openings", json=body, headers=cast.headers(who))
    assert response.status_code == 201, response.text
    opening_id: int = response.json()["id"]
    return opening_id


def test_an_accepted_pair_lands_together_in_the_matching_run(client: httpx.Client, cast: Cast) -> None:
    nlp = _opening(client, cast, "newco", "gus", "NLP researcher", [NLP], 1)
    vision = _opening(client, cast, "lab", "bob", "Vision engineer", [CV, ML], 2)
    dave = _person(client, cast, "dave", [NLP, ML])
    fay = _person(client, cast, "fay", [CV, ML])
    for who in ("dave", "fay"):
        ranked = client.put("/api/talent/me/preferences", json={"openings": [nlp, vision]}, headers=cast.headers(who))
        assert ranked.status_code == 200, ranked.text
    for opening, owner, people in ((nlp, "gus", [dave, fay]), (vision, "bob", [fay, dave])):
        response = client.put(
            f"/api/talent/openings/{opening}/preferences", json={"people": people}, headers=cast.headers(owner)
        )
        assert response.status_code == 200, response.text

    group = _propose(client, cast, "dave", [fay]).json()

    # Not yet accepted by fay: the group is not used, and the two are split up.
    first = client.post("/api/talent/matching-runs", headers=cast.headers("alice")).json()
    assert {row["person"]: row["opening"] for row in first["assignments"]} == {dave: nlp, fay: vision}
    assert first["groups"] == []

    client.post(f"/api/talent/groups/{group['id']}/accept", headers=cast.headers("fay"))
    run = client.post("/api/talent/matching-runs", headers=cast.headers("alice"))
    assert run.status_code == 201, run.text
    result = run.json()
    assert {row["person"]: row["opening"] for row in result["assignments"]} == {dave: vision, fay: vision}
    assert result["groups"] == [
        {
            "members": [dave, fay],
            "assigned": [vision, vision],
            "together": True,
            "option_rank": 1,
            "options": 1,
            "skipped": None,
        }
    ]
    assert client.get(f"/api/talent/matching-runs/{result['id']}", headers=cast.headers("alice")).json() == result
    mine = client.get("/api/talent/me/matches", headers=cast.headers("fay")).json()
    assert [row["group"]["members"] for row in mine if row["kind"] == "group"] == [[dave, fay]]

    # A suspended member takes the group out of the run: it is reported as skipped.
    client.post("/api/talent/me/suspend", headers=cast.headers("fay"))
    third = client.post("/api/talent/matching-runs", headers=cast.headers("alice")).json()
    assert {row["person"]: row["opening"] for row in third["assignments"]} == {dave: nlp}
    assert third["groups"][0]["skipped"] == "member_not_in_run" and third["groups"][0]["members"] == [dave, fay]

    # Deleting a profile takes it out of its groups (the other member is left alone, the group goes).
    assert client.delete("/api/talent/me", headers=cast.headers("fay")).status_code == 200
    assert client.get("/api/talent/groups", headers=cast.headers("dave")).json() == []
