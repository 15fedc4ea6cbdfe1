"""Weighted and versioned tasks inside a benchmark criterion, and declared target models' scores with their
source: measured (a recorded evaluation of the target) or entered by an operator with a citation."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from baton.challenge import ledger, recompute, service
from baton.challenge.errors import InvalidSpecError
from baton.challenge.scoring import Estimate, mean_estimate, weighted_mean_estimate
from baton.challenge.spec import load_spec
from baton.cli.main import app
from baton.core.errors import BadRequestError, PermissionDeniedError
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, World, headers, make_world, submit_all

runner = CliRunner()

SPEC = """\
challenge: weighted
title: Weighted tasks
timezone: Asia/Seoul
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 2
    advance: 1
    seed: 5
    criteria:
      - id: bench
        kind: benchmark
        weight: 60
        normalization: raw
        tasks:
          - {id: t1, weight: 3}
          - t2
          - {id: t3, version: "2"}
      - id: target
        kind: benchmark
        weight: 40
        normalization: ratio_to_target
        cap: 1.0
        tasks:
          - {id: t1, cap: 0.9}
          - {id: t2, target_source: entered}
"""

TARGET = "reference/target-model"
CITATION = "https://example.org/target-model-report.pdf, table 3"


def _spec(tasks: str, normalization: str = "raw") -> str:
    return (
        "challenge: c\ntitle: T\nstages:\n  - id: s1\n    deadline: 2026-01-10T18:00:00+09:00\n"
        "    teams: 2\n    advance: 1\n    criteria:\n      - id: bench\n        kind: benchmark\n"
        f"        weight: 100\n        normalization: {normalization}\n        tasks:\n{tasks}"
    )


# --- the spec ------------------------------------------------------------------------------------


def test_plain_and_object_tasks_and_a_plain_list_keeps_its_recorded_form() -> None:
    spec = load_spec(SPEC)
    bench, target = spec.stages[0].criteria
    assert bench.task_ids == ["t1", "t2", "t3"]
    assert [task.weight for task in bench.tasks] == [3.0, 1.0, 1.0]
    assert bench.tasks[2].version == "2" and target.task_cap(target.tasks[0]) == 0.9
    assert target.task_cap(target.tasks[1]) == 1.0 and target.tasks[1].target_source == "entered"
    recorded = bench.model_dump(mode="json")["tasks"]
    assert recorded[1] == "t2" and recorded[0]["weight"] == 3.0
    # A plain list is recorded exactly as before (the spec's hash in old decisions still matches)...
    plain = load_spec(_spec("          - t1\n          - t2\n"))
    assert plain.stages[0].criteria[0].model_dump(mode="json")["tasks"] == ["t1", "t2"]
    # ...and the normalized spec loads back to the same spec.
    assert load_spec(spec.to_json()) == spec and load_spec(spec.to_json()).sha256() == spec.sha256()
    # A numeric version is kept as written.
    assert load_spec(_spec("          - {id: t1, version: 1.0}\n")).stages[0].criteria[0].tasks[0].version == "1.0"


@pytest.mark.parametrize(
    ("tasks", "normalization", "line", "message"),
    [
        (
            "          - t1\n          - {id: t2, weight: 0}\n",
            "raw",
            15,
            "tasks[1].weight: Input should be greater than 0",
        ),
        ("          - t1\n          - {id: t2, weight: -1}\n", "raw", 15, "greater than 0"),
        ("          - t1\n          - t2\n          - {id: t1, weight: 2}\n", "raw", 16, "'t1' is listed twice"),
        ("          - t1\n          - {id: t2, cap: 1.1}\n", "minmax", 15, "sets `cap`, which applies to"),
        ("          - {id: t1, target_source: entered}\n", "raw", 14, "sets `target_source`"),
        ("          - {id: t1, target_source: guessed}\n", "ratio_to_target", 14, "'measured', 'entered' or 'either'"),
        ("          - {id: t1, wieght: 2}\n", "raw", 14, "wieght: Extra inputs are not permitted"),
    ],
)
def test_bad_tasks_are_refused_with_their_line(tasks: str, normalization: str, line: int, message: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(_spec(tasks, normalization))
    text = str(caught.value)
    assert f"line {line}:" in text and message in text, text


# --- the weighted mean -----------------------------------------------------------------------------


def test_weighted_mean_and_its_stderr_by_hand() -> None:
    estimates = [Estimate(0.8, 0.01), Estimate(0.5, 0.02)]
    result = weighted_mean_estimate(estimates, [3.0, 1.0])
    assert result.value == pytest.approx((3 * 0.8 + 0.5) / 4)  # 0.725, the plain mean is 0.65
    assert result.stderr == pytest.approx(math.sqrt((3 * 0.01) ** 2 + 0.02**2) / 4)
    assert weighted_mean_estimate(estimates, [1.0, 1.0]) == mean_estimate(estimates)
    with pytest.raises(ValueError):
        weighted_mean_estimate(estimates, [1.0])


# --- the decision --------------------------------------------------------------------------------


def _score(world: World, session: Any, task: str, model: str, score: float, version: str | None = None) -> None:
    result = service.BenchmarkScore(task=task, model=model, score=score, stderr=0.0, n=50, task_version=version)
    service.record_score(session, world.slug, "stage-1", result, operator=world.op(session), now=BEFORE_DEADLINE)


def _weighted_world(runtime: Runtime) -> tuple[World, dict[str, str]]:
    world = make_world(runtime, teams=2, spec=SPEC)
    models = submit_all(world)
    a, b = models["team-a"], models["team-b"]
    with runtime.database.session(write=True) as session:
        for task, value in (("t1", 0.8), ("t2", 0.4)):
            _score(world, session, task, a, value)
        _score(world, session, "t3", a, 0.9, version="1")  # another version than the spec's: does not count
        for task, value in (("t1", 0.5), ("t2", 0.6)):
            _score(world, session, task, b, value)
        _score(world, session, "t3", b, 0.9, version="2")
        _score(world, session, "t1", TARGET, 0.8)  # measured target score
        _score(world, session, "t2", TARGET, 0.5)  # measured too, but t2 counts entered target scores only
        service.record_target_score(
            session,
            world.slug,
            "stage-1",
            service.TargetScoreEntry(team="team-a", task="t2", score=0.8, source=CITATION, stderr=0.01),
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
    return world, models


def test_weights_versions_caps_and_target_sources_decide_and_verify(runtime: Runtime) -> None:
    world, models = _weighted_world(runtime)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    rows = {row["team"]: row for row in record["teams"]}
    a_bench, b_bench = rows["team-a"]["criteria"]["bench"], rows["team-b"]["criteria"]["bench"]
    # Weighted by hand: a = (3·0.8 + 0.4 + 0) / 5 (its t3 was measured on version 1), b = (3·0.5 + 0.6 + 0.9) / 5.
    assert a_bench["value"] == pytest.approx(0.56) and b_bench["value"] == pytest.approx(0.6)
    assert a_bench["points"] == pytest.approx(60 * 0.56)
    assert a_bench["detail"]["missing"] == ["t3"]
    t3 = a_bench["detail"]["tasks"]["t3"]
    assert "version 1" in t3["reason"] and "version 2" in t3["reason"] and "score" not in t3
    assert a_bench["detail"]["tasks"]["t1"]["weight"] == 3.0 and "weight" not in a_bench["detail"]["tasks"]["t2"]
    assert b_bench["detail"]["tasks"]["t3"]["score"] == 0.9 and b_bench["detail"]["missing"] == []

    a_target, b_target = rows["team-a"]["criteria"]["target"], rows["team-b"]["criteria"]["target"]
    # t1 (cap 0.9): a 0.8/0.8 = 1 ≥ 0.9 → 1; b 0.5/0.8 = 0.625 → 0.625/0.9. t2 (entered only): a 0.4/0.8 = 0.5;
    # b has no entered target score (the measured 0.5 is not used) → 0.
    assert a_target["value"] == pytest.approx((1.0 + 0.5) / 2)
    assert b_target["value"] == pytest.approx((0.625 / 0.9 + 0.0) / 2, abs=1e-6)
    t1, t2 = a_target["detail"]["tasks"]["t1"], a_target["detail"]["tasks"]["t2"]
    assert t1["cap"] == 0.9 and t1["target_score"] == 0.8 and t1["target_model"] == TARGET
    assert t1["target_origin"]["kind"] == "measured" and t1["target_origin"]["model"] == TARGET
    assert isinstance(t1["target_origin"]["score_seq"], int)
    assert t2["cap"] == 1.0 and t2["target_score"] == 0.8 and t2["target_stderr"] == 0.01
    assert t2["target_origin"]["kind"] == "entered" and t2["target_origin"]["source"] == CITATION
    assert t2["target_origin"]["operator"] == "op" and t2["target_origin"]["entered_at"]
    assert b_target["detail"]["missing"] == ["t2 (target)"]
    assert b_target["detail"]["tasks"]["t2"]["target_origin"] is None

    # The entered score is a ledger input: verify recomputes the decision from the exported bundle...
    with runtime.database.session() as session:
        bundle = service.export_bundle(session, world.slug)
        head = service.get_challenge(session, world.slug).head_hash
    report = ledger.verify_bundle(bundle, head)
    assert report.ok and report.decisions_checked == 1, report
    _header, events, _lines, problems = ledger.parse_bundle(bundle)
    assert not problems
    entered = next(event for event in events if event.kind == "target_score.recorded")
    assert entered.payload["source"] == CITATION and entered.payload["team"] == "team-a"
    assert entered.payload["target_model"] == TARGET and entered.payload["operator"] == "op"
    assert entered.payload["score"] == 0.8 and entered.payload["task"] == "t2"
    # ...and the decision depends on it: replayed without the entry, team-a's t2 target is missing.
    decision = next(event for event in events if event.kind == "decision.made")
    inputs = [event for event in events if event.seq < decision.seq and event.kind != "target_score.recorded"]
    again = recompute.compute_decision(
        recompute.replay(inputs), "stage-1", seed=record["seed"], decided_at=record["decided_at"], head=head, head_seq=0
    )
    target_again = {row["team"]: row for row in again["teams"]}["team-a"]["criteria"]["target"]
    assert target_again["value"] == pytest.approx(0.5) and target_again["detail"]["missing"] == ["t2 (target)"]
    assert set(models) == {"team-a", "team-b"}


# --- entering a target score: refusals, the route, the command ------------------------------------


def _enter(world: World, session: Any, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"team": "team-a", "task": "t1", "score": 0.7, "source": CITATION} | fields
    return service.record_target_score(
        session, world.slug, "stage-1", service.TargetScoreEntry(**values), operator=world.op(session)
    )


def test_an_entered_target_score_needs_a_source_and_names_what_the_spec_scores(runtime: Runtime) -> None:
    versioned = SPEC.replace("- {id: t1, cap: 0.9}", "- {id: t1, cap: 0.9, version: '3'}").replace(
        "- {id: t2, target_source: entered}",
        "- {id: t2, target_source: entered}\n          - {id: t4, target_source: measured}",
    )
    world = make_world(runtime, teams=2, spec=versioned)
    refusals: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"source": ""}, BadRequestError, "needs its source"),
        ({"source": "   "}, BadRequestError, "needs its source"),
        ({"task": "t3"}, BadRequestError, "not compared with target models"),  # t3 is in the raw criterion only
        ({"task": "t4"}, BadRequestError, "counts measured target scores only"),
        ({}, BadRequestError, "counts version 3 of task 't1'; the entry names no version"),
        ({"task_version": "2"}, BadRequestError, "not version 2"),
        ({"task_version": "3", "team": "team-z"}, Exception, "No team 'team-z'"),
        ({"task_version": "3", "model": "someone/else"}, BadRequestError, "not a declared target model"),
        ({"task_version": "3", "score": float("nan")}, BadRequestError, "finite"),
        ({"task_version": "3", "stderr": -0.1}, BadRequestError, "must not be negative"),
    ]
    with runtime.database.session(write=True) as session:
        for fields, error, message in refusals:
            with pytest.raises(error) as caught:
                _enter(world, session, **fields)
            assert message in str(caught.value), (fields, str(caught.value))
        with pytest.raises(BadRequestError) as missing:
            _enter(world, session, source="")
        assert missing.value.code == "TargetSourceMissing" and "baton challenge target-score" in missing.value.hint
        with pytest.raises(PermissionDeniedError):
            service.record_target_score(
                session,
                world.slug,
                "stage-1",
                service.TargetScoreEntry(team="team-a", task="t1", score=0.7, source=CITATION, task_version="3"),
                operator=world.account(session, "m-team-a"),
            )
    with runtime.database.session() as session:
        kinds = [event["kind"] for event in service.ledger_events(session, world.slug)]
    assert "target_score.recorded" not in kinds  # nothing refused was recorded
    with runtime.database.session(write=True) as session:
        recorded = _enter(world, session, task_version="3", model=TARGET, source=f"  {CITATION} ")
    assert recorded["source"] == CITATION and recorded["task_version"] == "3" and recorded["stderr"] is None
    assert recorded["target_model"] == TARGET and recorded["seq"] > 0


def test_the_route_is_for_operators_and_the_command_prints_one_json_document(
    runtime: Runtime, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(runtime, teams=2, spec=SPEC)
    url = f"/api/challenges/{world.slug}/stages/stage-1/target-scores"
    body = {"team": "team-b", "task": "t2", "score": 0.75, "stderr": 0.02, "source": CITATION}
    assert client.post(url, json=body, headers=headers(runtime, "m-team-b")).status_code == 403
    refused = client.post(url, json=body | {"source": ""}, headers=headers(runtime, "op"))
    assert refused.status_code == 400 and refused.json()["error"] == "TargetSourceMissing"
    created = client.post(url, json=body, headers=headers(runtime, "op"))
    assert created.status_code == 201, created.text
    assert created.json()["source"] == CITATION and created.json()["target_model"] == TARGET
    assert created.json()["task_version"] is None and created.json()["stderr"] == 0.02

    monkeypatch.setenv("BATON_DATABASE_URL", str(runtime.settings.database_url))
    data = ["--data-dir", str(runtime.settings.data_dir)]
    command = ["challenge", "target-score", world.slug, "--as", "op", "--stage", "stage-1", "--team", "team-a"]
    command += ["--task", "t1", "--score", "0.81", *data]
    result = runner.invoke(app, [*command, "--source", " "])
    assert result.exit_code == 2 and "needs its source" in result.output
    assert runner.invoke(app, command).exit_code == 2  # --source is required
    result = runner.invoke(
        app, [*command, "--source", "Model card, 2025-11 revision", "--now", "2026-01-05T09:00:00+00:00"]
    )
    assert result.exit_code == 0, result.output
    assert "team-a's target reference/target-model on t1: 0.81" in result.output and "entered" in result.output
    as_json = runner.invoke(app, [*command, "--source", CITATION, "--stderr", "0.01", "--json"])
    entry = json.loads(as_json.stdout)  # exactly one JSON document on stdout
    assert as_json.exit_code == 0 and entry["score"] == 0.81 and entry["stderr"] == 0.01
    assert entry["source"] == CITATION and entry["operator"] == "op"
    with runtime.database.session() as session:
        entries = [e for e in service.ledger_events(session, world.slug) if e["kind"] == "target_score.recorded"]
    assert [e["payload"]["team"] for e in entries] == ["team-b", "team-a", "team-a"]
    assert entries[1]["recorded_at"].startswith("2026-01-05T09:00:00")


def test_precedence_of_measured_and_entered_target_scores() -> None:
    """``either`` takes the measured score when there is one, else the entered one; the others take only theirs."""
    state = recompute.State()
    previous = None
    inputs: list[tuple[str, dict[str, Any]]] = [
        (
            "score.recorded",
            {
                "stage": "s1",
                "task": "t1",
                "model": TARGET,
                "score": 0.6,
                "stderr": 0.0,
                "source": {"metric": "acc", "manifest": {"task": {"version": "2"}}},
            },
        ),
        (
            "target_score.recorded",
            {
                "stage": "s1",
                "team": "team-a",
                "task": "t1",
                "task_version": "2",
                "target_model": TARGET,
                "score": 0.7,
                "stderr": None,
                "source": CITATION,
                "operator": "op",
            },
        ),
        (
            "target_score.recorded",
            {
                "stage": "s1",
                "team": "team-a",
                "task": "t2",
                "task_version": None,
                "target_model": TARGET,
                "score": 0.9,
                "stderr": 0.02,
                "source": CITATION,
                "operator": "op",
            },
        ),
    ]
    for kind, payload in inputs:
        previous = ledger.make_event(previous, kind, "2026-01-05T09:00:00+00:00", payload)
        recompute.apply(state, previous)
    info = recompute.TeamInfo("team-a", "A", [], [], [TARGET], "s1", False, {})
    data = state.stage_data("s1")
    task = load_spec(_spec("          - {id: t1, target_source: either}\n", "ratio_to_target")).stages[0].criteria[0]

    def found(**fields: Any) -> recompute.TargetScore:
        return recompute.target_score(data, info, task.tasks[0].model_copy(update=fields))

    assert found().origin == {"kind": "measured", "model": TARGET, "score_seq": 1, "task_version": "2", "metric": "acc"}
    assert found().estimate == Estimate(0.6, 0.0)
    entered = found(target_source="entered")
    assert entered.estimate == Estimate(0.7, 0.0) and entered.origin is not None
    assert (
        entered.origin["kind"] == "entered"
        and entered.origin["source"] == CITATION
        and entered.origin["entry_seq"] == 2
    )
    assert found(target_source="measured").estimate == Estimate(0.6, 0.0)
    # Version 3 named: neither counts, and the reason says which versions were recorded.
    none = found(version="3")
    assert none.estimate is None and none.origin is None and none.reason is not None
    assert "measured on version 2" in none.reason and "entered target score was measured on version 2" in none.reason
    assert none.reason.count("measured target:") == 1 and none.reason.count("entered target:") == 1
    # t2 has no measured score: either falls back to the entered one; measured finds nothing.
    fallback = found(id="t2").origin
    assert fallback is not None and fallback["kind"] == "entered"
    assert found(id="t2", target_source="measured").estimate is None
    # A score's version: its own task_version first, else its run manifest's.
    assert recompute.score_version({"task_version": "1", "source": {"manifest": {"task": {"version": "2"}}}}) == "1"
    assert recompute.score_version({"source": {"manifest": {"task": {"version": 2}}}}) == "2"
    assert recompute.score_version({"source": {}}) is None
