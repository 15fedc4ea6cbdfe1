"""``baton eval run`` and ``baton eval tasks`` end to end, in-process through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backend_fixtures import make_tiny_gpt2
from test_runner import QUESTIONS, write_multiple_choice_task
from typer.testing import CliRunner

from baton.cli.main import app
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.types import Request

runner = CliRunner()


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_eval_tasks_lists_the_builtin_tasks() -> None:
    result = runner.invoke(app, ["eval", "tasks", "--json"])
    assert result.exit_code == 0, result.output
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"kmmlu", "kobest_boolq", "click", "ko_gsm8k"} <= names


def test_eval_run_with_the_dummy_backend(tmp_path: Path) -> None:
    task = write_multiple_choice_task(tmp_path)
    output = tmp_path / "out" / "results.json"
    arguments = ["eval", "run", "--model", "dummy-model", "--task", str(task), "--backend", "dummy"]
    arguments += ["--limit", "4", "--output", str(output), "--data-dir", str(tmp_path / "data")]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert set(payload["metrics"]) == {"acc", "acc_norm"}
    assert len(payload["items"]) == 4 and payload["requests"] == {"total": 16, "computed": 16}
    assert payload["manifest"]["task"]["limit"] == 4
    again = runner.invoke(app, arguments)
    assert again.exit_code == 0, again.output
    rerun = json.loads(output.read_text(encoding="utf-8"))
    assert rerun["requests"]["computed"] == 0
    assert (rerun["metrics"], rerun["items"]) == (payload["metrics"], payload["items"])


def test_eval_run_refuses_bad_input_clearly(tmp_path: Path) -> None:
    task = write_multiple_choice_task(tmp_path)
    data_dir = ["--data-dir", str(tmp_path / "data")]
    unknown = runner.invoke(app, ["eval", "run", "--model", "m", "--task", str(task), "--backend", "dumy", *data_dir])
    assert unknown.exit_code == 2 and "Did you mean 'dummy'" in flat(unknown.output)
    empty = tmp_path / "empty-model"
    empty.mkdir()
    missing = runner.invoke(app, ["eval", "run", "--model", str(empty), "--task", str(task), *data_dir])
    assert (
        missing.exit_code == 2
        and "ModelWeightsMissing" in missing.output
        and str(empty) in "".join(missing.output.split())
    )
    output = tmp_path / "never.json"
    no_task = runner.invoke(app, ["eval", "run", "--model", "m", "--task", "kmmlu_typo", "--backend", "dummy"])
    assert no_task.exit_code == 2 and not output.exists()


def test_eval_run_with_hf_on_a_tiny_model(tmp_path: Path) -> None:
    model = make_tiny_gpt2(tmp_path / "gpt2")
    task = write_multiple_choice_task(tmp_path)
    output = tmp_path / "results.json"
    arguments = ["eval", "run", "--model", str(model), "--task", str(task), "--backend", "hf", "--batch-size", "4"]
    result = runner.invoke(app, [*arguments, "--output", str(output), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert len(payload["items"]) == len(QUESTIONS)
    manifest = payload["manifest"]
    assert manifest["model"]["weight_hash"] and manifest["backend"]["dtype"] == "float32"
    # The recorded per-choice log-likelihoods are the backend's own numbers.
    first = payload["items"][0]
    prompt = "대한민국의 수도는?\nA. 서울\nB. 부산\nC. 대구\nD. 인천\n정답："
    direct = HuggingFaceBackend(str(model)).answer([Request("loglikelihood", prompt, f" {c}") for c in "ABCD"])
    assert first["loglikelihoods"] == pytest.approx([r.loglikelihood for r in direct], abs=1e-5)
    assert 0.0 <= payload["metrics"]["acc"]["value"] <= 1.0
