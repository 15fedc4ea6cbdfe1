"""baton challenge ...: validate, decide, finalize, export, and verify with and without the database."""

from __future__ import annotations

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
    assert result.exit_code == 2 and "not acting as an operator" in result.output
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
