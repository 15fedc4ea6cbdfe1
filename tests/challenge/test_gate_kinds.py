"""Gate kinds: independence policies (declared_ok, from_scratch with an allowlist), threshold, license, documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.challenge import service
from baton.challenge.errors import InvalidSpecError
from baton.challenge.service.gates import component_kind
from baton.challenge.spec import example_path, load_spec, load_spec_file
from baton.cli.main import app
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.provenance.models import ProvenanceReport

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, World, headers, make_world, submit_all

runner = CliRunner()


def gated_spec(gates: list[str], *, criteria: list[str] | None = None) -> str:
    criteria = criteria or ["{id: bench, kind: benchmark, weight: 100, tasks: [t1, t2]}"]
    return (
        "challenge: gated\n"
        "title: Gated\n"
        "timezone: Asia/Seoul\n"
        "stages:\n"
        "  - id: stage-1\n"
        "    deadline: 2026-01-10T18:00:00+09:00\n"
        "    teams: 3\n"
        "    advance: 2\n"
        "    seed: 7\n"
        "    criteria:\n" + "".join(f"      - {line}\n" for line in criteria) + "    gates:\n"
        "" + "".join(f"      {line}\n" if line.startswith("  ") else f"      - {line}\n" for line in gates)
    )


def commit_to(runtime: Runtime, owner: str, repo_id: str, files: dict[str, bytes]) -> str:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo = repos.get_writable_repo(session, user, repos.parse_repo_id("model", repo_id))
        return commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="files").oid


def reference_repo(runtime: Runtime, owner: str, repo_id: str, *, private: bool = False) -> str:
    """A model repo (a base, or another model) in the hub; returns its head commit."""
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
    return commit_to(runtime, owner, repo_id, {"weights.txt": repo_id.encode()})


def add_report(
    runtime: Runtime,
    subject: str,
    reference: str,
    *,
    verdict: str,
    relation: str | None,
    components: list[tuple[str, str]],
) -> None:
    """A stored provenance report of the subject's submitted revision (``subject`` is 'repo@commit')."""
    name, commit = subject.split("@")
    with runtime.database.session(write=True) as session:
        subject_repo = repos.find_repo(session, repos.parse_repo_id("model", name))
        ref_name, _ref_commit = reference.split("@")
        ref_repo = repos.find_repo(session, repos.parse_repo_id("model", ref_name))
        assert subject_repo is not None and ref_repo is not None
        session.add(
            ProvenanceReport(
                repo_id=subject_repo.id,
                commit_oid=commit,
                reference=reference,
                reference_repo_id=ref_repo.id,
                reason="candidate",
                verdict=verdict,
                relation=relation,
                p_value=1e-6,
                report={
                    "verdict": verdict,
                    "relation": relation,
                    "components": [
                        {"name": n, "status": s, "source": n, "p_value": 1e-6, "test": "t"} for n, s in components
                    ]
                    + [{"name": "lm_head", "status": "inconclusive", "source": None, "p_value": None, "test": "none"}],
                },
            )
        )


def check(world: World, team: str, gate: str) -> Any:
    with world.runtime.database.session(write=True) as session:
        return service.check_gate(
            session,
            world.slug,
            "stage-1",
            team,
            operator=world.op(session),
            gate=gate,
            now=BEFORE_DEADLINE,
            store=world.runtime.store,
        )


def ledger_text(world: World) -> str:
    with world.runtime.database.session() as session:
        return service.export_bundle(session, world.slug)


# --- the spec -------------------------------------------------------------------------------------


