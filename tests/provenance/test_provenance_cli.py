"""The CLI contract: `baton provenance compare A B --json` and `baton provenance scan REPO`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.numpy import load, save
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.cli.main import app
from baton.core.settings import Settings
from baton.demo.seed import tiny_gpt2_files
from baton.domains import open_runtime
from baton.hub import commits, repos
from baton.provenance import synthetic


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def test_compare_prints_the_contract_json_and_exits_zero(tmp_path: Path) -> None:
    base = tiny_gpt2_files(seed=21)
    state = {name: value.astype("float32") for name, value in load(base["model.safetensors"]).items()}
    derived = base | {"model.safetensors": save(synthetic.permute_hidden_units(state, seed=3))}
    first = write_folder(tmp_path / "a", derived)
    second = write_folder(tmp_path / "b", base)
    third = write_folder(tmp_path / "c", tiny_gpt2_files(seed=22))
    runner = CliRunner()

    result = runner.invoke(
        app, ["provenance", "compare", str(first), str(second), "--json", "--html", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert report["verdict"] in ("derived", "copied")
    assert isinstance(report["p_value"], float) and report["p_value"] < 0.01
    assert {"relation", "components"} <= set(report)
    assert all({"name", "status", "source"} <= set(component) for component in report["components"])
    assert "출처 분석 보고서" in (tmp_path / "r.html").read_text(encoding="utf-8")

    result = runner.invoke(app, ["provenance", "compare", str(first), str(third), "--json"])
    assert result.exit_code == 0, result.output  # exit 0 whatever the verdict
    assert json.loads(result.stdout)["verdict"] == "independent"

    missing = runner.invoke(
        app, ["provenance", "compare", str(tmp_path / "nope"), str(second), "--data-dir", str(tmp_path / "d")]
    )
    assert missing.exit_code != 0 and "No folder or file at" in missing.output


def test_scan_compares_a_hub_repo_against_the_hub(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url), run_migrations=False)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.actor_for(accounts.create_user(session, "minji"))
            for name, seed in (("original", 31), ("unrelated", 32)):
                repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", f"minji/{name}"), private=False)
                commits.initial_commit(session, runtime.store, user, repo)
                commits.commit_files(
                    session, runtime.store, runtime.settings, user, repo, tiny_gpt2_files(seed=seed), title="w"
                )
    finally:
        runtime.close()
    env: dict[str, Any] = {"BATON_DATABASE_URL": database_url}
    runner = CliRunner()
    first = runner.invoke(
        app, ["provenance", "scan", "minji/unrelated", "--json", "--data-dir", str(data_dir)], env=env
    )
    assert first.exit_code == 0, first.output
    result = runner.invoke(
        app, ["provenance", "scan", "minji/original", "--json", "--data-dir", str(data_dir)], env=env
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert summary["repo"] == "minji/original" and summary["compared"] == 1 and summary["flags"] == []
