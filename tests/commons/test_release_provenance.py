"""Licenses along what provenance verified: an undeclared component from a non-commercial model holds
a release like a declared non-commercial base; a private reference is named sealed."""

from __future__ import annotations

from typing import Any

from baton.accounts import service as accounts
from baton.commons import release
from baton.commons.release import PlannedRepo
from baton.core import events
from baton.core.runtime import Runtime
from baton.demo.challenge_demo import fine_tuned, gpt2_state, model_files, vision_tower_state
from baton.hub import commits
from baton.provenance import service as provenance
from commons.release_fixtures import EXIT, NOW, commit, get, make_repo
from conftest import Tokens


def files_of(state: dict[str, Any], width: int) -> dict[str, bytes]:
    files = model_files(state, width, {}, "model", "A test model.")
    files.pop("README.md")
    return files


def head(runtime: Runtime, repo_type: str, repo_id: str) -> tuple[int, str]:
    with runtime.database.session() as session:
        repo = get(session, repo_type, repo_id)
        return repo.id, commits.resolve_revision(session, repo, None).oid


def scan(runtime: Runtime, repo_id: str) -> dict[str, Any]:
    return provenance.scan_revision(runtime, *head(runtime, "model", repo_id))


def fingerprint(runtime: Runtime, repo_id: str) -> None:
    with runtime.database.session() as session:
        repo = get(session, "model", repo_id)
        oid = commits.resolve_revision(session, repo, None).oid
    provenance.fingerprint_revision(runtime, repo, oid)


def execute(runtime: Runtime, planned: list[PlannedRepo]) -> dict[str, dict[str, Any]]:
    items = release.execute_plan(runtime, EXIT, planned, now=NOW)
    with runtime.database.session() as session:
        return {item.repo_name: release.item_json(session, item) for item in items}


def test_an_undeclared_non_commercial_component_holds_like_a_declared_base(runtime: Runtime, users: Tokens) -> None:
    tower = vision_tower_state(602)
    make_repo(
        runtime,
        "model",
        "carol/vlm",
        files_of(gpt2_state(603, 24) | tower, 24),
        card={"license": "cc-by-nc-4.0"},
        private=False,
        author="carol",
    )
    # Own language model, vision encoder copied bit for bit; the card declares nothing.
    make_repo(runtime, "model", "lab/own", files_of(gpt2_state(605, 24) | tower, 24), card={"license": "apache-2.0"})
    # The sibling that declares the same base.
    make_repo(
        runtime,
        "model",
        "lab/chat",
        files_of(fine_tuned(gpt2_state(605, 24) | tower, 12), 24),
        card={"license": "apache-2.0", "base_model": "carol/vlm", "base_model_relation": "finetune"},
    )
    make_repo(runtime, "model", "lab/clean", files_of(gpt2_state(604, 24), 24), card={"license": "apache-2.0"})
    fingerprint(runtime, "carol/vlm")
    assert any(flag["relation"] == "copied_component" for flag in scan(runtime, "lab/own")["flags"])
    assert not any(flag["verdict"] in provenance.DERIVED_VERDICTS for flag in scan(runtime, "lab/clean")["flags"])

    items = execute(
        runtime,
        [PlannedRepo("model", name, license="apache-2.0") for name in ("lab/own", "lab/chat", "lab/clean")],
    )
    assert {name: item["state"] for name, item in items.items()} == {
        "lab/own": "held",
        "lab/chat": "held",  # declared lineage still holds, as before
        "lab/clean": "released",
    }
    (finding,) = items["lab/own"]["findings"]
    assert finding["kind"] == "license"
    summary = finding["summary"]
    # The hold names the reference, the component and the license.
    assert "carol/vlm (not declared; provenance found vision_tower" in summary and "cc-by-nc-4.0" in summary
    (verified,) = [base for base in finding["detail"]["bases"] if base.get("source") == "provenance"]
    assert verified["id"] == "carol/vlm" and verified["license"] == "cc-by-nc-4.0"
    assert any(name.startswith("vision_tower") for name in verified["components"])
    assert items["lab/own"]["effective_license"] == "cc-by-nc-4.0"
    (declared,) = items["lab/chat"]["findings"]
    assert "carol/vlm" in declared["summary"] and "not declared" not in declared["summary"]

    # The operator's ways keep working: accepting with a written reason releases it.
    with runtime.database.session(write=True) as session:
        release.resolve_finding(
            session,
            runtime,
            finding["id"],
            accounts.act_as(session, "alice"),
            resolution="accept",
            reason="the encoder's authors granted a commercial license in writing",
        )
        assert get(session, "model", "lab/own").private is False