def test_gate_kinds_are_validated_with_their_lines() -> None:
    text = gated_spec(["{id: independence}", "{id: licence, kind: licence, allowed: [mit]}"])
    with pytest.raises(InvalidSpecError) as error:
        load_spec(text)
    assert "line 14" in str(error.value) and "unknown kind 'licence'" in str(error.value)

    text = gated_spec(["id: min-bench", "  kind: threshold", "  criterion: benchmarks", "  min_value: 0.3"])
    with pytest.raises(InvalidSpecError) as error:
        load_spec(text)
    message = str(error.value)
    assert "line 15" in message and "criterion 'benchmarks', which the stage does not have" in message

    problems = gated_spec(
        [
            "{id: a, kind: threshold, criterion: bench}",
            "{id: b, kind: threshold, criterion: bench, min_points: 120}",
            "{id: c, allow: {bases: [org/x]}}",
            "{id: d, policy: from_scratch, allow: {components: [tokenizer]}}",
            "{id: e, kind: documents, required: [{path: ../x.md}]}",
            "{id: f, kind: license, allowed: []}",
        ]
    )
    with pytest.raises(InvalidSpecError) as error:
        load_spec(problems)
    found = error.value.extra["problems"]
    assert any(p.startswith("line 13:") and "exactly one of `min_value` or `min_points`" in p for p in found)
    assert any(p.startswith("line 15:") and "applies to `policy: from_scratch` only" in p for p in found)
    assert any(p.startswith("line 16:") and "a reused tokenizer alone never fails" in p for p in found)
    assert any(p.startswith("line 17:") and "must be a path inside the repo" in p for p in found)
    assert any(p.startswith("line 18:") and "allowed" in p for p in found)
    # Fixing those leaves the points that the criterion cannot earn.
    fixed = gated_spec(["{id: b, kind: threshold, criterion: bench, min_points: 120}"])
    with pytest.raises(InvalidSpecError, match="asks 120 points of 'bench', which earns at most 100"):
        load_spec(fixed)


def test_old_gates_keep_their_shape_and_hash() -> None:
    # Recorded specs hash as before, so decisions recorded before gate kinds still verify.
    stage1 = load_spec_file(example_path("stage1"))
    assert stage1.sha256() == "27b5538abdb8e2d61848189087266c00367848b09abc53d1ab5a321f3a16ba4e"
    assert set(stage1.to_json()["stages"][0]["gates"][0]) == {
        "id",
        "kind",
        "title",
        "on_copied",
        "on_undeclared_derivation",
        "on_inconclusive",
    }
    spec = load_spec(
        gated_spec(
            [
                "{id: scratch, policy: from_scratch, allow: {bases: [org/base], components: [embeddings]}}",
                "{id: min, kind: threshold, criterion: bench, min_value: 0.3}",
            ]
        )
    )
    # The normalized spec reloads to itself (the ledger records it and recompute loads it again).
    assert load_spec(spec.to_json()).sha256() == spec.sha256()
    gate = spec.stages[0].gates[0]
    assert gate.kind == "independence" and gate.policy == "from_scratch"  # type: ignore[union-attr]


def test_component_kinds_follow_the_engines_names() -> None:
    assert component_kind("model.layers.3") == "blocks"
    assert component_kind("transformer.h.0") == "blocks"
    assert component_kind("model.embed_tokens") == "embeddings"
    assert component_kind("transformer.wte") == "embeddings"
    assert component_kind("lm_head") == "lm_head"
    assert component_kind("model.norm") == "final_norm"
    assert component_kind("vision_tower") == "encoder"
    assert component_kind("model.visual") == "encoder"
    assert component_kind("multi_modal_projector.linear_1") == "projector"


# --- independence policies -----------------------------------------------------------------------


