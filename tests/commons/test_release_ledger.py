"""Release actions in the challenge's hash-chained ledger: recorded in the exit's transaction, verified
with the chain, never carrying the personal data a check found; a tampered release line fails verify."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from baton.accounts import service as accounts
from baton.challenge import ledger, recompute, service
from baton.commons import release
from baton.core import events
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from challenge.ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, make_world, submit_all
from commons.release_fixtures import make_repo

PERSONAL = "question,answer\n연락처는?,010-1234-5678\n메일은?,minji.kim@example.com\n".encode()
SECRETS = ("010-1234-5678", "minji.kim@example.com", "minji")


def _finalized_world(runtime: Runtime) -> str:
    """Stage 1 decided and final; team-a (eliminated) planned its model and a dataset with personal data."""
    world = make_world(runtime)
    make_repo(runtime, "dataset", "org-team-a/qa", {"train.csv": PERSONAL}, author="m-team-a")
    plan = {
        "repos": [
            {"repo": "org-team-a/model", "kind": "model", "license": "apache-2.0", "access": "public"},
            {"repo": "org-team-a/qa", "repo_type": "dataset", "kind": "dataset", "license": "cc-by-4.0"},
        ]
    }
    with runtime.database.session(write=True) as session:
        service.file_release_plan(
            session, world.slug, "team-a", plan, user=world.account(session, "m-team-a"), now=BEFORE_DEADLINE
        )
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    assert record["eliminated"] == ["team-a"]
    with runtime.database.session(write=True) as session:
        later = AFTER_DEADLINE + timedelta(days=11)
        assert service.finalize_due(session, now=later) == [(world.slug, "stage-1")]
    events.drain(runtime)  # the exits' events: team-a's release plan runs
    return world.slug


def _release_events(runtime: Runtime, slug: str) -> list[dict[str, object]]:
    with runtime.database.session() as session:
        return [event for event in service.ledger_events(session, slug) if event["kind"] == "release.action"]


def _sealed_prefix(runtime: Runtime, slug: str, repo_type: str, repo_id: str) -> str:
    """How release actions name the repo while it is private: "type:<its pseudonym>@<a commitment>"."""
    with runtime.database.session() as session:
        challenge = service.get_challenge(session, slug)
        repo = service.named_repo(session, repo_type, repo_id)
        assert repo is not None
        return f"{repo_type}:{service.model_pseudonym(challenge, repo_type, repo.id, repo_id)}@"


def test_release_actions_follow_finality_in_the_chain_without_personal_data(runtime: Runtime) -> None:
    slug = _finalized_world(runtime)
    with runtime.database.session() as session:
        events = service.ledger_events(session, slug)
    kinds = [event["kind"] for event in events]
    final, ended = kinds.index("decision.final"), kinds.index("challenge.ended")
    # The consequences come after the finality they stem from (changed on purpose, issue 13: they run
    # as event jobs after the finalizing transaction, so after the challenge's end is recorded too).
    assert final < ended < min(i for i, kind in enumerate(kinds) if kind == "release.action")
    actions = [
        (e["payload"]["team"], e["payload"]["action"], e["payload"]["repo"]) for e in _release_events(runtime, slug)
    ]
    assert ("team-a", "plan_started", None) in actions
    assert ("team-a", "released", "model:org-team-a/model") in actions
    # Changed on purpose (issue 12, item 12): the held dataset is still private, so the public ledger
    # names it by its sealed label (pseudonym@commitment) instead of "dataset:org-team-a/qa".
    sealed = _sealed_prefix(runtime, slug, "dataset", "org-team-a/qa")
    assert any(t == "team-a" and a == "held" and str(r).startswith(sealed) for t, a, r in actions)
    assert "org-team-a/qa" not in json.dumps(events, ensure_ascii=False)
    assert {team for team, _action, _repo in actions} == {"team-a", "team-b", "team-c"}  # the end releases the rest
    held = next(e["payload"] for e in _release_events(runtime, slug) if e["payload"]["action"] == "held")
    found = {f["data"]: f["count"] for f in held["detail"]["findings"]}  # type: ignore[index]
    assert found["phone"] == 1 and found["email"] == 1
    text = json.dumps(events, ensure_ascii=False)
    assert not any(secret in text for secret in SECRETS)  # kinds and counts, never the data
    # The operators' table and the ledger say the same thing, action for action.
    with runtime.database.session() as session:
        table = [(row["team"], row["action"]) for row in release.actions_of(session, slug)]
        assert table == [(team, action) for team, action, _repo in actions]
        report = service.verify_database(session, slug)
    assert report.ok, [str(problem) for problem in report.problems]


def test_an_operator_resolution_is_chained_with_its_reason_and_a_tampered_release_line_fails(
    runtime: Runtime,
) -> None:
    slug = _finalized_world(runtime)
    with runtime.database.session(write=True) as session:
        (item,) = release.held_items(session, slug)
        op = accounts.act_as(session, "op")
        for finding in item["findings"]:
            release.resolve_finding(
                session, runtime, finding["id"], op, resolution="accept", reason="Synthetic test numbers, agreed."
            )
    events = _release_events(runtime, slug)
    accepted = [e["payload"] for e in events if e["payload"]["action"] == "finding_accepted"]
    assert accepted and all(
        p["actor"] == "op" and p["detail"]["reason"] == "Synthetic test numbers, agreed." for p in accepted
    )
    assert events[-1]["payload"]["action"] == "released" and events[-1]["payload"]["repo"] == "dataset:org-team-a/qa"

    with runtime.database.session() as session:
        bundle = service.export_bundle(session, slug)
        head = service.get_challenge(session, slug).head_hash
    assert ledger.verify_bundle(bundle, head).ok
    lines = bundle.splitlines()
    index = next(i for i, line in enumerate(lines) if '"action":"released"' in line)
    lines[index] = lines[index].replace('"action":"released"', '"action":"held"')
    bad = ledger.verify_bundle("\n".join(lines) + "\n", head)
    assert not bad.ok
    assert any(problem.line == index + 1 and "altered" in problem.what for problem in bad.problems)


def test_verify_reads_release_actions_and_reports_unknown_kinds() -> None:
    first = ledger.make_event(
        None, "release.action", "2026-02-01T00:00:00+00:00", {"team": "t", "action": "nope", "actor": "baton"}
    )
    second = ledger.make_event(first, "rumour.spread", "2026-02-01T00:00:01+00:00", {"x": 1})
    _checked, problems = recompute.check_decisions([first, second])
    assert [seq for seq, _what in problems] == [1, 2]
    assert "unknown release action 'nope'" in problems[0][1] and "unknown event kind 'rumour.spread'" in problems[1][1]


def test_the_service_refuses_a_malformed_release_action(runtime: Runtime) -> None:
    world = make_world(runtime)
    with runtime.database.session(write=True) as session:
        before = service.get_challenge(session, world.slug).last_seq
        with pytest.raises(BadRequestError, match="actor"):
            service.record_release_action(session, world.slug, {"team": "team-a", "action": "released"})
        assert service.get_challenge(session, world.slug).last_seq == before


def _api_commit(client: Any, token: str, repo_id: str, path: str, content: bytes) -> str:
    lines = [
        {"key": "header", "value": {"summary": f"update {path}", "description": ""}},
        {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}},
    ]
    response = client.post(
        f"/api/datasets/{repo_id}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines) + b"\n",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["commitOid"])


def test_a_new_commit_to_a_held_repo_re_checks_it_by_itself(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from baton.app import create_app

    slug = _finalized_world(runtime)
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, "m-team-a")).value
        (held,) = release.held_items(session, slug)
    opened = {finding["id"] for finding in held["findings"]}
    with TestClient(create_app(runtime=runtime)) as client:
        # A commit that leaves the personal data in place: re-checked, still held, nothing doubled.
        _api_commit(client, token, "org-team-a/qa", "notes.txt", b"more questions soon\n")
        assert events.drain(runtime) >= 2  # the commit's dispatch and the commons' re-check
        with runtime.database.session() as session:
            (still,) = release.held_items(session, slug)
        assert {finding["id"] for finding in still["findings"] if finding["state"] == "open"} == opened
        # The cleaned file: the findings are marked cleaned by Baton and the dataset is released.
        cleaned = _api_commit(client, token, "org-team-a/qa", "train.csv", "question,answer\n수도는?,서울\n".encode())
        assert events.drain(runtime) >= 2
    with runtime.database.session() as session:
        item = next(i for i in release.list_items(session, challenge=slug) if i.repo_name == "org-team-a/qa")
        assert item.state == "released" and item.checked_commit == cleaned
        findings = release.findings_of(session, item)
        assert {(f.state, f.resolved_by, f.resolved_commit) for f in findings} == {("cleaned", "baton", cleaned)}
        assert service.verify_database(session, slug).ok
    # Changed on purpose (issue 12, item 12): until its release the private dataset is named by its
    # sealed labels (one pseudonym, a commitment per commit checked), then by its name.
    sealed = _sealed_prefix(runtime, slug, "dataset", "org-team-a/qa")
    actions = [
        e["payload"]["action"]
        for e in _release_events(runtime, slug)
        if e["payload"]["repo"] == "dataset:org-team-a/qa" or str(e["payload"]["repo"]).startswith(sealed)
    ]
    # Held, re-checked (still held), each finding cleaned by the re-check, then checked again and released.
    assert actions == [
        "checked",
        "held",
        "rechecked",
        "finding_cleaned",
        "finding_cleaned",
        "rechecked",
        "checked",
        "card_updated",
        "released",
    ]


def test_a_commit_to_a_repo_without_held_items_queues_nothing(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from baton.app import create_app
    from baton.core import jobs

    world = make_world(runtime)
    make_repo(runtime, "dataset", "org-team-a/free", {"a.csv": b"x,y\n1,2\n"}, author="m-team-a")
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, "m-team-a")).value
    with TestClient(create_app(runtime=runtime)) as client:
        _api_commit(client, token, "org-team-a/free", "a.csv", PERSONAL)
    events.drain(runtime)
    with runtime.database.session() as session:
        rechecks = jobs.list_jobs(session, kind="commons.recheck_held_release")
        assert len(rechecks) == 5  # one per commit: the teams' model repos, this repo, the API's commit
        assert {(job.status, str(job.result)) for job in rechecks} == {("succeeded", str({"items": {}}))}
        assert release.list_items(session) == []
    assert world.slug
