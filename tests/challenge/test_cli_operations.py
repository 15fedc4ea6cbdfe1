"""A challenge run from the command line alone: every operator action, with --json results and --now times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from baton.cli.main import app
from baton.core.runtime import Runtime

from .ce_support import make_repo, spec_yaml

runner = CliRunner()

BEFORE = "2026-01-05T18:00:00+09:00"  # stage-1 closes 2026-01-10 18:00 KST
AFTER = "2026-01-11T09:00:00+09:00"
FINAL = "2026-01-25T09:00:00+09:00"  # past the 10-day appeal window


def _run(args: list[str], data: list[str]) -> Any:
    result = runner.invoke(app, [*args, *data])
    assert result.exit_code == 0, result.output
    return result


def _json(args: list[str], data: list[str]) -> Any:
    result = _run([*args, "--json"], data)
    return json.loads(result.stdout)  # exactly one JSON document on stdout


def test_a_challenge_end_to_end_through_the_cli(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    teams = ["team-a", "team-b", "team-c"]
    # People and organizations.
    _run(["user", "create", "op", "--admin"], data)
    for name in ["rev1", "rev2", "voter1", "voter2"]:
        _run(["user", "create", name], data)
    for team in teams:
        _run(["user", "create", f"m-{team}"], data)
        _run(["org", "create", f"org-{team}", "--admin", f"m-{team}"], data)
    for team in teams:  # the teams' models (pushed to the hub, as teams do over its HTTP API)
        make_repo(runtime, f"m-{team}", f"org-{team}", "model", text=f"weights of {team}")

    spec = tmp_path / "challenge.yaml"
    spec.write_text(spec_yaml(), encoding="utf-8")
    _run(["challenge", "create", str(spec), "--as", "op", "--now", "2026-01-01T09:00:00+09:00"], data)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "repos:\n  - {repo: org-team-a/model, kind: model, license: apache-2.0, access: public}\n", encoding="utf-8"
    )

    # Entering teams: the first with every declaration; a member who is no user is refused with a hint.
    enter = ["challenge", "enter", "test-challenge"]
    entered = _json(
        [
            *enter,
            "team-a",
            "--as",
            "op",
            "--name",
            "팀 A",
            "--org",
            "org-team-a",
            "--member",
            "m-team-a",
            "--target",
            "reference/target-model",
            "--release-plan",
            str(plan),
            "--now",
            BEFORE,
        ],
        data,
    )
    assert entered == {
        "challenge": "test-challenge",
        "team": "team-a",
        "name": "팀 A",
        "organizations": ["org-team-a"],
        "members": ["m-team-a"],
        "target_models": ["reference/target-model"],
        "stage": "stage-1",
        "repechage": False,
        "entered_at": "2026-01-05T09:00:00+00:00",
    }
    refused = runner.invoke(
        app, [*enter, "team-b", "--as", "op", "--org", "org-team-b", "--member", "nobody", "--now", BEFORE, *data]
    )
    assert refused.exit_code == 2 and "baton user create nobody" in refused.output
    for team in teams[1:]:
        _run([*enter, team, "--as", "op", "--org", f"org-{team}", "--member", f"m-{team}", "--now", BEFORE], data)

    # Submissions: refused after the deadline given by --now, accepted before it.
    submit = ["challenge", "submit", "test-challenge", "stage-1"]
    late = runner.invoke(
        app, [*submit, "team-a", "--as", "m-team-a", "--repo", "org-team-a/model", "--now", AFTER, *data]
    )
    assert late.exit_code == 2 and "deadline" in late.output
    models = {}
    for team in teams:
        made = _json([*submit, team, "--as", f"m-{team}", "--repo", f"org-{team}/model", "--now", BEFORE], data)
        assert made["team"] == team and made["repo"] == f"org-{team}/model" and made["sealed"] is False
        assert made["submitted_at"] == "2026-01-05T09:00:00+00:00" and len(made["revision"]) == 40
        models[team] = made["model"]

    # Scores.
    score = ["challenge", "record-score", "test-challenge", "stage-1", "--as", "op", "--now", BEFORE]
    values = {"team-a": 0.9, "team-b": 0.6, "team-c": 0.3}
    for team in teams:
        for task in ("t1", "t2"):
            recorded = _json(
                [
                    *score,
                    "--task",
                    task,
                    "--model",
                    models[team],
                    "--score",
                    str(values[team]),
                    "--stderr",
                    "0.01",
                    "--n",
                    "100",
                ],
                data,
            )
            assert recorded["task"] == task and recorded["score"] == values[team]
    unknown = runner.invoke(app, [*score, "--task", "t1", "--model", "someone/else@abc", "--score", "1", *data])
    assert unknown.exit_code == 2
    neither = runner.invoke(app, [*score, "--task", "t1", *data])
    assert neither.exit_code == 2 and "--score" in neither.output

    # Reviews, and gates ruled by the operator (no provenance comparison in this test).
    for team in teams:
        for reviewer in ("rev1", "rev2"):
            _run(
                [
                    "challenge",
                    "assign-reviewer",
                    "test-challenge",
                    "stage-1",
                    team,
                    reviewer,
                    "--as",
                    "op",
                    "--now",
                    BEFORE,
                ],
                data,
            )
            _run(
                [
                    "challenge",
                    "review",
                    "test-challenge",
                    "stage-1",
                    team,
                    "--as",
                    reviewer,
                    "--score",
                    "report=7",
                    "--score",
                    "logs=6",
                    "--now",
                    BEFORE,
                ],
                data,
            )
        _run(
            [
                "challenge",
                "override",
                "test-challenge",
                "stage-1",
                team,
                "--as",
                "op",
                "--outcome",
                "pass",
                "--reason",
                "Checked by hand.",
                "--now",
                BEFORE,
            ],
            data,
        )

    # Battles from a file, then votes.
    lines = [
        {"prompt": f"질문 {k}", "team_a": a, "team_b": b, "answer_a": f"first {k}", "answer_b": f"second {k}"}
        for k, (a, b) in enumerate([("team-a", "team-b"), ("team-b", "team-c"), ("team-a", "team-c")])
    ]
    battles_file = tmp_path / "battles.jsonl"
    battles_file.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    battles = ["challenge", "battles", "test-challenge", "stage-1", str(battles_file), "--as", "op"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "p", "team_a": "team-a"}\n', encoding="utf-8")
    bad = runner.invoke(app, ["challenge", "battles", "test-challenge", "stage-1", str(broken), "--as", "op", *data])
    assert bad.exit_code == 2 and "line 1" in bad.output and "answer_a" in bad.output
    created = _json([*battles, "--now", BEFORE], data)
    assert [row["criterion"] for row in created] == ["arena"] * 3 and len({row["battle"] for row in created}) == 3
    for row in created:
        for voter in ("voter1", "voter2"):
            _run(
                [
                    "challenge",
                    "vote",
                    "test-challenge",
                    "stage-1",
                    "--as",
                    voter,
                    "--battle",
                    row["battle"],
                    "--choice",
                    "a",
                    "--now",
                    BEFORE,
                ],
                data,
            )

    # Deciding: refused before the deadline (by --now), done after it.
    decide = ["challenge", "decide", "test-challenge", "stage-1", "--as", "op"]
    early = runner.invoke(app, [*decide, "--now", BEFORE, *data])
    assert early.exit_code == 2
    record = _json([*decide, "--now", AFTER], data)
    assert record["decided_at"] == "2026-01-11T00:00:00+00:00"
    assert [row["team"] for row in record["teams"]] == teams
    assert record["advance"] == ["team-a", "team-b"] and record["eliminated"] == ["team-c"]
    # The arena is closed once decided.
    closed = runner.invoke(app, [*battles, "--now", AFTER, *data])
    assert closed.exit_code == 2 and "decided" in closed.output

    # Finality at the time given; a new version of the spec must leave the decided stage as it was.
    assert "nothing to finalize" in _run(["challenge", "finalize", "--now", AFTER], data).output
    assert "final: test-challenge stage-1" in _run(["challenge", "finalize", "--now", FINAL], data).output
    changed = tmp_path / "v2.yaml"
    changed.write_text(
        spec_yaml(weights=(45, 30, 25)).replace("title: Test challenge", "title: Test challenge\nversion: 2"),
        encoding="utf-8",
    )
    kept = runner.invoke(app, ["challenge", "revise", "test-challenge", str(changed), "--as", "op", *data])
    assert kept.exit_code == 2 and "stage-1 is decided" in kept.output
    retitled = tmp_path / "v2-title.yaml"
    retitled.write_text(
        spec_yaml().replace("title: Test challenge", "title: The test challenge\nversion: 2"), encoding="utf-8"
    )
    revised = _json(["challenge", "revise", "test-challenge", str(retitled), "--as", "op", "--now", FINAL], data)
    assert revised["challenge"] == "test-challenge" and revised["version"] == 2 and len(revised["head"]) == 64

    # Export and verify: the whole challenge recomputes from the bundle.
    bundle = tmp_path / "ledger.jsonl"
    _run(["challenge", "export", "test-challenge", "-o", str(bundle)], data)
    events = [json.loads(line)["event"] for line in bundle.read_text(encoding="utf-8").splitlines()[1:]]
    kinds = [event["kind"] for event in events]
    assert kinds.count("team.entered") == 3 and kinds.count("battle.created") == 3
    assert kinds.count("score.recorded") == 6 and kinds[-1] == "challenge.revised"
    verified = _json(["challenge", "verify", "--bundle", str(bundle), "--head", revised["head"]], [])
    assert verified["ok"] is True and verified["decisions_checked"] == 1
    entered_at = [e["recorded_at"] for e in events if e["kind"] == "team.entered"]
    assert entered_at == ["2026-01-05T09:00:00+00:00"] * 3  # the --now time, not the wall clock


def test_a_score_from_an_evaluation_run_and_the_decision_in_the_challenges_zone(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baton.challenge import service
    from baton.evaluation.models import EvaluationRun

    from .ce_support import feed_inputs, make_world, submit_all

    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    repo, commit = models["team-a"].split("@")
    with runtime.database.session(write=True) as session:
        run = EvaluationRun(
            task="t1",
            task_name="t1",
            task_version="1",
            model=models["team-a"],
            model_repo=repo,
            model_commit=commit,
            backend="dummy",
            status="succeeded",
            metrics={"accuracy": {"value": 0.77, "stderr": 0.02, "count": 250}},
            manifest={"task": {"name": "t1", "version": "1"}, "backend": "dummy"},
        )
        session.add(run)
        session.flush()
        run_id = run.id
    score = ["challenge", "record-score", world.slug, "stage-1", "--as", "op", "--now", BEFORE]
    both = runner.invoke(app, [*score, "--run", str(run_id), "--score", "0.5", *data])
    assert both.exit_code == 2 and "--run" in both.output  # one source of the score, not two
    recorded = _json([*score, "--run", str(run_id)], data)
    assert recorded["task"] == "t1" and recorded["score"] == 0.77 and recorded["n"] == 250
    assert recorded["model"] == models["team-a"]
    with runtime.database.session() as session:
        (event,) = [
            e
            for e in service.ledger_events(session, world.slug)
            if e["kind"] == "score.recorded" and e["payload"].get("source")
        ]
    assert event["payload"]["source"]["metric"] == "accuracy" and event["recorded_at"] == "2026-01-05T09:00:00+00:00"
    # People read the decision's times in the challenge's zone (Asia/Seoul).
    decided = _run(["challenge", "decide", world.slug, "stage-1", "--as", "op", "--now", AFTER], data)
    assert "appeals until 2026-01-21 09:00 KST (UTC+09:00)" in decided.stdout
