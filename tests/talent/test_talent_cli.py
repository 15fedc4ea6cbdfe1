"""``baton talent ...``: purge-expired, skills, notices, export, delete, reviews/answer, match (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from baton.cli.main import app
from baton.core.database import utcnow
from baton.core.runtime import Runtime
from baton.talent.models import TalentProfile

from .talent_helpers import NLP, Cast, cast, consent, create_profile

__all__ = ["cast"]


@pytest.fixture
def env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI pointed at the same database as the test's runtime."""
    for name in ("BATON_DATABASE_URL", "BATON_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return {
        "BATON_DATABASE_URL": runtime.settings.resolved_database_url,
        "BATON_DATA_DIR": str(runtime.settings.data_dir),
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["talent", *args], env=env)


def _json_tail(output: str) -> object:
    start = min(i for i in (output.find("{"), output.find("[")) if i >= 0)
    return json.loads(output[start:])


def test_purge_expired_and_deletion_requests(
    client: httpx.Client, cast: Cast, runtime: Runtime, env: dict[str, str]
) -> None:
    create_profile(client, cast.headers("dave"))
    create_profile(client, cast.headers("fay"), name="Fay", email="fay@example.org")
    first = run(env, "purge-expired")
    assert first.exit_code == 0, first.output
    assert _json_tail(first.stdout) == {"profiles_destroyed": 0, "invitations_deleted": 0}
    with runtime.database.session(write=True) as session:
        session.execute(
            update(TalentProfile).where(TalentProfile.name == "Fay").values(retain_until=utcnow() - timedelta(days=1))
        )
    second = run(env, "purge-expired")
    assert _json_tail(second.stdout) == {"profiles_destroyed": 1, "invitations_deleted": 0}
    assert client.get("/api/talent/me", headers=cast.headers("fay")).status_code == 404
    assert client.get("/api/talent/me", headers=cast.headers("dave")).status_code == 200

    exported = run(env, "export", "dave")
    assert exported.exit_code == 0 and _json_tail(exported.stdout)["profile"]["contact_email"] == "dave.kim@example.org"  # type: ignore[index]
    unconfirmed = run(env, "delete", "dave")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    assert client.get("/api/talent/me", headers=cast.headers("dave")).status_code == 200
    assert run(env, "delete", "dave", "--yes").exit_code == 0
    assert client.get("/api/talent/me", headers=cast.headers("dave")).status_code == 404
    nothing = run(env, "delete", "dave", "--yes")
    assert nothing.exit_code == 2 and "nothing to delete" in " ".join(nothing.output.split())


def test_skills_notices_reviews_and_matching(client: httpx.Client, cast: Cast, env: dict[str, str]) -> None:
    found = run(env, "skills", "자연어 처리", "--lang", "ko")
    assert found.exit_code == 0 and NLP in found.stdout.split()
    notices = run(env, "notices", "--lang", "en")
    assert notices.exit_code == 0 and [n["purpose"] for n in _json_tail(notices.stdout)] == [  # type: ignore[union-attr]
        "collection",
        "pool",
        "recommendation",
        "provision",
    ]
    create_profile(client, cast.headers("dave"))
    consent(client, cast.headers("dave"), "recommendation")
    client.post("/api/talent/me/reviews", json={"subject": "please review"}, headers=cast.headers("dave"))
    not_operator = run(env, "reviews", "--operator", "bob")
    assert not_operator.exit_code == 2 and "operator" in not_operator.output
    queue = _json_tail(run(env, "reviews", "--operator", "alice").stdout)
    assert [row["subject"] for row in queue] == ["please review"]  # type: ignore[index, union-attr]
    review_id = str(queue[0]["id"])  # type: ignore[index]
    assert run(env, "answer", review_id, "Checked by hand", "--operator", "alice").exit_code == 0
    assert client.get("/api/talent/me/reviews", headers=cast.headers("dave")).json()[0]["answer"] == "Checked by hand"
    matched = run(env, "match", "--operator", "alice")
    assert matched.exit_code == 0, matched.output
    assert "non-binding" in matched.output and _json_tail(matched.stdout)["binding"] is False  # type: ignore[index]