def test_from_scratch_fails_a_declared_derivation_the_default_policy_passes(runtime: Runtime) -> None:
    spec = gated_spec(
        [
            "{id: independence}",
            "{id: scratch, policy: from_scratch}",
            "{id: scratch-base, policy: from_scratch, allow: {bases: [op/base]}}",
            "{id: scratch-embeddings, policy: from_scratch, allow: {components: [embeddings]}}",
        ]
    )
    world = make_world(runtime, spec=spec)
    base = "op/base@" + reference_repo(runtime, "op", "op/base")
    own = "org-team-b/old@" + reference_repo(runtime, "m-team-b", "org-team-b/old")
    # team-a declares a fine-tune of op/base; team-b its own earlier model; team-c copied op/base's embeddings.
    card = b"---\nbase_model: op/base\nbase_model_relation: finetune\n---\n# Model\n"
    commit_to(runtime, "m-team-a", world.repo("team-a"), {"README.md": card})
    models = submit_all(world)
    add_report(
        runtime,
        models["team-a"],
        base,
        verdict="derived",
        relation="finetune",
        components=[("model.layers.0", "derived"), ("model.layers.1", "derived"), ("model.embed_tokens", "copied")],
    )
    add_report(
        runtime,
        models["team-b"],
        own,
        verdict="derived",
        relation="finetune",
        components=[("model.layers.0", "derived")],
    )
    add_report(
        runtime,
        models["team-c"],
        base,
        verdict="copied",
        relation="copied_component",
        components=[("model.embed_tokens", "copied")],
    )

    # The default policy passes the declared derivation; from scratch fails it, naming what was reused.
    assert check(world, "team-a", "independence").outcome == "pass"
    scratch = check(world, "team-a", "scratch")
    assert scratch.outcome == "fail"
    assert "op/base (declared base, finetune)" in scratch.reason
    assert (
        "model.layers.0 (blocks, derived)" in scratch.reason
        and "model.embed_tokens (embeddings, copied)" in scratch.reason
    )
    reference = scratch.evidence["summary"][0]
    assert reference["reference"] == base and reference["declared"] is True and reference["allowed"] is False
    assert {c["name"]: c["allowed"] for c in reference["components"]} == {
        "model.layers.0": False,
        "model.layers.1": False,
        "model.embed_tokens": False,
    }
    # An allowed base passes it; allowing embeddings alone does not cover the derived blocks.
    allowed = check(world, "team-a", "scratch-base")
    assert allowed.outcome == "pass" and "op/base" in allowed.reason and "an allowed base" in allowed.reason
    assert allowed.evidence["summary"][0]["allowed"] is True
    assert check(world, "team-a", "scratch-embeddings").outcome == "fail"

    # The team's own earlier model is not foreign.
    own_check = check(world, "team-b", "scratch")
    assert own_check.outcome == "pass" and own_check.evidence["summary"][0]["why"] == "the team's own model"

    # A copied embedding: an undeclared copy fails both policies unless embeddings are allowed.
    assert check(world, "team-c", "independence").outcome == "fail"
    assert check(world, "team-c", "scratch").outcome == "fail"
    embeddings = check(world, "team-c", "scratch-embeddings")
    assert embeddings.outcome == "pass"
    assert embeddings.evidence["summary"][0]["why"] == "only allowed components: embeddings"
    assert embeddings.evidence["summary"][0]["components"][0]["allowed"] is True

    # The ledger carries the gate's kind and its public summary; no provenance report id.
    checked = [json.loads(line).get("event") or {} for line in ledger_text(world).splitlines()]
    gate_events = [e for e in checked if e.get("kind") == "gate.checked" and e["payload"]["gate"] == "scratch"]
    assert gate_events[0]["payload"]["kind"] == "independence"
    assert gate_events[0]["payload"]["summary"][0]["allowed"] is False
    assert "report_id" not in json.dumps(gate_events)


