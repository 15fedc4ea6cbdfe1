"""baton challenge ...: validate, decide, finalize, export, and verify with and without the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.challenge import service
from baton.challenge.spec import example_path
from baton.cli.main import app
from baton.core.runtime import Runtime

from .ce_support import feed_inputs, make_world, submit_all

runner = CliRunner()


def test_validate_examples_and_a_broken_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["challenge", "validate", str(example_path("stage1"))])
    assert result.exit_code == 0, result.output
    assert "stage-1: 5 teams → 4 advance" in result.output
    assert runner.invoke(app, ["challenge", "validate", "--example", "four-stage"]).exit_code == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(example_path("stage1").read_text().replace("weight: 35", "weight: 30"))
    result = runner.invoke(app, ["challenge", "validate", str(broken)])
    assert result.exit_code == 2
    assert "weights sum to 95" in result.output.replace("\n", " ") and "line 19" in result.output
    assert "examples" in runner.invoke(app, ["challenge", "examples"]).output


def test_decide_finalize_export_and_verify(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    result = runner.invoke(app, ["challenge", "decide", world.slug, "stage-1", "--as", "m-team-a", *data])
    assert result.exit_code == 2 and "is not an operator" in result.output
    # The CLI reads the real clock: 2026-11-28 is long past the 2026-01-10 deadline and its appeal window.
    result = runner.invoke(app, ["challenge", "decide", world.slug, "stage-1", "--as", "op", *data])
    assert result.exit_code == 0, result.output
    assert "1. team-c" in result.output and "eliminated (rank)" in result.output
    result = runner.invoke(app, ["challenge", "finalize", "--now", "2030-01-01T00:00:00+00:00", *data])
    assert result.exit_code == 0 and f"final: {world.slug} stage-1" in result.output
    bundle = tmp_path / "ledger.jsonl"
    result = runner.invoke(app, ["challenge", "export", world.slug, "-o", str(bundle), *data])
    assert result.exit_code == 0, result.output
    with runtime.database.session() as session:
        head = service.get_challenge(session, world.slug).head_hash
    result = runner.invoke(app, ["challenge", "verify", "--bundle", str(bundle), "--head", head])
    assert result.exit_code == 0, result.output
    as_json = runner.invoke(app, ["challenge", "verify", "--bundle", str(bundle), "--head", head, "--json"])
    verified = json.loads(as_json.stdout)  # exactly one JSON document on stdout
    assert as_json.exit_code == 0 and verified["ok"] is True and verified["head"] == head
    assert "verified" in result.output and "1 decisions recomputed" in result.output
    assert runner.invoke(app, ["challenge", "verify", world.slug, "--head", head, *data]).exit_code == 0
    # One altered line: reported with its line and seq, exit code 1.
    lines = bundle.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"kind":"review.recorded"' in line)
    lines[index] = lines[index].replace('"report":5.0', '"report":9.0')
    bundle.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["challenge", "verify", "--bundle", str(bundle), "--head", head])
    assert result.exit_code == 1
    assert f"line {index + 1}, seq {index}" in result.output and "altered" in result.output
    # The recomputed decision no longer matches the recorded one either.
    assert "differs from its recomputation" in result.output


def _local(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    return ["--data-dir", str(runtime.settings.data_dir)]


def test_reviewers_reviews_and_votes_from_the_command_line(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from .ce_support import spec_yaml

    data = _local(runtime, monkeypatch)
    # The CLI reads the real clock: this stage is still open.
    world = make_world(runtime, spec=spec_yaml().replace("2026-01-10T18:00", "2099-01-10T18:00"))
    submit_all(world)
    base = ["challenge"]
    refused = runner.invoke(
        app, [*base, "assign-reviewer", world.slug, "stage-1", "team-a", "rev1", "--as", "rev2", *data]
    )
    assert refused.exit_code == 2 and "operator" in refused.output
    conflicted = runner.invoke(
        app, [*base, "assign-reviewer", world.slug, "stage-1", "team-a", "m-team-a", "--as", "op", *data]
    )
    assert conflicted.exit_code == 2 and "hint" in conflicted.output  # affiliated with the team it would score
    assigned = runner.invoke(
        app, [*base, "assign-reviewer", world.slug, "stage-1", "team-a", "rev1", "--as", "op", *data]
    )
    assert assigned.exit_code == 0, assigned.output
    with runtime.database.session() as session:
        pseudonym = service.pseudonym(session, world.slug, "rev1", "reviewer")
    assert pseudonym in assigned.output.replace("\n", "")

    review = [*base, "review", world.slug, "stage-1", "team-a", "--as", "rev1", *data]
    bad = runner.invoke(app, [*review, "--score", "report:8"])
    assert bad.exit_code == 2 and "ITEM=NUMBER" in bad.output
    over = runner.invoke(app, [*review, "--score", "report=11", "--score", "logs=5"])
    assert over.exit_code == 2  # beyond the rubric's maximum of 10: refused, nothing recorded
    unassigned = runner.invoke(
        app,
        [
            *base,
            "review",
            world.slug,
            "stage-1",
            "team-b",
            "--as",
            "rev1",
            "--score",
            "report=8",
            "--score",
            "logs=7",
            *data,
        ],
    )
    assert unassigned.exit_code == 2
    done = runner.invoke(app, [*review, "--score", "report=8", "--score", "logs=7", "--comment", "Clear logs."])
    assert done.exit_code == 0, done.output

    with runtime.database.session(write=True) as session:
        battle = service.create_battle(
            session,
            world.slug,
            "stage-1",
            service.NewBattle(prompt="수도는?", team_a="team-a", team_b="team-b", answer_a="서울", answer_b="부산"),
            operator=world.op(session),
        ).battle
    shown = runner.invoke(app, [*base, "next-battle", world.slug, "stage-1", "--as", "voter1", "--json", *data])
    assert shown.exit_code == 0, shown.output
    blind = json.loads(shown.stdout)
    assert blind == {"battle": battle, "prompt": "수도는?", "answer_a": "서울", "answer_b": "부산"}
    vote = [*base, "vote", world.slug, "stage-1", "--battle", battle, *data]
    assert runner.invoke(app, [*vote, "--as", "voter1", "--choice", "c"]).exit_code == 2  # not a choice
    assert runner.invoke(app, [*vote, "--as", "m-team-a", "--choice", "a"]).exit_code == 2  # conflict of interest
    cast = runner.invoke(app, [*vote, "--as", "voter1", "--choice", "a"])
    assert cast.exit_code == 0, cast.output
    assert runner.invoke(app, [*vote, "--as", "voter1", "--choice", "b"]).exit_code == 2  # a second vote
    none_left = runner.invoke(app, [*base, "next-battle", world.slug, "stage-1", "--as", "voter1", *data])
    assert none_left.exit_code == 1 and "no battle left" in none_left.output

    with runtime.database.session() as session:
        kinds = [event["kind"] for event in service.ledger_events(session, world.slug)]
        voter = service.pseudonym(session, world.slug, "voter1")
        (vote_event,) = [e for e in service.ledger_events(session, world.slug) if e["kind"] == "vote.recorded"]
    assert kinds.count("reviewer.assigned") == 1 and kinds.count("review.recorded") == 1
    assert vote_event["payload"]["voter"] == voter and vote_event["payload"]["choice"] == "a"


def test_appeals_filed_and_answered_from_the_command_line(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _local(runtime, monkeypatch)
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    assert runner.invoke(app, ["challenge", "decide", world.slug, "stage-1", "--as", "op", *data]).exit_code == 0
    appeal = ["challenge", "appeal", world.slug, "stage-1", "team-a", "--text", "The arena answers were swapped."]
    outsider = runner.invoke(app, [*appeal, "--as", "m-team-b", *data])
    assert outsider.exit_code == 2  # not a member of team-a
    filed = runner.invoke(app, [*appeal, "--as", "m-team-a", *data])
    assert filed.exit_code == 0, filed.output
    appeal_id = filed.stdout.strip()
    answer = ["challenge", "answer-appeal", world.slug, appeal_id, "--answer", "Checked: not swapped.", "--rejected"]
    assert runner.invoke(app, [*answer, "--as", "m-team-a", *data]).exit_code == 2
    answered = runner.invoke(app, [*answer, "--as", "op", *data])
    assert answered.exit_code == 0, answered.output
    listed = json.loads(runner.invoke(app, ["challenge", "appeals", world.slug, *data]).stdout)
    assert [(a["team"], a["upheld"], a["answer"]) for a in listed] == [("team-a", False, "Checked: not swapped.")]
    again = runner.invoke(app, [*answer, "--as", "op", *data])
    assert again.exit_code == 2  # answered once
    # With every appeal answered and the window closed, the decision becomes final.
    final = runner.invoke(app, ["challenge", "finalize", "--now", "2030-01-01T00:00:00+00:00", *data])
    assert f"final: {world.slug} stage-1" in final.output


def test_decide_json_prints_one_document(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    data = ["--data-dir", str(runtime.settings.data_dir)]
    result = runner.invoke(app, ["challenge", "decide", world.slug, "stage-1", "--as", "op", "--json", *data])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)  # exactly one JSON document on stdout, nothing else
    assert record["teams"][0]["team"] == "team-c" and record["eliminated"] == ["team-a"]
