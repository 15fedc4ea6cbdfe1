"""Task data in the hub (``baton eval load-data``, built-in tasks reading their dataset repos) and the
contamination check against a team's training data in a dataset repo. Both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_runner import write_multiple_choice_task
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.cli.main import app
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.evaluation import parity
from baton.evaluation.contamination import item_text
from baton.evaluation.tasks import load_task
from baton.hub import commits, repos

cli = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CLI pointed at the test's database; an operator 'op' who admins the 'benchmarks' org."""
    for name in ("BATON_DATA_DIR", "BATON_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_DATABASE_URL", settings.resolved_database_url)
    with runtime.database.session(write=True) as session:
        operator = accounts.create_user(session, "op", is_admin=True)
        accounts.create_organization(session, "benchmarks", creator=operator)
        team = accounts.create_user(session, "team")
        accounts.issue_token(session, operator)
        del team
    return ["--data-dir", str(settings.data_dir)]


def commit_count(runtime: Runtime, repo_id: str) -> int:
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("dataset", repo_id))
        if repo is None:
            return 0
        return len(list(commits.list_commits(session, repo, commits.resolve_revision(session, repo, None))))


def test_load_data_then_run_a_builtin_task_from_the_hub(
    runtime: Runtime, cli_env: list[str], tmp_path: Path, live_server: Any
) -> None:
    files = parity.write_sample_data(tmp_path / "data", rows=6, seed=5)["kmmlu"]
    bad = tmp_path / "bad.csv"
    lines = files["test"].read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 2)[0] + ",9,수학"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused = cli.invoke(
        app, ["eval", "load-data", "--task", "kmmlu", "--file", f"test={bad}", "--user", "op", *cli_env]
    )
    assert refused.exit_code == 2 and "bad.csv line 3" in " ".join(refused.output.split())
    assert commit_count(runtime, "benchmarks/kmmlu") == 0  # nothing written

    arguments = ["eval", "load-data", "--task", "kmmlu", "--user", "op", *cli_env]
    loaded = cli.invoke(app, [*arguments, "--file", f"test={files['test']}", "--file", f"dev={files['dev']}"])
    assert loaded.exit_code == 0, loaded.output
    oid = loaded.stdout.strip().splitlines()[-1]

    output = tmp_path / "results.json"
    ran = cli.invoke(
        app,
        ["eval", "run", "--task", "kmmlu", "--model", "m", "--backend", "dummy", "--output", str(output), *cli_env],
    )
    assert ran.exit_code == 0, ran.output
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert len(payload["items"]) == 6
    assert payload["manifest"]["task"]["data"]["test"]["source"] == f"hub:benchmarks/kmmlu@{oid}/test.csv"
    local = load_task("kmmlu", data=files)
    assert [item["item_id"] for item in payload["items"]] == [item.item_id for item in local.items()]

    # The same file, read back through the running server with the Hugging Face client.
    from huggingface_hub import hf_hub_download

    downloaded = hf_hub_download(
        "benchmarks/kmmlu",
        "test.csv",
        repo_type="dataset",
        revision=oid,
        endpoint=live_server.url,
        cache_dir=tmp_path / "hf-cache",
    )
    assert Path(downloaded).read_bytes() == files["test"].read_bytes()


def test_contamination_flags_the_items_found_in_training_data(
    runtime: Runtime, cli_env: list[str], tmp_path: Path
) -> None:
    task_path = write_multiple_choice_task(tmp_path)
    items = load_task(task_path).items()
    leaked = [items[1], items[3]]
    documents = [{"text": "오늘의 이야기. " + item_text(item) + " 그리고 다른 이야기."} for item in leaked] + [
        {"text": " ".join(item_text(items[0]).split()[:3]) + " 전혀 다른 문장이 이어진다 정말로 그렇다"}
    ]
    documents += [{"text": f"관계없는 학습 문장 {index} 하늘 바다 나무"} for index in range(50)]
    training = "\n".join(json.dumps(document, ensure_ascii=False) for document in documents).encode()
    with runtime.database.session(write=True) as session:
        team = accounts.act_as(session, "team")
        repo, _ = repos.create_repo(session, team, repos.parse_repo_id("dataset", "team/corpus"), private=True)
        commits.initial_commit(session, runtime.store, team, repo)
        commits.commit_files(
            session, runtime.store, runtime.settings, team, repo, {"train/part-0.jsonl": training}, title="data"
        )
    output = tmp_path / "report.json"
    arguments = ["eval", "contamination", "--task", str(task_path), "--n", "4", "--output", str(output), *cli_env]
    checked = cli.invoke(app, [*arguments, "--dataset", "team/corpus@main"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["items_checked"] == len(items) and report["source"].startswith("hub:team/corpus@")
    assert [entry["item_id"] for entry in report["flagged"]] == ["1", "3"]
    assert all(entry["overlap"] == 1.0 and entry["matching_ngrams"] for entry in report["flagged"])

    local = tmp_path / "train.jsonl"
    local.write_bytes(training)
    again = cli.invoke(app, [*arguments, "--train-file", str(local)])
    assert again.exit_code == 0, again.output
    assert json.loads(output.read_text(encoding="utf-8"))["flagged"] == report["flagged"]

    # A private task's report names items only by opaque ids and shows no text.
    task_path.write_text(task_path.read_text(encoding="utf-8") + "private: true\n", encoding="utf-8")
    private = cli.invoke(app, [*arguments, "--dataset", "team/corpus"])
    assert private.exit_code == 0, private.output
    flagged = json.loads(output.read_text(encoding="utf-8"))["flagged"]
    assert len(flagged) == 2 and all(set(entry) == {"item_id", "overlap"} for entry in flagged)
    assert {entry["item_id"] for entry in flagged}.isdisjoint({"1", "3"})

    neither = cli.invoke(app, ["eval", "contamination", "--task", str(task_path), *cli_env])
    assert neither.exit_code == 2 and "--dataset" in neither.output
