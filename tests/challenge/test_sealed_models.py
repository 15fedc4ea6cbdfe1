"""Issue 12, items 3 and 12: private repos in a challenge's public records.

A team copies another team's private weights into its public repo. The gate still catches it (the
private repo stays a provenance candidate), but every public record (submissions, gate evidence,
the ledger, the decision and its report) names the private repo only by its pseudonym and
commitment. Its team and operators see the real name. At finality the openings of repos that are
public by then are revealed; the others stay sealed, kept for operators and auditors, and
``verify`` checks whatever openings it is given.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.challenge import ledger, service
from baton.cli.main import app as cli
from baton.core import clock
from baton.core.runtime import Runtime
from baton.demo.seed import tiny_gpt2_files
from baton.hub import commits, repos
from baton.hub.models import Repo
from baton.provenance import service as provenance

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, headers

SLUG = "sealed-check"
STAGE = "stage-1"
SPEC = f"""\
challenge: {SLUG}
title: Sealed models
timezone: Asia/Seoul
appeal_days: 2
stages:
  - id: {STAGE}
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 1
    seed: 9
    criteria:
      - {{id: bench, kind: benchmark, weight: 100, tasks: [t1]}}
    gates: [{{id: independence}}]
"""
# team -> (organization, repo, private). orion's weights are private and copycat publishes a copy;
# nova's repo is private during the stage and made public before the decision is final.
TEAMS = {
    "copycat": ("copycat-org", "copycat-org/copy-lm", False),
    "orion": ("orion-lab", "orion-lab/stealth-model", True),
    "nova": ("nova-lab", "nova-lab/open-later", True),
}
HIDDEN = ("stealth-model", "open-later")


def member(team: str) -> str:
    return f"m-{team}"


def seed(runtime: Runtime) -> dict[str, str]:
    """The challenge, its teams and their submissions; returns team -> "repo@oid"."""
    weights = tiny_gpt2_files(seed=41)
    files = {"copycat": weights, "orion": weights, "nova": tiny_gpt2_files(seed=42)}
    models: dict[str, str] = {}
    with runtime.database.session(write=True) as session:
        operator = accounts.create_user(session, "op", is_admin=True)
        accounts.create_user(session, "outsider")
        as_operator = accounts.actor_for(operator)
        service.create_challenge(session, SPEC, operator=as_operator, now=BEFORE_DEADLINE)
        for team, (org, repo_id, private) in TEAMS.items():
            account = accounts.create_user(session, member(team))
            person = accounts.actor_for(account)
            organization = accounts.create_organization(session, org, creator=operator)
            accounts.set_membership(session, organization, account, "write")
            service.enter_team(
                session,
                SLUG,
                service.TeamEntry(team=team, name=team.title(), organizations=[org]),
                operator=as_operator,
            )
            repo, _ = repos.create_repo(session, person, repos.parse_repo_id("model", repo_id), private=private)
            commits.initial_commit(session, runtime.store, person, repo)
            commit = commits.commit_files(
                session, runtime.store, runtime.settings, person, repo, files[team], title="weights"
            )
            service.submit(session, SLUG, STAGE, team, repo=repo_id, user=person, now=BEFORE_DEADLINE)
            models[team] = f"{repo_id}@{commit.oid}"
    return models


def repo_of(runtime: Runtime, team: str) -> Repo:
    return repo_of_id(runtime, TEAMS[team][1])


def repo_of_id(runtime: Runtime, repo_id: str) -> Repo:
    with runtime.database.session() as session:
        found = repos.find_repo(session, repos.parse_repo_id("model", repo_id))
        assert found is not None
        return found


def hidden(text: str, models: dict[str, str]) -> list[str]:
    """What of the private repos ``text`` gives away (names, commits)."""
    words = [*HIDDEN, *(models[team].split("@")[1] for team in ("orion", "nova"))]
    return [word for word in words if word in text]


@pytest.fixture
def world(runtime: Runtime) -> dict[str, str]:
    models = seed(runtime)
    # orion's (private) weights are fingerprinted; copycat's public copy is scanned against the hub.
    orion = repo_of(runtime, "orion")
    provenance.fingerprint_revision(runtime, orion, models["orion"].split("@")[1])
    provenance.scan_revision(runtime, repo_of(runtime, "copycat").id, models["copycat"].split("@")[1])
    return models


def test_private_repos_are_sealed_in_every_public_record(
    runtime: Runtime, client: httpx.Client, world: dict[str, str], tmp_path: Path
) -> None:
    models = world
    base = f"/api/challenges/{SLUG}"
    op = headers(runtime, "op")
    with clock.frozen(BEFORE_DEADLINE) as now:
        with runtime.database.session(write=True) as session:
            operator = accounts.act_as(session, "op")
            # The gate still catches the copy of the private weights ...
            gate = service.check_gate(session, SLUG, STAGE, "copycat", operator=operator, now=BEFORE_DEADLINE)
            assert gate.outcome == "fail" and "copied" in gate.reason
            (flag,) = gate.evidence["flags"]
            assert flag["reference"].startswith("model-") and len(flag["commitment"]) == 64
            # ... and names orion's repo by the same sealed name as orion's own submission.
            (orion_submission,) = [s for t, s in service.list_submissions(session, SLUG, STAGE) if t.slug == "orion"]
            sealed = service.submission_sealed(session, orion_submission)
            assert sealed is not None and (flag["reference"], flag["commitment"]) == (
                sealed.pseudonym,
                sealed.commitment,
            )
            for team in TEAMS:  # scored under the real name, recorded under the public one
                recorded = service.record_score(
                    session,
                    SLUG,
                    STAGE,
                    service.BenchmarkScore(task="t1", model=models[team], score=0.5),
                    operator=operator,
                )
                assert not hidden(json.dumps(recorded), models)
            for team in ("orion", "nova"):
                service.override_gate(
                    session,
                    SLUG,
                    STAGE,
                    team,
                    outcome="pass",
                    reason="Checked by hand: independent.",
                    operator=operator,
                )

        # Submissions: sealed to the public, other teams and voters; real to the team and operators.
        for who in (None, "outsider", member("copycat")):
            listed = client.get(f"{base}/stages/{STAGE}/submissions", headers=headers(runtime, who) if who else {})
            assert listed.status_code == 200 and not hidden(listed.text, models), (who, listed.text)
            orion = next(entry for entry in listed.json() if entry["team"] == "orion")
            assert orion["repo"] is None and orion["revision"] is None
            assert orion["model"] == f"{orion['sealed']['pseudonym']}@{orion['sealed']['commitment']}"
            copycat = next(entry for entry in listed.json() if entry["team"] == "copycat")
            assert copycat["model"] == models["copycat"]  # a public repo is named as before
        for who in ("op", member("orion")):
            listed = client.get(f"{base}/stages/{STAGE}/submissions", headers=headers(runtime, who)).json()
            assert next(entry for entry in listed if entry["team"] == "orion")["model"] == models["orion"]

        now.set(AFTER_DEADLINE)
        decided = client.post(f"{base}/stages/{STAGE}/decision", headers=op)
        assert decided.status_code == 201, decided.text
        assert decided.json()["teams"][-1]["team"] == "copycat"
        assert decided.json()["teams"][-1]["eliminated_by"] == "gate:independence"
        public = [
            client.get(f"{base}/ledger"),
            client.get(f"{base}/stages/{STAGE}/decision"),
            *(client.get(f"{base}/stages/{STAGE}/report?format={kind}") for kind in ("json", "csv", "html")),
            client.get(f"/challenges/{SLUG}/stages/{STAGE}/report?lang=ko"),
        ]
        for response in public:
            assert response.status_code == 200 and not hidden(response.text, models), response.url
        assert sealed.label in client.get(f"{base}/stages/{STAGE}/decision").text

        # Finality: nova's repo is public by then and is revealed; orion's stays private and sealed.
        with runtime.database.session(write=True) as session:
            row = session.get(Repo, repo_of(runtime, "nova").id)
            assert row is not None
            row.private = False
        now.set(AFTER_DEADLINE + timedelta(days=3))
        with runtime.database.session(write=True) as session:
            assert service.finalize_due(session) == [(SLUG, STAGE)]
        bundle = client.get(f"{base}/ledger").text
        assert "stealth-model" not in bundle and models["orion"].split("@")[1] not in bundle
        revealed = [
            json.loads(line)["event"]["payload"] for line in bundle.splitlines()[1:] if '"commitments.revealed"' in line
        ]
        assert [payload["reason"] for payload in revealed] == ["decision_final"]
        assert [opening["value"]["repo"] for opening in revealed[0]["openings"]] == ["nova-lab/open-later"]

        # verify: the public bundle checks the revealed opening and counts orion's as sealed ...
        report = ledger.verify_bundle(bundle)
        assert report.ok, report.problems
        assert (report.commitments, report.commitments_opened, report.commitments_sealed) == (2, 1, 1)
        # ... the operators' openings (refused to anyone else) open the rest ...
        assert client.get(f"{base}/openings").status_code == 401
        assert client.get(f"{base}/openings", headers=headers(runtime, member("orion"))).status_code == 403
        kept = client.get(f"{base}/openings", headers=op)
        assert kept.status_code == 200
        openings = ledger.parse_openings(kept.text)
        full = ledger.verify_bundle(bundle, openings=openings)
        assert full.ok and full.commitments_sealed == 0
        # ... and an opening that lies about the repo behind a commitment is caught.
        forged: list[dict[str, Any]] = json.loads(json.dumps(openings))
        for opening in forged:
            if opening["value"].get("repo") == TEAMS["orion"][1]:
                opening["value"]["repo"] = "someone-else/model"
        forged_report = ledger.verify_bundle(bundle, openings=forged)
        assert not forged_report.ok
        assert any("does not match its commitment" in problem.what for problem in forged_report.problems)

    # The CLI does the same offline.
    (tmp_path / "ledger.jsonl").write_text(bundle, encoding="utf-8")
    (tmp_path / "openings.json").write_text(kept.text, encoding="utf-8")
    runner = CliRunner()
    verified = runner.invoke(cli, ["challenge", "verify", "--bundle", str(tmp_path / "ledger.jsonl")])
    assert verified.exit_code == 0 and "1 still sealed" in verified.output, verified.output
    opened = runner.invoke(
        cli,
        [
            "challenge",
            "verify",
            "--bundle",
            str(tmp_path / "ledger.jsonl"),
            "--openings",
            str(tmp_path / "openings.json"),
        ],
    )
    assert opened.exit_code == 0 and "0 still sealed" in opened.output, opened.output


def test_public_gate_evidence_names_no_provenance_report(
    runtime: Runtime, client: httpx.Client, world: dict[str, str]
) -> None:
    """Item 2: a report id is server-wide, so beside a sealed reference it would link the challenge's
    pseudonym to the provenance report's. Operators keep it; the public ledger does not carry it."""
    base = f"/api/challenges/{SLUG}"
    with clock.frozen(BEFORE_DEADLINE):
        checked = client.post(
            f"{base}/stages/{STAGE}/gates/independence/check", headers=headers(runtime, "op"), json={"team": "copycat"}
        )
    assert checked.status_code == 200, checked.text
    (flag,) = checked.json()["evidence"]["flags"]
    assert isinstance(flag["report_id"], int) and flag["reference"].startswith("model-")
    with runtime.database.session() as session:
        (public,) = [e["payload"] for e in service.ledger_events(session, SLUG) if e["kind"] == "gate.checked"]
    (public_flag,) = public["evidence"]["flags"]
    assert {key: value for key, value in flag.items() if key != "report_id"} == public_flag
    assert "report_id" not in client.get(f"{base}/ledger").text