def test_from_scratch_names_a_private_reference_sealed_and_the_decision_shows_the_evidence(runtime: Runtime) -> None:
    spec = gated_spec(["{id: scratch, policy: from_scratch, allow: {components: [encoder]}}"])
    world = make_world(runtime, spec=spec)
    secret = "op/secret-vision@" + reference_repo(runtime, "op", "op/secret-vision", private=True)
    models = submit_all(world)
    add_report(
        runtime,
        models["team-a"],
        secret,
        verdict="copied",
        relation="copied_component",
        components=[("vision_tower", "copied"), ("multi_modal_projector.linear_1", "copied")],
    )
    result = check(world, "team-a", "scratch")
    assert result.outcome == "fail"
    assert "secret" not in result.reason and "model-" in result.reason
    assert "multi_modal_projector.linear_1 (projector, copied)" in result.reason
    assert "vision_tower" not in result.reason  # an allowed encoder is not what fails it
    entry = result.evidence["summary"][0]
    assert entry["reference"].startswith("model-") and "commitment" in entry
    assert [c["allowed"] for c in entry["components"]] == [True, False]
    assert "op/secret-vision" not in ledger_text(world)
    # The other teams have no comparison yet: inconclusive until an operator rules (overrides keep working).
    assert check(world, "team-b", "scratch").outcome == "inconclusive"
    with runtime.database.session(write=True) as session:
        for team in ("team-b", "team-c"):
            service.override_gate(
                session,
                world.slug,
                "stage-1",
                team,
                gate="scratch",
                outcome="pass",
                reason="Trained from scratch: checked by hand against the logs.",
                operator=world.op(session),
                now=BEFORE_DEADLINE,
            )
    record_scores(world, models, {"team-a": 0.9, "team-b": 0.5, "team-c": 0.4})
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    row = next(r for r in record["teams"] if r["team"] == "team-a")
    assert row["outcome"] == "eliminated" and row["eliminated_by"] == "gate:scratch"
    standing = row["gates"]["scratch"]
    assert standing["kind"] == "independence" and standing["source"] == "provenance"
    assert standing["evidence"][0]["reference"] == entry["reference"]
    assert "secret" not in json.dumps(record)
    ruled = next(r for r in record["teams"] if r["team"] == "team-b")["gates"]["scratch"]
    assert ruled["source"] == "override" and ruled["checked"] == "inconclusive"
    assert_verified(world)
    # The report page shows the evidence, the private reference by its pseudonym only.
    page = report_page(world)
    assert f"{entry['reference']} (copied, copied component, p=1e-06): vision_tower (encoder, copied, allowed)" in page
    assert "multi_modal_projector.linear_1 (projector, copied, not allowed) — not allowed" in page
    assert "secret" not in page


def report_page(world: World, lang: str = "en") -> str:
    from baton.challenge import report as reports
    from baton.web.challenge_pages import render_report

    with world.runtime.database.session() as session:
        return render_report(reports.load_report(session, world.slug, "stage-1"), lang)


# --- threshold ------------------------------------------------------------------------------------


def record_scores(world: World, models: dict[str, str], scores: dict[str, float], task_scores: Any = None) -> None:
    with world.runtime.database.session(write=True) as session:
        for team, score in scores.items():
            for task, value in (task_scores or {}).get(team, {"t1": score, "t2": score}).items():
                service.record_score(
                    session,
                    world.slug,
                    "stage-1",
                    service.BenchmarkScore(task=task, model=models[team], score=value, stderr=0.01, n=100),
                    operator=world.op(session),
                    now=BEFORE_DEADLINE,
                )


def assert_verified(world: World) -> None:
    with world.runtime.database.session() as session:
        report = service.verify_database(session, world.slug)
    assert report.ok, report.problems
    assert report.decisions_checked >= 1


THRESHOLD_CRITERIA = [
    "{id: bench, kind: benchmark, weight: 60, tasks: [t1, t2]}",
    "{id: national, kind: benchmark, weight: 40, tasks: [t3]}",
]


def threshold_world(runtime: Runtime) -> tuple[World, dict[str, str]]:
    spec = gated_spec(
        ["{id: min-national, kind: threshold, criterion: national, min_value: 0.3}"], criteria=THRESHOLD_CRITERIA
    )
    world = make_world(runtime, spec=spec)
    models = submit_all(world)
    # team-a leads on points (54 + 8) but is under the minimum on the national benchmark.
    record_scores(
        world,
        models,
        {"team-a": 0, "team-b": 0, "team-c": 0},
        {
            "team-a": {"t1": 0.9, "t2": 0.9, "t3": 0.2},
            "team-b": {"t1": 0.5, "t2": 0.5, "t3": 0.5},
            "team-c": {"t1": 0.4, "t2": 0.4, "t3": 0.4},
        },
    )
    return world, models


