"""Integration with the challenge: a final team exit invites its people to opt in (nothing else about
them is recorded), and the commons catalogue can count the people of each former team who found a place."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from baton.challenge.events import TeamLeft
from baton.core import events
from baton.core.runtime import Runtime
from baton.talent.service import invite_team, placements_by_team

from .talent_helpers import NLP, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]

EXIT = TeamLeft(
    challenge="k-llm-2026",
    team="team-orca",
    stage="stage-1",
    reason="eliminated",
    at=datetime(2026, 6, 1, tzinfo=UTC),
    organizations=("rival",),
    members=("dave", "fay", "no-such-user", "rival"),
)


def _exit(runtime: Runtime, exit: TeamLeft = EXIT) -> None:
    """Publish the exit as the challenge does, and deliver it (the talent domain's handler invites)."""
    assert "talent.invite_team" in runtime.registry.describe()["events"]["challenge.team_left"]["handlers"]
    with runtime.database.session(write=True) as session:
        events.publish(session, exit)
    events.drain(runtime)


def test_team_exit_invites_members_and_shares_nothing_before_consent(
    client: httpx.Client, cast: Cast, runtime: Runtime
) -> None:
    _exit(runtime)
    _exit(runtime)  # the same exit published again is the same event: not delivered twice
    assert invite_team(runtime, EXIT) == {"invited": 0}  # and a handler run again invites no one twice
    invitations = client.get("/api/talent/me/invitations", headers=cast.headers("dave")).json()
    assert [(row["challenge"], row["team"], row["status"]) for row in invitations] == [
        ("k-llm-2026", "team-orca", "pending")
    ]
    assert "동의하기 전에는" in invitations[0]["message_ko"] and "consent" in invitations[0]["message_en"]
    assert client.get("/api/talent/me/invitations", headers=cast.headers("carol")).json() == []
    with runtime.database.session() as session:
        assert session.execute(text("SELECT count(*) FROM talent_profiles")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM talent_invitations")).scalar() == 2  # users only
    assert client.get("/api/talent/people", headers=cast.headers("gus")).json() == []

    # fay declines: the invitation is gone, nothing kept.
    fay_invite = client.get("/api/talent/me/invitations", headers=cast.headers("fay")).json()[0]["id"]
    assert client.post(f"/api/talent/invitations/{fay_invite}/decline", headers=cast.headers("fay")).json()["declined"]
    assert client.get("/api/talent/me/invitations", headers=cast.headers("fay")).json() == []
    other = client.post(f"/api/talent/invitations/{invitations[0]['id']}/accept", headers=cast.headers("fay"))
    assert other.status_code == 404  # not hers


def test_accepted_invitation_gives_the_former_team_only_with_consent_and_placements_count(
    client: httpx.Client, cast: Cast, runtime: Runtime
) -> None:
    _exit(runtime)
    for name in ("dave", "fay"):
        invitation = client.get("/api/talent/me/invitations", headers=cast.headers(name)).json()[0]["id"]
        assert (
            client.post(f"/api/talent/invitations/{invitation}/accept", headers=cast.headers(name)).status_code == 200
        )
    dave = create_profile(client, cast.headers("dave"), optional_items=["former_team"])
    assert dave["former_team"] == "team-orca" and dave["former_challenge"] == "k-llm-2026"
    fay = create_profile(client, cast.headers("fay"), name="Fay", email="fay@example.org")
    assert "former_team" not in fay  # she did not consent to that item

    opening = client.post(
        "/api/talent/openings",
        json={"organization": "newco", "title": "NLP", "required_skills": [NLP], "places": 2},
        headers=cast.headers("gus"),
    ).json()["id"]
    listed_person(client, cast.headers("dave"))
    consent(client, cast.headers("dave"), "pool")
    hired = client.post(
        f"/api/talent/openings/{opening}/hires", json={"person": dave["id"]}, headers=cast.headers("gus")
    )
    assert hired.status_code == 201
    # Hiring someone not visible to you is refused like a missing profile.
    hidden = client.post(
        f"/api/talent/openings/{opening}/hires", json={"person": fay["id"]}, headers=cast.headers("gus")
    )
    assert hidden.status_code == 404
    assert client.post("/api/talent/me/placement", json={}, headers=cast.headers("fay")).status_code == 201

    with runtime.database.session() as session:
        assert placements_by_team(session) == {"team-orca": 1}  # fay's team was not given to count
        assert placements_by_team(session, "other-challenge") == {}
    assert client.get("/api/talent/placements").json() == {"team-orca": 1}

    # Marking the same person hired twice does not count them twice.
    client.post(f"/api/talent/openings/{opening}/hires", json={"person": dave["id"]}, headers=cast.headers("gus"))
    assert client.get("/api/talent/placements").json() == {"team-orca": 1}
