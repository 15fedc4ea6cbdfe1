"""A panel criterion end to end: raters assigned with conflict-of-interest checks, ratings one by one
and imported all or nothing, conflicted raters refused and excluded, the decision's published panel
section, and verify recomputing it from an exported bundle (service, CLI and HTTP)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.challenge import ledger, recompute, report, service
from baton.challenge.errors import ConflictOfInterestError, StageStateError
from baton.cli.main import app
from baton.core.errors import BadRequestError, PermissionDeniedError
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, World, headers, make_world, submit_all

runner = CliRunner()

SPEC = """challenge: panel-challenge
title: Panel challenge
timezone: Asia/Seoul
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 2
    seed: 7
    criteria:
      - {id: bench, kind: benchmark, weight: 75, tasks: [t1, t2]}
      - id: users
        kind: panel
        weight: 25
        scale: {min: 1, max: 5}
        items: 4
        aggregation: trimmed_mean
        trim: 0.1
        bootstrap_rounds: 50
        min_raters: 2
    gates: [{id: independence, kind: independence}]
"""
RATERS = ["rev1", "rev2", "rev3", "voter0", "voter1", "voter2"]
QUALITY = {"team-a": 3, "team-b": 4, "team-c": 5}


def _world(runtime: Runtime) -> World:
    world = make_world(runtime, spec=SPEC)
    models = submit_all(world)
    with runtime.database.session(write=True) as session:
        operator = world.op(session)
        for team in world.teams:
            for task in ("t1", "t2"):
                service.record_score(
                    session,
                    world.slug,
                    "stage-1",
                    service.BenchmarkScore(task=task, model=models[team], score=0.5, stderr=0.01, n=100),
                    operator=operator,
                    now=BEFORE_DEADLINE,
                )
            service.override_gate(
                session,
                world.slug,
                "stage-1",
                team,
                outcome="pass",
                reason="Checked by hand against the public bases.",
                operator=operator,
                now=BEFORE_DEADLINE,
            )
    return world


def _join(runtime: Runtime, person: str, organization: str) -> None:
    with runtime.database.session(write=True) as session:
        accounts.set_membership(
            session, accounts.get_account(session, organization), accounts.get_account(session, person), "read"
        )


def _assign(world: World, raters: list[str], teams: list[str] | None = None) -> dict[str, Any]:
    with world.runtime.database.session(write=True) as session:
        return service.assign_raters(
            session,
            world.slug,
            "stage-1",
            [accounts.get_account(session, name) for name in raters],
            operator=world.op(session),
            teams=teams,
            now=BEFORE_DEADLINE,
        )


def _csv(rows: list[tuple[str, Any, str, Any]]) -> str:
    return "team,item,rater,score\n" + "".join(f"{t},{i},{r},{s}\n" for t, i, r, s in rows)


def _head(world: World) -> tuple[int, str]:
    with world.runtime.database.session() as session:
        challenge = service.get_challenge(session, world.slug)
        return challenge.last_seq, challenge.head_hash


def test_conflicts_are_refused_and_excluded_and_verify_recomputes_the_decision(runtime: Runtime) -> None:
    world = _world(runtime)
    _join(runtime, "voter2", "org-team-a")  # voter2 is affiliated with team-a from the start
    assigned = _assign(world, RATERS)
    assert len(assigned["assigned"]) == 17 and assigned["skipped"] == [
        {"team": "team-a", "rater": "voter2", "reason": "conflict of interest"}
    ]
    assert _assign(world, ["rev1"])["existing"] == 3  # assigning again adds nothing
    with pytest.raises(ConflictOfInterestError, match="'voter2' with team 'team-a'"):
        _assign(world, ["voter2"], ["team-a"])
    with runtime.database.session(write=True) as session:
        with pytest.raises(ConflictOfInterestError, match="excluded from rating team 'team-a'"):
            service.rate(
                session, world.slug, "stage-1", "team-a", rater=world.account(session, "voter2"), item=1, score=5
            )
        with pytest.raises(PermissionDeniedError, match="not assigned to rate team 'team-a'"):
            service.rate(
                session, world.slug, "stage-1", "team-a", rater=world.account(session, "voter3"), item=1, score=5
            )
        with pytest.raises(BadRequestError, match=r"the score 6 is outside 1\.\.5"):
            service.rate(
                session, world.slug, "stage-1", "team-a", rater=world.account(session, "rev1"), item=1, score=6
            )
        first = service.rate(
            session, world.slug, "stage-1", "team-a", rater=world.account(session, "rev1"), item="1", score=1
        )
        assert first["rater"].startswith("rater-") and "rev1" not in json.dumps(first)
    # Everyone's ratings in one import: each team's answers rated at its quality, except rev3, who
    # rates team-c at 1 (and declares a conflict with it afterwards) and rev2, who rates team-b at 5
    # and joins its organization after.
    rows = []
    for team, quality in QUALITY.items():
        for rater in RATERS:
            if rater == "voter2" and team == "team-a":
                continue
            for item in range(1, 5):
                score = (
                    1 if (rater, team) == ("rev3", "team-c") else 5 if (rater, team) == ("rev2", "team-b") else quality
                )
                rows.append((team, item, rater, score))
    with runtime.database.session(write=True) as session:
        imported = service.import_ratings(
            session, world.slug, "stage-1", _csv(rows), operator=world.op(session), now=BEFORE_DEADLINE
        )
    assert (imported["ratings"], imported["raters"], imported["teams"]) == (68, 6, 3)
    with runtime.database.session(write=True) as session:
        declared = service.declare_conflict(
            session, world.slug, "stage-1", "team-c", actor=world.account(session, "rev3"), now=BEFORE_DEADLINE
        )
        assert declared["recorded"] and declared["source"] == "declared"
        again = service.declare_conflict(session, world.slug, "stage-1", "team-c", actor=world.account(session, "rev3"))
        assert again["recorded"] is False
        with pytest.raises(PermissionDeniedError, match="'voter4' rates no team"):
            service.declare_conflict(session, world.slug, "stage-1", "team-c", actor=world.account(session, "voter4"))
        with pytest.raises(ConflictOfInterestError):
            service.rate(
                session, world.slug, "stage-1", "team-c", rater=world.account(session, "rev3"), item=1, score=5
            )
    _join(runtime, "rev2", "org-team-b")
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    published = record["panel"]["users"]
    assert published["excluded"] == {
        "reason": "conflict of interest with the team",
        "raters": 2,
        "pairs": 2,
        "ratings": 8,
    }
    conflicts = {(entry["team"], entry["source"]) for entry in published["conflicts"]}
    assert conflicts == {("team-c", "declared"), ("team-b", "affiliation")}
    teams = published["teams"]
    # The imported rating of rev1 replaced the one entered before; the excluded raters move nothing.
    assert teams["team-a"]["aggregate"] == pytest.approx(0.5)
    assert teams["team-b"]["aggregate"] == pytest.approx(0.75) and teams["team-b"]["excluded_raters"] == 1
    assert teams["team-c"]["aggregate"] == pytest.approx(1.0) and teams["team-c"]["excluded_ratings"] == 4
    assert teams["team-a"]["raters"] == 5 and teams["team-b"]["raters"] == 5
    assert published["alpha"]["value"] == 1.0  # after the exclusions every rater agrees
    row = {entry["team"]: entry for entry in record["teams"]}
    assert row["team-c"]["criteria"]["users"]["points"] == pytest.approx(25.0)
    assert row["team-a"]["criteria"]["users"]["detail"]["kind"] == "panel"
    assert record["advance"] == ["team-c", "team-b"]
    built = report.build_report(record)  # the reports render a panel criterion like any other
    assert "team-c" in report.to_csv(built) and "<svg" in report.criteria_chart_svg(built)
    # verify: the exported bundle recomputes the decision; an altered rating changes it.
    with runtime.database.session() as session:
        bundle = service.export_bundle(session, world.slug)
        events = service.events_of(session, service.get_challenge(session, world.slug))
    verified = ledger.verify_bundle(bundle, _head(world)[1])
    assert verified.ok and verified.decisions_checked == 1, verified.problems
    index = next(i for i, event in enumerate(events) if event.kind == "panel.ratings")
    altered = json.loads(json.dumps(events[index].payload))
    for entry in altered["ratings"]:
        if entry["team"] == "team-a":
            entry["scores"]["score"] = 5
    events[index] = dataclasses.replace(events[index], payload=altered)
    checked, problems = recompute.check_decisions(events)
    assert checked == 1 and any("differs from its recomputation" in text for _seq, text in problems)


def test_an_import_with_a_bad_row_records_nothing_and_names_every_line(runtime: Runtime) -> None:
    world = _world(runtime)
    _join(runtime, "voter2", "org-team-a")
    _assign(world, ["rev1", "rev2"])
    _assign(world, ["voter2"], ["team-b"])
    before = _head(world)
    text = _csv(
        [
            ("team-a", 1, "rev1", 4),  # line 2: fine
            ("team-z", 1, "rev1", 4),  # 3: no such team
            ("team-a", 9, "rev1", 4),  # 4: no such item
            ("team-a", 2, "rev1", 7),  # 5: off the scale
            ("team-a", 3, "rev1", "4.5"),  # 6: not whole
            ("team-a", 1, "rev1", 3),  # 7: rated twice
            ("team-a", 1, "voter2", 3),  # 8: conflicted
            ("team-a", 1, "voter1", 3),  # 9: not assigned
            ("team-a", 1, "nobody", 3),  # 10: no such user
            ("team-b", 1, "rev2", 5),  # 11: fine
        ]
    )
    with runtime.database.session(write=True) as session, pytest.raises(BadRequestError) as caught:
        service.import_ratings(session, world.slug, "stage-1", text, operator=world.op(session))
    message = caught.value.message
    assert "Nothing imported: 8 problems" in message
    for expected in (
        "line 3: team 'team-z' does not compete in stage-1",
        "line 4: item '9' is not an item of 'users' (1..4)",
        "line 5: the score 7 is outside 1..5",
        "line 6: the score '4.5' is not a whole number",
        "line 7: rev1 rated item 1 of team-a already on line 2",
        "line 8: rater 'voter2' has a conflict of interest with team 'team-a'",
        "line 9: rater 'voter1' is not assigned to team 'team-a' for users",
        "line 10: no user named 'nobody'",
    ):
        assert expected in message
    assert "import-ratings" in (caught.value.hint or "")
    assert _head(world) == before  # all or nothing: not one event appended
    with runtime.database.session(write=True) as session:
        with pytest.raises(BadRequestError, match="line 2: not JSON"):
            service.import_ratings(
                session, world.slug, "stage-1", '{"team": "team-a"}\n{oops\n', operator=world.op(session), fmt="jsonl"
            )
        with pytest.raises(BadRequestError, match="the header lacks rater"):
            service.import_ratings(session, world.slug, "stage-1", "team,item,score\n", operator=world.op(session))
        good = '{"team": "team-a", "item": 1, "rater": "rev1", "score": 4}\n'
        good += '{"team": "team-b", "item": "2", "rater": "rev2", "scores": {"score": 2}}\n'
        result = service.import_ratings(session, world.slug, "stage-1", good, operator=world.op(session), fmt="jsonl")
        assert result["ratings"] == 2
        with pytest.raises(PermissionDeniedError):
            service.import_ratings(session, world.slug, "stage-1", good, operator=world.account(session, "rev1"))


def test_a_decision_waits_for_min_raters(runtime: Runtime) -> None:
    world = _world(runtime)
    _assign(world, ["rev1", "rev2"])
    with runtime.database.session(write=True) as session:
        rows = [(team, 1, "rev1", 3) for team in world.teams] + [("team-a", 1, "rev2", 3)]
        service.import_ratings(session, world.slug, "stage-1", _csv(rows), operator=world.op(session))
    short = pytest.raises(StageStateError, match="team-b has 1 of 2 raters for users")
    with runtime.database.session(write=True) as session, short as caught:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    assert "baton challenge panel-assign" in (caught.value.hint or "")


def test_the_cli_assigns_rates_imports_and_verifies(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    world = _world(runtime)
    raters = tmp_path / "raters.txt"
    raters.write_text("rev1\nrev2\n\nvoter0\n")
    result = runner.invoke(
        app,
        [
            "challenge",
            "panel-assign",
            world.slug,
            "stage-1",
            "--raters-file",
            str(raters),
            "--as",
            "op",
            "--json",
            *data,
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["assigned"]) == 9
    result = runner.invoke(
        app, ["challenge", "panel-assignments", world.slug, "stage-1", "--as", "rev1", "--json", *data]
    )
    listed = json.loads(result.stdout)
    assert listed["panels"][0]["teams"] == world.teams and listed["panels"][0]["items"] == ["1", "2", "3", "4"]
    rate = ["challenge", "rate", world.slug, "stage-1", "team-a", "--as", "rev1", "--item", "2", "--score", "4"]
    result = runner.invoke(app, [*rate, "--now", "2026-01-05T09:00:00+00:00", "--json", *data])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scores"] == {"score": 4}
    result = runner.invoke(app, [*rate[:-1], "9", *data])
    assert result.exit_code == 2 and "outside 1..5" in result.output
    bad = tmp_path / "ratings.csv"
    bad.write_text(_csv([("team-a", 1, "rev1", 4), ("team-a", 1, "voter1", 4)]))
    result = runner.invoke(app, ["challenge", "import-ratings", world.slug, "stage-1", str(bad), "--as", "op", *data])
    assert result.exit_code == 2 and "line 3: rater 'voter1' is not assigned" in result.output
    good = tmp_path / "ratings.jsonl"
    lines = [
        {"team": team, "item": item, "rater": rater, "score": {"team-a": 2, "team-b": 3, "team-c": 4}[team]}
        for team in world.teams
        for rater in ("rev1", "rev2", "voter0")
        for item in range(1, 5)
        if (team, rater, item) != ("team-a", "rev1", 2)
    ]
    good.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = runner.invoke(
        app, ["challenge", "import-ratings", world.slug, "stage-1", str(good), "--as", "op", "--json", *data]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ratings"] == 35
    conflict = ["challenge", "panel-conflict", world.slug, "stage-1", "team-c", "--as", "op", "--rater", "voter0"]
    result = runner.invoke(app, [*conflict, "--json", *data])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recorded"] is True
    result = runner.invoke(
        app, ["challenge", "panel-conflict", world.slug, "stage-1", "team-c", "--as", "rev1", "--rater", "rev2", *data]
    )
    assert result.exit_code == 2 and "is not an operator" in result.output
    result = runner.invoke(app, ["challenge", "decide", world.slug, "stage-1", "--as", "op", "--json", *data])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["panel"]["users"]["excluded"]["ratings"] == 4
    assert record["panel"]["users"]["teams"]["team-a"]["ratings"] == 12
    bundle = tmp_path / "ledger.jsonl"
    assert runner.invoke(app, ["challenge", "export", world.slug, "-o", str(bundle), *data]).exit_code == 0
    result = runner.invoke(app, ["challenge", "verify", "--bundle", str(bundle), "--head", _head(world)[1]])
    assert result.exit_code == 0 and "1 decisions recomputed" in result.output, result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_raters_rate_only_their_teams_over_http(runtime: Runtime, client: TestClient) -> None:
    world = _world(runtime)
    _assign(world, ["rev1"], ["team-a"])
    base = f"/api/challenges/{world.slug}/stages/stage-1/panel"
    rev1, operator = headers(runtime, "rev1"), headers(runtime, "op")
    answer = client.get(base + "/assignments", headers=rev1)
    assert answer.status_code == 200 and answer.json()["panels"][0]["teams"] == ["team-a"]
    answer = client.post(base + "/ratings", json={"team": "team-a", "item": 3, "score": 5}, headers=rev1)
    assert answer.status_code == 201, answer.text
    assert answer.json()["item"] == "3" and answer.json()["rater"].startswith("rater-")
    answer = client.post(base + "/ratings", json={"team": "team-b", "item": 3, "score": 5}, headers=rev1)
    assert answer.status_code == 403
    answer = client.post(base + "/ratings/import", json={"text": _csv([("team-a", 1, "rev1", 2)])}, headers=rev1)
    assert answer.status_code == 403
    answer = client.post(base + "/raters", json={"raters": ["rev2"], "teams": ["team-b"]}, headers=operator)
    assert answer.status_code == 201 and answer.json()["assigned"][0]["team"] == "team-b"
    answer = client.post(
        base + "/ratings/import",
        json={"text": _csv([("team-a", 1, "rev1", 2), ("team-b", 1, "rev2", 9)])},
        headers=operator,
    )
    assert answer.status_code == 400 and "line 3: the score 9 is outside 1..5" in answer.json()["message"]
    answer = client.post(base + "/ratings/import", json={"text": _csv([("team-a", 1, "rev1", 2)])}, headers=operator)
    assert answer.status_code == 201 and answer.json()["ratings"] == 1
    answer = client.post(base + "/conflicts", json={"team": "team-a"}, headers=rev1)
    assert answer.status_code == 201 and answer.json()["source"] == "declared"
    answer = client.post(base + "/ratings", json={"team": "team-a", "item": 3, "score": 5}, headers=rev1)
    assert answer.status_code == 403 and answer.json()["error"] == "ConflictOfInterest"
    answer = client.post(base + "/ratings", json={"team": "team-a", "item": 3, "score": 4}, headers=operator)
    assert answer.status_code == 403  # the operator rates nothing without an assignment
    answer = client.post(
        base + "/ratings", json={"team": "team-b", "item": 3, "score": 4.5}, headers=headers(runtime, "rev2")
    )
    assert answer.status_code == 400 and "the score '4.5' is not a whole number" in answer.json()["message"]