def test_a_threshold_gate_eliminates_a_team_under_the_minimum_and_verify_recomputes_it(runtime: Runtime) -> None:
    world, _models = threshold_world(runtime)
    with runtime.database.session(write=True) as session:
        with pytest.raises(BadRequestError, match="the decision computes it"):
            service.check_gate(
                session, world.slug, "stage-1", "team-a", operator=world.op(session), gate="min-national"
            )
        listed = service.check_gates(session, world.slug, "stage-1", operator=world.op(session), now=BEFORE_DEADLINE)
        assert {(c.team, c.outcome) for c in listed} == {(t, "decision") for t in world.teams}
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    rows = {row["team"]: row for row in record["teams"]}
    assert rows["team-a"]["composite"] > rows["team-b"]["composite"]
    assert rows["team-a"]["outcome"] == "eliminated" and rows["team-a"]["eliminated_by"] == "gate:min-national"
    standing = rows["team-a"]["gates"]["min-national"]
    assert standing["outcome"] == "fail" and standing["source"] == "threshold"
    assert standing["evidence"] == {"criterion": "national", "measure": "value", "value": 0.2, "minimum": 0.3}
    assert "national value 0.2 is below the minimum 0.3" in standing["reason"]
    assert rows["team-b"]["gates"]["min-national"]["outcome"] == "pass"
    assert record["advance"] == ["team-b", "team-c"]
    assert_verified(world)
    assert "national normalized value 0.2 (minimum 0.3)" in report_page(world)


