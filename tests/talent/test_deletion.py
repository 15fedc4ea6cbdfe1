"""Deletion and destruction at the end of retention: afterwards nothing about the person remains in
any talent table (checked by scanning every row of every talent table)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, text, update

from baton import domains
from baton.accounts import service as accounts
from baton.core import jobs
from baton.core.database import utcnow
from baton.core.runtime import Runtime
from baton.talent import retention
from baton.talent.models import TalentProfile, TalentRequest

from .talent_helpers import ML, NLP, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]

TALENT_TABLES = sorted(name for name in domains.metadata().tables if name.startswith("talent_"))


def _rows(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    with runtime.database.session() as session:
        return {
            table: [dict(row._mapping) for row in session.execute(text(f'SELECT * FROM "{table}"'))]
            for table in TALENT_TABLES
        }


def _profile_id(runtime: Runtime, public_id: str) -> int:
    with runtime.database.session() as session:
        profile_id = session.scalar(select(TalentProfile.id).where(TalentProfile.public_id == public_id))
        assert profile_id is not None
        return profile_id


def _traces(runtime: Runtime, user: str, public_id: str, profile_id: int, needles: list[str]) -> list[str]:
    """Every place a talent table still holds something about the person."""
    with runtime.database.session() as session:
        account_id = accounts.get_account(session, user).id
    user_id_columns = {"user_id", "recipient_id", "started_by_id", "answered_by_id", "created_by_id"}
    found = []
    for table, rows in _rows(runtime).items():
        for row in rows:
            dumped = json.dumps(row, default=str, ensure_ascii=False)
            found += [f"{table}: {needle}" for needle in [*needles, public_id] if needle in dumped]
            found += [f"{table}.{col}" for col in user_id_columns if row.get(col) == account_id]
            if row.get("profile_id") == profile_id or (table == "talent_profiles" and row["id"] == profile_id):
                found.append(f"{table} row {row['id']}")
    return found


def _full_life(client: httpx.Client, cast: Cast) -> str:
    """dave goes through everything the pool offers, leaving rows in every table."""
    dave = cast.headers("dave")
    with_invite = client.get("/api/talent/me/invitations", headers=dave).json()
    assert with_invite == []
    me = create_profile(
        client,
        dave,
        name="Dave Kim 김다브",
        email="dave.kim@example.org",
        skills=[NLP, ML],
        optional_items=["keywords", "career"],
        keywords=["형태소 분석 전문가"],
        career=[{"organization": "Secret Lab of Dave", "role": "postdoc"}],
    )
    listed_person(client, dave, hidden_from=["rival"], items=("name", "skills", "keywords", "career"))
    consent(client, dave, "recommendation", ["keywords"])
    consent(client, dave, "provision", recipient="newco")
    client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave)
    opening = client.post(
        "/api/talent/openings",
        json={"organization": "newco", "title": "NLP", "required_skills": [NLP], "places": 1},
        headers=cast.headers("gus"),
    ).json()["id"]
    client.put("/api/talent/me/preferences", json={"openings": [opening]}, headers=dave)
    client.put(f"/api/talent/openings/{opening}/preferences", json={"people": [me["id"]]}, headers=cast.headers("gus"))
    client.post("/api/talent/me/reviews", json={"subject": "review my ranking, Dave"}, headers=dave)
    assert client.post("/api/talent/matching-runs", headers=cast.headers("alice")).status_code == 201
    assert (
        client.post(
            f"/api/talent/openings/{opening}/hires", json={"person": me["id"]}, headers=cast.headers("gus")
        ).status_code
        == 201
    )
    public_id: str = me["id"]
    return public_id


NEEDLES = [
    "Dave Kim",
    "김다브",
    "dave.kim@example.org",
    "형태소 분석 전문가",
    "Secret Lab of Dave",
    "review my ranking",
]


def test_deletion_leaves_nothing_about_the_person(client: httpx.Client, cast: Cast, runtime: Runtime) -> None:
    public_id = _full_life(client, cast)
    profile_id = _profile_id(runtime, public_id)
    before = _traces(runtime, "dave", public_id, profile_id, NEEDLES)
    assert any(trace.startswith("talent_profiles") for trace in before)
    assert any(trace.startswith("talent_matches") for trace in before)
    assert any(trace.startswith("talent_placements") for trace in before)

    deleted = client.delete("/api/talent/me", headers=cast.headers("dave"))
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert "retention" in deleted.json()["message"]  # says what recipients keep
    assert _traces(runtime, "dave", public_id, profile_id, NEEDLES) == []

    # What outlives the profile holds no link to it: an anonymous placement count and the dated log.
    assert client.get("/api/talent/placements").json() == {}  # dave gave no former team
    with runtime.database.session() as session:
        log = list(session.scalars(select(TalentRequest).where(TalentRequest.kind == "deletion")))
        assert len(log) == 1 and log[0].profile_id is None and log[0].completed_at is not None
    assert client.get(f"/api/talent/people/{public_id}", headers=cast.headers("gus")).status_code == 404
    assert client.get("/api/talent/me", headers=cast.headers("dave")).status_code == 404
    again = client.delete("/api/talent/me", headers=cast.headers("dave"))
    assert again.status_code == 404 and "nothing to delete" in again.json()["message"]
    # The person may start again afresh.
    create_profile(client, cast.headers("dave"))


def test_retention_destroys_expired_profiles(client: httpx.Client, cast: Cast, runtime: Runtime) -> None:
    public_id = _full_life(client, cast)
    profile_id = _profile_id(runtime, public_id)
    fay = create_profile(client, cast.headers("fay"), name="Fay Park", email="fay@example.org")
    assert retention.purge_expired_in(runtime) == {"profiles_destroyed": 0, "invitations_deleted": 0}
    with runtime.database.session(write=True) as session:
        session.execute(
            update(TalentProfile)
            .where(TalentProfile.public_id == public_id)
            .values(retain_until=utcnow() - timedelta(seconds=1))
        )
        queued = jobs.list_jobs(session, kind="talent.retention")
        assert queued and queued[0].run_after is not None  # a sweep is scheduled
    result = runtime.registry.job_registry().resolve("talent.retention")(runtime, {})
    assert result == {"profiles_destroyed": 1, "invitations_deleted": 0}
    assert _traces(runtime, "dave", public_id, profile_id, NEEDLES) == []
    assert client.get("/api/talent/me", headers=cast.headers("fay")).json()["id"] == fay["id"]
    with runtime.database.session() as session:
        assert session.scalar(select(TalentRequest.id).where(TalentRequest.kind == "retention")) is not None


def test_renewal_extends_retention(client: httpx.Client, cast: Cast) -> None:
    me = create_profile(client, cast.headers("dave"))
    renewed = client.post("/api/talent/me/renew", headers=cast.headers("dave")).json()
    assert renewed["retain_until"] >= me["retain_until"]
    assert client.post("/api/talent/purge-expired", headers=cast.headers("gus")).status_code == 403
    assert client.post("/api/talent/purge-expired", headers=cast.headers("alice")).json()["profiles_destroyed"] == 0
