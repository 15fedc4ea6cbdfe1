"""Provenance follows a repo across commits: the weights' identity, not the commit, keys the reports."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from test_service import head, make_model, numpy_state, with_state

from baton.accounts import service as accounts
from baton.core import events, jobs
from baton.core.job_models import DEAD
from baton.core.runtime import Runtime
from baton.demo.seed import tiny_gpt2_files
from baton.hub import cards, commits
from baton.hub.models import Repo
from baton.provenance import follow, service, synthetic


def commit(runtime: Runtime, repo: Repo, files: dict[str, bytes], title: str) -> str:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, repo.namespace)
        fresh = session.get(Repo, repo.id)
        assert fresh is not None
        commits.commit_files(session, runtime.store, runtime.settings, user, fresh, files, title=title)
    events.drain(runtime)  # the commit's event reaches provenance, as a worker would deliver it
    return head(runtime, repo)


def scan_jobs(runtime: Runtime) -> list[jobs.Job]:
    with runtime.database.session() as session:
        return jobs.list_jobs(session, kind=service.SCAN_JOB)


def test_weights_identity_ignores_cards_but_not_tensors_or_weight_files(runtime: Runtime, users: Any) -> None:
    files = tiny_gpt2_files(seed=31)
    repo = make_model(runtime, "bob", "ident", files)
    first = head(runtime, repo)
    card_only = commit(runtime, repo, {"README.md": b"# ident\n\nA new card.\n"}, "card")
    doubled = commit(runtime, repo, {"weights.safetensors": files["model.safetensors"]}, "copy")
    changed = commit(runtime, repo, with_state(files, synthetic.rescale(numpy_state(files), seed=1)), "tune")
    with runtime.database.session() as session:
        key = {
            oid: follow.weights_identity(session, commits.resolve_revision(session, repo, oid))
            for oid in (first, card_only, doubled, changed)
        }
    assert key[first] is not None and key[first] == key[card_only]
    assert key[doubled] != key[first]  # a second weight file joined the revision
    assert len({key[first], key[doubled], key[changed]}) == 3


def test_a_card_only_commit_keeps_the_reports_and_a_new_weights_commit_is_rescanned(
    client: TestClient, runtime: Runtime, users: Any
) -> None:
    base_files = tiny_gpt2_files(seed=41)
    base = make_model(runtime, "bob", "base-41", base_files, card={"license": "apache-2.0"})
    hidden_files = with_state(base_files, synthetic.rescale(numpy_state(base_files), seed=3))
    hidden = make_model(runtime, "carol", "hidden-41", hidden_files)
    service.fingerprint_revision(runtime, base, head(runtime, base))
    scanned = head(runtime, hidden)
    assert service.scan_revision(runtime, hidden.id, scanned)["status"] == "flagged"

    # The release commit: the card changes, the weights do not. No new scan, and the reports follow.
    release = commit(
        runtime,
        hidden,
        {"README.md": cards.render_card({"license": "apache-2.0", "tags": ["baton-commons"]}, "# hidden\n").encode()},
        "Release",
    )
    assert release != scanned
    assert release not in {job.payload["commit"] for job in scan_jobs(runtime)}
    answer = client.get("/api/models/carol/hidden-41/provenance").json()
    summary = answer["summary"]
    assert summary["commit"] == release and summary["computed_on"] == scanned and summary["scan"] == "done"
    assert summary["status"] == "flagged" and summary["previous"] is None
    assert scanned[:12] in summary["note"]
    (flag,) = [f for f in summary["flags"] if f["reference"].startswith("bob/base-41@")]
    assert flag["computed_on"] == scanned and flag["verdict"] in service.DERIVED_VERDICTS
    assert answer["reports"] and {report["commit"] for report in answer["reports"]} == {scanned}
    # The pinned revision answers the same, computed on itself.
    pinned = client.get(f"/api/models/carol/hidden-41/provenance?revision={scanned}").json()["summary"]
    assert pinned["computed_on"] == scanned and pinned["status"] == "flagged"

    # New weights (an independent model now): a scan is queued; until it runs the answer is pending.
    retrained = commit(runtime, hidden, tiny_gpt2_files(seed=42), "Retrain")
    (job,) = [job for job in scan_jobs(runtime) if job.payload["commit"] == retrained]
    summary = client.get("/api/models/carol/hidden-41/provenance").json()["summary"]
    assert summary["status"] == "pending" and summary["scan"] == "pending" and summary["computed_on"] is None
    assert summary["flags"] == [] and summary["compared"] == 0  # the old verdicts are not this revision's
    assert summary["previous"]["commit"] == scanned and summary["previous"]["flags"]
    assert "pending" in summary["note"]

    # The job's worker gives up: the answer is stale (the earlier verdicts, other weights), not "no references".
    with runtime.database.session(write=True) as session:
        jobs.get(session, job.id).status = DEAD
    summary = client.get("/api/models/carol/hidden-41/provenance").json()["summary"]
    assert summary["status"] == "stale" and summary["scan"] == "failed"
    assert summary["previous"]["commit"] == scanned

    # The rescan runs (queued again by an operator): the new head's verdicts are its own.
    service.scan_job(runtime, dict(job.payload))
    summary = client.get("/api/models/carol/hidden-41/provenance").json()["summary"]
    assert summary["computed_on"] == retrained and summary["scan"] == "done" and summary["previous"] is None
    assert not [f for f in summary["flags"] if f["reference"].startswith("bob/base-41@")]

    # The first weights put back: their reports apply again at once, and no scan is queued for them.
    reverted = commit(runtime, hidden, {"model.safetensors": hidden_files["model.safetensors"]}, "Revert")
    assert reverted not in {job.payload["commit"] for job in scan_jobs(runtime)}
    summary = client.get("/api/models/carol/hidden-41/provenance").json()["summary"]
    assert summary["commit"] == reverted and summary["computed_on"] == scanned and summary["status"] == "flagged"


def test_the_migration_records_revisions_scanned_before_it(runtime: Runtime, users: Any) -> None:
    from alembic import command
    from sqlalchemy import select

    from baton.domains import alembic_config
    from baton.provenance.models import RevisionScan

    base_files = tiny_gpt2_files(seed=51)
    base = make_model(runtime, "bob", "base-51", base_files)
    child = make_model(runtime, "carol", "child-51", with_state(base_files, synthetic.rescale(numpy_state(base_files))))
    service.fingerprint_revision(runtime, base, head(runtime, base))
    scanned = head(runtime, child)
    service.scan_revision(runtime, child.id, scanned)
    config = alembic_config(runtime.database.engine)
    command.downgrade(config, "0015_file_scans")
    command.upgrade(config, "heads")
    with runtime.database.session() as session:
        (row,) = session.scalars(select(RevisionScan)).all()
        assert (row.repo_id, row.commit_oid, row.state) == (child.id, scanned, "done")
        assert row.weights == follow.weights_identity(session, commits.resolve_revision(session, child, scanned))
        assert row.finished_at is not None