def test_an_override_wins_over_a_threshold(runtime: Runtime) -> None:
    world, _models = threshold_world(runtime)
    with runtime.database.session(write=True) as session:
        service.override_gate(
            session,
            world.slug,
            "stage-1",
            "team-a",
            gate="min-national",
            outcome="pass",
            reason="The national benchmark's t3 was broken for this team; accepted on appeal.",
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    standing = next(r for r in record["teams"] if r["team"] == "team-a")["gates"]["min-national"]
    assert standing["source"] == "override" and standing["outcome"] == "pass" and standing["checked"] == "fail"
    assert record["advance"] == ["team-a", "team-b"]
    assert_verified(world)


# --- license and documents --------------------------------------------------------------------------


def test_license_and_documents_gates_read_the_pinned_commit(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = gated_spec(
        [
            "{id: license, kind: license, allowed: [apache-2.0, MIT]}",
            "id: docs",
            "  kind: documents",
            "  required:",
            "    - {path: DATA_PROVENANCE.md, title: Data provenance statement}",
            "    - {path: TRAINING.md, min_bytes: 20}",
        ]
    )
    world = make_world(runtime, spec=spec)
    commit_to(
        runtime,
        "m-team-a",
        world.repo("team-a"),
        {
            "README.md": b"---\nlicense: mit\n---\n# Model\n",
            "DATA_PROVENANCE.md": b"Korean web text, licensed corpora.\n",
            "TRAINING.md": b"Trained from scratch on 2T tokens.\n",
        },
    )
    commit_to(
        runtime,
        "m-team-b",
        world.repo("team-b"),
        {"README.md": b"---\nlicense: cc-by-nc-4.0\n---\n", "DATA_PROVENANCE.md": b"", "TRAINING.md": b"short"},
    )
    models = submit_all(world)
    # A later push changes nothing: the gate reads the pinned commit.
    commit_to(
        runtime, "m-team-c", world.repo("team-c"), {"README.md": b"---\nlicense: mit\n---\n", "TRAINING.md": b"x" * 40}
    )

    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    command = ["challenge", "check-gates", world.slug, "--stage", "stage-1", "--as", "op", *data]
    result = runner.invoke(app, [*command, "--json", "--now", "2026-01-05T18:00:00+09:00"])
    assert result.exit_code == 0, result.output
    rows = {(row["team"], row["gate"]): row for row in json.loads(result.stdout)}
    assert len(rows) == 6

    assert (
        rows[("team-a", "license")]["outcome"] == "pass"
        and rows[("team-a", "license")]["reason"] == "license mit is allowed"
    )
    assert rows[("team-b", "license")]["outcome"] == "fail"
    assert "license cc-by-nc-4.0 is not allowed (allowed: apache-2.0, mit)" in rows[("team-b", "license")]["reason"]
    assert rows[("team-c", "license")]["outcome"] == "fail" and "no model card" in rows[("team-c", "license")]["reason"]

    docs_a = rows[("team-a", "docs")]
    assert docs_a["outcome"] == "pass"
    assert [d["present"] for d in docs_a["summary"]] == [True, True] and len(docs_a["summary"][0]["sha256"]) == 64
    docs_b = rows[("team-b", "docs")]
    assert docs_b["outcome"] == "fail"
    assert "Data provenance statement (DATA_PROVENANCE.md) is empty" in docs_b["reason"]
    assert "TRAINING.md (TRAINING.md) has 5 bytes, fewer than the 20 required" in docs_b["reason"]
    docs_c = rows[("team-c", "docs")]
    assert docs_c["outcome"] == "fail" and "(DATA_PROVENANCE.md) is missing" in docs_c["reason"]
    assert docs_c["summary"][0] == {
        "path": "DATA_PROVENANCE.md",
        "title": "Data provenance statement",
        "min_bytes": 1,
        "present": False,
        "bytes": None,
        "sha256": None,
        "ok": False,
    }

    # One team, one gate, as text.
    result = runner.invoke(app, [*command, "--team", "team-b", "--gate", "license"])
    assert result.exit_code == 0, result.output
    assert "team-b license (license): fail: license cc-by-nc-4.0 is not allowed" in " ".join(result.output.split())
    result = runner.invoke(app, [*command, "--gate", "nope"])
    assert result.exit_code != 0 and "has no gate 'nope'" in result.output

    # The decision shows each team's gates with their evidence; failures are eliminated; verify agrees.
    record_scores(world, models, {"team-a": 0.4, "team-b": 0.9, "team-c": 0.8})
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    gates = {row["team"]: row["gates"] for row in record["teams"]}
    assert gates["team-b"]["license"]["evidence"]["license"] == "cc-by-nc-4.0"
    assert gates["team-c"]["docs"]["kind"] == "documents" and gates["team-c"]["docs"]["source"] == "repo"
    assert record["advance"] == ["team-a"]
    assert {r["team"]: r["eliminated_by"] for r in record["teams"]}["team-b"] == "gate:license"
    assert_verified(world)
    page = report_page(world)
    assert "license: cc-by-nc-4.0; allowed: apache-2.0, mit" in page
    assert "DATA_PROVENANCE.md: missing" in page and "DATA_PROVENANCE.md: 0 bytes" in page
    korean = report_page(world, "ko")  # the same evidence in the reader's language
    assert "라이선스: cc-by-nc-4.0; 허용: apache-2.0, mit" in korean
    assert "DATA_PROVENANCE.md: 없음" in korean and "license: cc-by-nc-4.0" not in korean


def test_a_documents_gate_can_send_failures_to_the_operators(runtime: Runtime, client: httpx.Client) -> None:
    spec = gated_spec(["{id: docs, kind: documents, on_fail: operator, required: [{path: MODEL_CARD_KO.md}]}"])
    world = make_world(runtime, spec=spec)
    submit_all(world)
    assert check(world, "team-a", "docs").outcome == "inconclusive"
    with runtime.database.session() as session:
        queue = service.gate_queue(session, world.slug)
    assert [(team.slug, result.gate) for team, result in queue] == [("team-a", "docs")]
    # Over HTTP, operators only: every team at once.
    url = f"/api/challenges/{world.slug}/stages/stage-1/gates/check"
    refused = client.post(url, json={}, headers=headers(runtime, "m-team-a"))
    assert refused.status_code == 403, refused.text
    response = client.post(url, json={"gate": "docs"}, headers=headers(runtime, "op"))
    assert response.status_code == 200, response.text
    checks = response.json()
    assert [(c["team"], c["outcome"]) for c in checks] == [(t, "inconclusive") for t in world.teams]
    assert checks[0]["result"]["evidence"]["summary"][0]["present"] is False
    with runtime.database.session() as session:
        assert len(service.gate_queue(session, world.slug)) == 3


def test_from_scratch_on_a_real_scan_of_a_declared_copy(runtime: Runtime) -> None:
    """The provenance engine's own report: a declared base whose weights the team reused whole."""
    from baton.demo.seed import tiny_gpt2_files
    from baton.provenance import service as provenance

    spec = gated_spec(
        [
            "{id: independence}",
            "{id: scratch, policy: from_scratch}",
            "{id: scratch-base, policy: from_scratch, allow: {bases: [op/base]}}",
        ]
    )
    world = make_world(runtime, spec=spec)
    reference_repo(runtime, "op", "op/base")
    commit_to(runtime, "op", "op/base", tiny_gpt2_files(seed=1))
    card = b"---\nbase_model: op/base\nbase_model_relation: finetune\n---\n# Model\n"
    commit_to(runtime, "m-team-a", world.repo("team-a"), {"README.md": card, **tiny_gpt2_files(seed=1)})
    models = submit_all(world)
    with runtime.database.session() as session:
        base = repos.find_repo(session, repos.parse_repo_id("model", "op/base"))
        team = repos.find_repo(session, repos.parse_repo_id("model", world.repo("team-a")))
        assert base is not None and team is not None
        base_commit = commits.resolve_revision(session, base, None).oid
    provenance.fingerprint_revision(runtime, base, base_commit)
    provenance.scan_revision(runtime, team.id, models["team-a"].split("@")[1])

    assert check(world, "team-a", "independence").outcome == "pass"  # declared and confirmed
    scratch = check(world, "team-a", "scratch")
    assert scratch.outcome == "fail" and "op/base (declared" in scratch.reason
    reused = scratch.evidence["summary"][0]["components"]
    assert reused and "blocks" in {c["kind"] for c in reused}
    assert f"{reused[0]['name']} ({reused[0]['kind']}, {reused[0]['status']})" in scratch.reason
    assert check(world, "team-a", "scratch-base").outcome == "pass"


def test_from_scratch_fails_a_declared_base_it_cannot_compare_or_confirm(runtime: Runtime) -> None:
    spec = gated_spec(
        [
            "{id: scratch, policy: from_scratch}",
            "{id: scratch-llama, policy: from_scratch, allow: {bases: [meta/absent]}}",
        ]
    )
    world = make_world(runtime, spec=spec)
    base = "op/base@" + reference_repo(runtime, "op", "op/base")
    # team-a declares a base the hub does not hold; team-b one the weights do not confirm.
    commit_to(runtime, "m-team-a", world.repo("team-a"), {"README.md": b"---\nbase_model: meta/absent\n---\n"})
    commit_to(runtime, "m-team-b", world.repo("team-b"), {"README.md": b"---\nbase_model: op/base\n---\n"})
    models = submit_all(world)
    add_report(runtime, models["team-b"], base, verdict="independent", relation=None, components=[])

    absent = check(world, "team-a", "scratch")
    assert absent.outcome == "fail" and "declares meta/absent as its base" in absent.reason
    assert absent.evidence["summary"] == [
        {
            "reference": "meta/absent",
            "verdict": None,
            "declared": True,
            "components": [],
            "allowed": False,
            "why": "not allowed",
        }
    ]
    # Allowed, but nothing was compared yet: an operator looks, never a pass.
    allowed = check(world, "team-a", "scratch-llama")
    assert allowed.outcome == "inconclusive" and "no provenance comparison" in allowed.reason
    assert allowed.evidence["summary"][0]["why"] == "an allowed base"
    unconfirmed = check(world, "team-b", "scratch")
    assert unconfirmed.outcome == "fail"
    assert "op/base (declared as its base; its weights do not confirm it" in unconfirmed.reason