def test_only_commitments_the_ledger_carries_are_revealed(
    runtime: Runtime, client: httpx.Client, world: dict[str, str]
) -> None:
    """A private repo the gate compared and found independent gets a sealed name that no public record
    uses; made public, it must not be "revealed": verify refuses an opening of nothing in the ledger."""
    with runtime.database.session(write=True) as session:
        person = accounts.act_as(session, member("orion"))
        draft, _ = repos.create_repo(session, person, repos.parse_repo_id("model", "orion-lab/draft"), private=True)
        commits.initial_commit(session, runtime.store, person, draft)
        oid = commits.commit_files(
            session, runtime.store, runtime.settings, person, draft, tiny_gpt2_files(seed=43), title="weights"
        ).oid
    provenance.fingerprint_revision(runtime, repo_of_id(runtime, "orion-lab/draft"), oid)
    provenance.scan_revision(runtime, repo_of(runtime, "copycat").id, world["copycat"].split("@")[1])
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        gate = service.check_gate(session, SLUG, STAGE, "copycat", operator=operator, now=BEFORE_DEADLINE)
        assert "draft" not in json.dumps(gate.evidence)  # independent of it: not in the evidence
        made_public = session.get(Repo, repo_of_id(runtime, "orion-lab/draft").id)
        assert made_public is not None
        made_public.private = False
    with runtime.database.session(write=True) as session:
        service.reveal_public(session, SLUG, operator=accounts.act_as(session, "op"))
    report = ledger.verify_bundle(client.get(f"/api/challenges/{SLUG}/ledger").text)
    assert report.ok, [problem.what for problem in report.problems]
