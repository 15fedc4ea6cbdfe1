"""The national programme's example (examples/programme.yaml) run from the command line alone.

Teams push their models with the Hugging Face client over the hub's HTTP API, as they would; every
other step is a ``baton`` command an operator, a team member, a reviewer or a rater types. The story
is the programme's published stage 1: five teams, one of them in the top four on points but reusing a
foreign model's vision encoder (independence fails), the lowest on points eliminated too, the freed
slot left to the repechage; the repechage admits one new team (an eliminated team applies again under
its own id and is not admitted); stage 2 has four teams and picks three. At the end the exported
bundle is verified without the database.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from typer.testing import CliRunner

from baton.challenge.spec import example_path
from baton.cli.main import app
from baton.core.runtime import Runtime
from baton.demo.challenge_demo import gpt2_state, model_files, vision_tower_state
from live_servers import LiveServer

runner = CliRunner()
SLUG = "sovereign-ai-programme"
SEOUL = ZoneInfo("Asia/Seoul")

# Each team's quality: its benchmark scores, reviews and ratings follow it, so the ranking on points is
# team-a, team-b, team-c, team-d, team-e (the lowest). team-b copies a foreign vision encoder.
QUALITY = {"team-a": 0.90, "team-b": 0.86, "team-c": 0.80, "team-d": 0.74, "team-e": 0.50, "team-f": 0.82}
COPIER = "team-b"
NATIONAL = ["kmmlu", "click", "haerae", "kobest"]
GLOBAL = [
    "mmlu-pro",
    "gpqa-diamond",
    "math-500",
    "aime-2025",
    "livecodebench",
    "humaneval-plus",
    "ifeval",
    "arena-hard",
    "mt-bench",
    "bbh",
    "hellaswag",
    "arc-challenge",
    "truthfulqa",
]
TARGET_TASKS = ["kmmlu", "haerae", "mmlu-pro", "gpqa-diamond", "ifeval"]
REVIEWERS = [f"rev{i:02d}" for i in range(1, 11)]
RATERS = [f"rater{i:02d}" for i in range(1, 50)]
ITEMS = 20


class Cli:
    """``baton ...`` against one data folder and database; every call must succeed unless told otherwise."""

    def __init__(self, runtime: Runtime) -> None:
        self.data = ["--data-dir", str(runtime.settings.data_dir)]

    def run(self, *args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, [*args, *self.data])
        if ok:
            assert result.exit_code == 0, f"baton {' '.join(args)}\n{result.output}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def _seoul(day: str, hour: int = 9) -> str:
    return f"{day}T{hour:02d}:00:00+09:00"


def _push(server: LiveServer, token: str, repo_id: str, files: dict[str, bytes]) -> None:
    api = HfApi(endpoint=server.url, token=token)
    api.create_repo(repo_id)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in files.items()]
    api.create_commit(repo_id, operations=operations, commit_message="weights")


def _team_model(team: str, seed: int) -> dict[str, bytes]:
    state = gpt2_state(100 + seed, 16)
    if team == COPIER:
        state = state | vision_tower_state(202)  # the foreign model's encoder, bit for bit, undeclared
    files = model_files(state, 16, {"license": "apache-2.0"}, f"{team} model", "Trained from scratch.")
    return files | {"DATA_PROVENANCE.md": f"# Data provenance of {team}\n\nCorpora and their licences.\n".encode()}


def _feed_stage(cli: Cli, stage: str, teams: list[str], models: dict[str, str], at: str, tmp_path: Path) -> None:
    """Scores, target scores, reviews and panel ratings for a stage, all through the CLI."""
    for team in teams:
        quality = QUALITY[team]
        for index, task in enumerate(NATIONAL + GLOBAL):
            score = round(quality * (0.9 - 0.01 * (index % 5)), 4)
            cli.run(
                "challenge",
                "record-score",
                SLUG,
                stage,
                "--as",
                "op",
                "--task",
                task,
                "--model",
                models[team],
                "--score",
                str(score),
                "--stderr",
                "0.01",
                "--n",
                "500",
                "--now",
                at,
            )
        for task in TARGET_TASKS:
            cli.run(
                "challenge",
                "target-score",
                SLUG,
                "--as",
                "op",
                "--stage",
                stage,
                "--team",
                team,
                "--task",
                task,
                "--score",
                "0.85",
                "--source",
                f"https://example.org/{team}/target-card.pdf, table 2",
                "--now",
                at,
            )
        for reviewer in REVIEWERS:
            cli.run("challenge", "assign-reviewer", SLUG, stage, team, reviewer, "--as", "op", "--now", at)
            points = round(10 * quality, 1)
            cli.run(
                "challenge",
                "review",
                SLUG,
                stage,
                team,
                "--as",
                reviewer,
                "--score",
                f"technical-report={points}",
                "--score",
                f"training-logs={points}",
                "--score",
                f"originality={points}",
                "--now",
                at,
            )
    raters = tmp_path / f"raters-{stage}.txt"
    raters.write_text("\n".join(RATERS) + "\n", encoding="utf-8")
    cli.json("challenge", "panel-assign", SLUG, stage, "--as", "op", "--raters-file", str(raters), "--now", at)
    ratings = tmp_path / f"ratings-{stage}.csv"
    with ratings.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["team", "item", "rater", "score"])
        for team in teams:
            for item in range(1, ITEMS + 1):
                for index, rater in enumerate(RATERS):
                    spread = (index + item) % 3 - 1  # raters disagree by a point either way
                    writer.writerow([team, item, rater, min(5, max(1, round(1 + 4 * QUALITY[team]) + spread))])
    imported = cli.json("challenge", "import-ratings", SLUG, stage, str(ratings), "--as", "op", "--now", at)
    assert imported["ratings"] == len(teams) * ITEMS * len(RATERS)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_programme_runs_from_the_command_line(
    runtime: Runtime, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    cli = Cli(runtime)
    teams = ["team-a", "team-b", "team-c", "team-d", "team-e"]

    # People: the operator, a foreign lab, the teams' members and organizations, reviewers, 49 raters.
    cli.run("user", "create", "op", "--admin")
    tokens = {name: cli.run("user", "create", name).stdout.strip() for name in ["foreign", *[f"m-{t}" for t in teams]]}
    for name in [*REVIEWERS, *RATERS]:
        cli.run("user", "create", name)
    cli.run("org", "create", "global-open", "--admin", "foreign")
    for team in teams:
        cli.run("org", "create", f"org-{team}", "--admin", f"m-{team}")

    # Models, pushed with the Hugging Face client: a foreign vision-language model, then the teams'.
    foreign = vision_tower_state(202) | gpt2_state(7, 24)
    _push(
        live_server,
        tokens["foreign"],
        "global-open/vision-lm",
        model_files(foreign, 24, {"license": "cc-by-nc-4.0"}, "vision-lm", "A foreign model."),
    )
    for seed, team in enumerate(teams):
        _push(live_server, tokens[f"m-{team}"], f"org-{team}/{team}-lm", _team_model(team, seed))
    cli.run("worker", "--once")  # fingerprints and first scans, queued by the pushes
    for team in teams:  # and once more now that every model is fingerprinted
        cli.run("provenance", "scan", f"org-{team}/{team}-lm")

    # The challenge, its teams and their submissions (stage 1 closes 2026-01-10 18:00 KST).
    assert runner.invoke(app, ["challenge", "validate", "--example", "programme"]).exit_code == 0
    cli.run("challenge", "create", str(example_path("programme")), "--as", "op", "--now", _seoul("2026-01-02"))
    for team in teams:
        cli.run(
            "challenge",
            "enter",
            SLUG,
            team,
            "--as",
            "op",
            "--org",
            f"org-{team}",
            "--member",
            f"m-{team}",
            "--target",
            "target-labs/target-70b",
            "--now",
            _seoul("2026-01-02"),
        )
    models = {
        team: cli.json(
            "challenge",
            "submit",
            SLUG,
            "stage-1",
            team,
            "--as",
            f"m-{team}",
            "--repo",
            f"org-{team}/{team}-lm",
            "--now",
            _seoul("2026-01-09"),
        )["model"]
        for team in teams
    }
    _feed_stage(cli, "stage-1", teams, models, _seoul("2026-01-11"), tmp_path)
    gates = cli.json(
        "challenge", "check-gates", SLUG, "--stage", "stage-1", "--as", "op", "--now", _seoul("2026-01-12")
    )
    outcomes = {(row["team"], row["gate"]): row["outcome"] for row in gates}
    assert outcomes[(COPIER, "independence")] == "fail"
    assert all(outcomes[(team, "independence")] == "pass" for team in teams if team != COPIER), gates
    assert all(outcomes[(team, "data-provenance")] == "pass" for team in teams)

    # Stage 1's decision: the copier (second on points) and the lowest go; nobody is promoted into the slot.
    record = cli.json("challenge", "decide", SLUG, "stage-1", "--as", "op", "--now", _seoul("2026-01-15"))
    rows = {row["team"]: row for row in record["teams"]}
    assert [team for team in sorted(rows, key=lambda t: rows[t]["points_rank"])] == teams
    assert rows[COPIER]["points_rank"] == 2 and rows[COPIER]["outcome"] == "eliminated"
    assert rows[COPIER]["eliminated_by"] == "gate:independence"
    assert rows["team-e"]["points_rank"] == 5 and rows["team-e"]["eliminated_by"] == "lowest"
    assert record["advance"] == ["team-a", "team-c", "team-d"]  # three: the freed slot is not refilled
    deadline = datetime.fromisoformat(record["appeal_deadline"]).astimezone(SEOUL)
    assert (deadline.isoformat(), record["appeal_days"]) == ("2026-01-25T09:00:00+09:00", 10)
    # An objection inside the window holds finality until it is answered.
    appeal = cli.run(
        "challenge",
        "appeal",
        SLUG,
        "stage-1",
        COPIER,
        "--as",
        f"m-{COPIER}",
        "--text",
        "The encoder was retrained by us.",
        "--now",
        _seoul("2026-01-20"),
    ).stdout.strip()
    cli.run("challenge", "finalize", "--now", _seoul("2026-01-26"))
    assert json.loads(cli.run("challenge", "appeals", SLUG, "--stage", "stage-1").stdout)[0]["answered_at"] is None
    cli.run(
        "challenge",
        "answer-appeal",
        SLUG,
        appeal,
        "--as",
        "op",
        "--answer",
        "The encoder's tensors equal the foreign model's.",
        "--rejected",
        "--now",
        _seoul("2026-01-26"),
    )
    cli.run("challenge", "finalize", "--now", _seoul("2026-01-26", 12))

    # The repechage: a new team and the lowest team of stage 1 (under its own id) apply; one is admitted.
    cli.run("user", "create", "m-team-f")
    cli.run("org", "create", "org-team-f", "--admin", "m-team-f")
    cli.run(
        "challenge",
        "enter",
        SLUG,
        "team-f",
        "--as",
        "op",
        "--org",
        "org-team-f",
        "--member",
        "m-team-f",
        "--target",
        "target-labs/target-70b",
        "--stage",
        "repechage-1",
        "--now",
        _seoul("2026-01-27"),
    )
    before = cli.run(
        "challenge", "apply", SLUG, "repechage-1", "team-e", "--as", "m-team-e", "--now", _seoul("2026-01-20"), ok=False
    )
    assert before.exit_code != 0  # the call opens on 2026-01-26
    applied_f = cli.json(
        "challenge",
        "apply",
        SLUG,
        "repechage-1",
        "team-f",
        "--as",
        "m-team-f",
        "--statement",
        "A new consortium.",
        "--now",
        _seoul("2026-01-28"),
    )
    applied_e = cli.json(
        "challenge",
        "apply",
        SLUG,
        "repechage-1",
        "team-e",
        "--as",
        "m-team-e",
        "--statement",
        "Retrained.",
        "--now",
        _seoul("2026-01-28"),
    )
    assert (applied_f["as"], applied_e["as"], applied_e["eliminated_in"]) == ("new", "eliminated", "stage-1")
    for team in ["team-e", "team-f"]:
        for reviewer in REVIEWERS[:3]:
            cli.run(
                "challenge",
                "assign-reviewer",
                SLUG,
                "repechage-1",
                team,
                reviewer,
                "--as",
                "op",
                "--now",
                _seoul("2026-02-11"),
            )
            points = round(10 * QUALITY[team], 1)
            cli.run(
                "challenge",
                "review",
                SLUG,
                "repechage-1",
                team,
                "--as",
                reviewer,
                "--score",
                f"plan={points}",
                "--score",
                f"team={points}",
                "--score",
                f"independence={points}",
                "--now",
                _seoul("2026-02-11"),
            )
    repechage = cli.json("challenge", "decide", SLUG, "repechage-1", "--as", "op", "--now", _seoul("2026-02-12"))
    assert repechage["advance"] == ["team-f"]
    assert {row["team"]: row["eliminated_by"] for row in repechage["teams"]}["team-e"] is not None
    cli.run("challenge", "finalize", "--now", _seoul("2026-02-23"))

    # Stage 2: the three that advanced and the repechage's team: four compete, three go on.
    _push(live_server, tokens_for(cli, "m-team-f"), "org-team-f/team-f-lm", _team_model("team-f", 9))
    cli.run("worker", "--once")
    cli.run("provenance", "scan", "org-team-f/team-f-lm")
    stage_2 = ["team-a", "team-c", "team-d", "team-f"]
    models_2 = {
        team: cli.json(
            "challenge",
            "submit",
            SLUG,
            "stage-2",
            team,
            "--as",
            f"m-{team}",
            "--repo",
            f"org-{team}/{team}-lm",
            "--now",
            _seoul("2026-07-20"),
        )["model"]
        for team in stage_2
    }
    _feed_stage(cli, "stage-2", stage_2, models_2, _seoul("2026-08-01"), tmp_path)
    cli.json("challenge", "check-gates", SLUG, "--stage", "stage-2", "--as", "op", "--now", _seoul("2026-08-01"))
    decision_2 = cli.json("challenge", "decide", SLUG, "stage-2", "--as", "op", "--now", _seoul("2026-08-03"))
    entries = {row["team"]: row["entry"] for row in decision_2["teams"]}
    assert sorted(entries) == stage_2
    assert entries["team-f"] == {"via": "repechage", "stage": "repechage-1"}
    assert entries["team-a"]["via"] == "advanced"
    assert len(decision_2["advance"]) == 3 and "team-f" in decision_2["advance"]
    assert decision_2["eliminated"] == ["team-d"]

    # The report a team reads: in Korean, times in Seoul, the copier's points rank beside its outcome.
    page_url = f"{live_server.url}/challenges/{SLUG}/stages/stage-1/report"
    page = httpx.get(page_url, headers={"Accept": "text/html"}).text
    assert "1차 평가" in page and "Stage 1 evaluation" not in page
    assert "2026-01-25 09:00 KST" in page  # the appeal deadline, in the challenge's zone
    table = list(
        csv.DictReader(
            io.StringIO(
                httpx.get(
                    f"{live_server.url}/api/challenges/{SLUG}/stages/stage-1/report", params={"format": "csv"}
                ).content.decode("utf-8-sig")
            )
        )
    )
    copier = next(row for row in table if row["team"] == COPIER)
    assert (copier["points_rank"], copier["eliminated_by"]) == ("2", "gate:independence")
    assert [row["team"] for row in table] == teams  # ordered by points, the copier above those it outscored

    # Everything recomputes from the exported bundle, without the database.
    bundle = tmp_path / "ledger.jsonl"
    cli.run("challenge", "export", SLUG, "-o", str(bundle))
    verified = json.loads(runner.invoke(app, ["challenge", "verify", "--bundle", str(bundle), "--json"]).stdout)
    assert verified["decisions_checked"] == 3 and verified["ok"] is True, verified


def tokens_for(cli: Cli, user: str) -> str:
    return str(cli.run("user", "token", "create", user).stdout.strip())
