"""Provenance in the hub: fingerprints, candidate selection, scan jobs, reports over HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from baton.accounts import service as accounts
from baton.core import events, jobs
from baton.core.runtime import Runtime
from baton.demo.seed import tiny_gpt2_files
from baton.hub import cards, commits, repos
from baton.hub.models import Repo
from baton.provenance import service
from baton.provenance.models import ModelFingerprint, TensorDigest


def make_model(
    runtime: Runtime, owner: str, name: str, files: dict[str, bytes], card: dict[str, Any] | None = None
) -> Repo:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", f"{owner}/{name}"), private=False)
        commits.initial_commit(session, runtime.store, user, repo)
        payload = dict(files)
        if card is not None:
            payload["README.md"] = cards.render_card(card, f"# {name}\n").encode()
        commits.commit_files(session, runtime.store, runtime.settings, user, repo, payload, title="weights")
        return repo


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines)


def head(runtime: Runtime, repo: Repo) -> str:
    with runtime.database.session() as session:
        return commits.resolve_revision(session, repo, None).oid


def renamed(files: dict[str, bytes], prefix: str) -> dict[str, bytes]:
    """The same tensors under another name prefix (a copy that hides its origin)."""

    blob = files["model.safetensors"]
    length = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + length])
    renamed_header = {(key if key == "__metadata__" else prefix + key): value for key, value in header.items()}
    encoded = json.dumps(renamed_header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return files | {"model.safetensors": struct.pack("<Q", len(encoded)) + encoded + blob[8 + length :]}


def test_fingerprint_is_stored_once_and_finds_copies_under_any_prefix(runtime: Runtime, users: Any) -> None:
    original = make_model(runtime, "bob", "original", tiny_gpt2_files(seed=1))
    copy = make_model(runtime, "carol", "copy", renamed(tiny_gpt2_files(seed=1), "language_model."))
    other = make_model(runtime, "carol", "other", tiny_gpt2_files(seed=2))
    for repo in (original, copy, other):
        service.fingerprint_revision(runtime, repo, head(runtime, repo))
    again = service.fingerprint_revision(runtime, copy, head(runtime, copy))
    with runtime.database.session() as session:
        assert session.scalar(select(ModelFingerprint.id).where(ModelFingerprint.repo_id == copy.id)) == again.id
        names = set(session.scalars(select(TensorDigest.name).where(TensorDigest.fingerprint_id == again.id)))
        assert "language_model.transformer.wte.weight" in names
        found = {c.repo.repo_id: c.reason for c in service.candidates_for(session, copy, again)}
    # The copy shares digests with the original only; the other model is a candidate by its width or,
    # since these random initialisations have near components, through the component index.
    assert found["bob/original"] == "digest"
    assert found["carol/other"] in ("component", "width")


def test_declared_base_is_a_candidate_first(runtime: Runtime, users: Any) -> None:
    base = make_model(runtime, "bob", "base", tiny_gpt2_files(seed=3))
    service.fingerprint_revision(runtime, base, head(runtime, base))
    child = make_model(
        runtime, "carol", "child", tiny_gpt2_files(seed=4), card={"base_model": "bob/base", "license": "mit"}
    )
    fingerprint = service.fingerprint_revision(runtime, child, head(runtime, child))
    with runtime.database.session() as session:
        found = service.candidates_for(session, child, fingerprint)
    assert [(c.repo.repo_id, c.reason) for c in found] == [("bob/base", "declared")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_commit_through_the_api_queues_one_scan_job(client: TestClient, runtime: Runtime, users: Any) -> None:
    bob = users.headers("bob")
    assert client.post("/api/repos/create", json={"name": "queued", "type": "model"}, headers=bob).status_code == 200
    files = tiny_gpt2_files(seed=5)
    response = client.post(
        "/api/models/bob/queued/commit/main",
        content=ndjson(
            {"key": "header", "value": {"summary": "add config"}},
            {
                "key": "file",
                "value": {"path": "config.json", "content": base64.b64encode(files["config.json"]).decode()},
            },
        ),
        headers=bob | {"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200
    events.drain(runtime)  # the commit's event reaches provenance (a worker would deliver it)
    with runtime.database.session() as session:
        assert jobs.list_jobs(session, kind=service.SCAN_JOB) == []  # no weights changed: no scan
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "bob/queued"))
        assert repo is not None
    # Weights through the LFS flow: the commit queues exactly one scan for the new revision.
    weights = files["model.safetensors"]
    oid = hashlib.sha256(weights).hexdigest()
    batch = client.post(
        "/bob/queued.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(weights)}]},
        headers=bob,
    ).json()
    upload = batch["objects"][0]["actions"]["upload"]["href"]
    assert client.put(upload.replace("http://testserver", ""), content=weights).status_code == 200
    body = ndjson(
        {"key": "header", "value": {"summary": "weights"}},
        {"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": oid, "size": len(weights)}},
    )
    committed = client.post(
        "/api/models/bob/queued/commit/main", content=body, headers=bob | {"Content-Type": "application/x-ndjson"}
    )
    assert committed.status_code == 200, committed.text
    events.drain(runtime)
    events.drain(runtime)  # delivered again: still one scan
    with runtime.database.session() as session:
        queued = jobs.list_jobs(session, kind=service.SCAN_JOB)
    assert len(queued) == 1 and queued[0].payload == {"repo_id": repo.id, "commit": committed.json()["commitOid"]}


def numpy_state(files: dict[str, bytes]) -> dict[str, Any]:
    from safetensors.numpy import load

    return dict(load(files["model.safetensors"]))


def with_state(files: dict[str, bytes], state: dict[str, Any]) -> dict[str, bytes]:
    from safetensors.numpy import save

    return files | {"model.safetensors": save({name: value.astype("float32") for name, value in state.items()})}


def test_scan_confirms_a_declared_base_and_flags_an_undeclared_derivation(
    client: TestClient, runtime: Runtime, users: Any
) -> None:
    from baton.provenance import synthetic

    base_files = tiny_gpt2_files(seed=11)
    base = make_model(runtime, "bob", "base", base_files)
    state = numpy_state(base_files)
    declared = make_model(
        runtime,
        "carol",
        "declared",
        with_state(base_files, synthetic.permute_hidden_units(state, seed=1)),
        card={"base_model": "bob/base", "base_model_relation": "finetune", "license": "mit"},
    )
    hidden = make_model(runtime, "carol", "hidden", with_state(base_files, synthetic.rescale(state, seed=2)))
    stranger = make_model(runtime, "carol", "stranger", tiny_gpt2_files(seed=12))
    service.fingerprint_revision(runtime, base, head(runtime, base))
    service.fingerprint_revision(runtime, stranger, head(runtime, stranger))

    summary = service.scan_revision(runtime, declared.id, head(runtime, declared))
    assert [check["message"] for check in summary["declared_checks"]] == ["declared finetune of bob/base: confirmed"]
    assert summary["flags"] == []  # the stranger is compared (same width) and found independent

    summary = service.scan_revision(runtime, hidden.id, head(runtime, hidden))
    flagged = {flag["reference"].split("@")[0]: flag for flag in summary["flags"]}
    assert set(flagged) >= {"bob/base"} and "carol/stranger" not in flagged
    assert flagged["bob/base"]["verdict"] in ("derived", "copied")

    # The reports are reachable from the repo, as JSON and as a self-contained HTML page.
    listing = client.get("/api/models/carol/hidden/provenance").json()
    assert listing["summary"]["status"] == "flagged"
    report = next(item for item in listing["reports"] if item["reference"].startswith("bob/base@"))
    page = client.get(report["html"])
    assert page.status_code == 200 and "출처 분석 보고서" in page.text and "Provenance report" in page.text
    detail = client.get(f"/api/provenance/reports/{report['id']}").json()
    assert detail["result"]["verdict"] == report["verdict"]