def test_a_private_reference_is_sealed_and_new_weights_do_not_clear_it_before_their_scan(
    runtime: Runtime, users: Tokens
) -> None:
    secret = gpt2_state(611, 24)
    make_repo(runtime, "model", "carol/secret", files_of(secret, 24), card={"license": "cc-by-nc-4.0"}, author="carol")
    make_repo(runtime, "model", "lab/copycat", files_of(secret, 24), card={"license": "apache-2.0"})
    fingerprint(runtime, "carol/secret")
    (flag,) = [f for f in scan(runtime, "lab/copycat")["flags"] if f["reference"].startswith("carol/secret@")]
    assert flag["verdict"] in provenance.DERIVED_VERDICTS

    item = execute(runtime, [PlannedRepo("model", "lab/copycat", license="apache-2.0")])["lab/copycat"]
    assert item["state"] == "held"
    (finding,) = item["findings"]
    text = str(finding)
    assert "carol" not in text and "secret" not in text  # never named: a pseudonym and its commitment
    (verified,) = [base for base in finding["detail"]["bases"] if base.get("source") == "provenance"]
    assert verified["id"].startswith("model-") and verified["commitment"] and verified["license"] == "cc-by-nc-4.0"
    assert verified["id"] in finding["summary"]

    # New weights (a little training on top): until they are scanned the earlier verdict still counts,
    # so the automatic re-check does not mark the finding cleaned.
    commit(runtime, "model", "lab/copycat", files_of(fine_tuned(secret, 13, scale=0.05), 24))
    events.drain(runtime)  # the commit's event: provenance queues a scan, the commons re-checks the held item
    with runtime.database.session() as session:
        (again,) = release.held_items(session)
        assert again["repo"] == "lab/copycat" and again["checked_commit"] != item["checked_commit"]
        assert [f["state"] for f in again["findings"]] == ["open"]
        rechecked = [row for row in release.actions_of(session, "demo-2026") if row["action"] == "rechecked"]
    assert rechecked[-1]["detail"]["cleaned"] == 0 and rechecked[-1]["detail"]["findings"] == 1

    # The rescan of the new weights runs and still finds the derivation (now derived, no longer a bit
    # copy): the item stays held, by a finding that says so.
    provenance.scan_revision(runtime, *head(runtime, "model", "lab/copycat"))
    events.drain(runtime)  # provenance.scan_finished: the commons re-checks the held item
    with runtime.database.session() as session:
        (still,) = release.held_items(session)
        (open_finding,) = [f for f in still["findings"] if f["state"] == "open"]
        assert verified["id"] in open_finding["summary"] and "cc-by-nc-4.0" in open_finding["summary"]

    # Weights trained from scratch, scanned: the finding is cleaned by the re-check after the scan, and
    # the item moves on without an operator.
    commit(runtime, "model", "lab/copycat", files_of(gpt2_state(612, 24), 24))
    events.drain(runtime)
    with runtime.database.session() as session:
        assert "open" in [f["state"] for f in release.held_items(session)[0]["findings"]]  # rescan pending
    provenance.scan_revision(runtime, *head(runtime, "model", "lab/copycat"))
    events.drain(runtime)
    with runtime.database.session() as session:
        assert release.held_items(session) == []
        (item_row,) = release.list_items(session)
        assert item_row.state == "released"
        findings = release.item_json(session, item_row)["findings"]
        assert {f["state"] for f in findings} == {"cleaned"} and {f["resolved_by"] for f in findings} == {"baton"}
