"""The start token: the ``hf`` backend follows the tokenizer's own default (a Llama-style tokenizer
starts every encoding with ``<s>``), records the choice in the manifest, and takes an explicit
override from the backend options (``--add-bos-token/--no-add-bos-token``) or the task YAML.

The integration tests check the harness's ``hf`` model agrees with that default on a BOS-adding
tokenizer, on KMMLU-, KoBEST-COPA-, CLIcK- and HAE-RAE-shaped data and KMMLU 5-shot (per-choice
log-likelihoods within 1e-6 relative, the same predictions), that leaving the BOS out would not
(so the comparison can fail), and that Baton's float32 log-likelihoods are within 1e-6 relative
of a float64 recomputation of the same model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from backend_fixtures import make_tiny_gpt2, train_tiny_gpt2
from torch.nn import functional

from baton.core.errors import BadRequestError
from baton.evaluation import parity
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import builtin_tasks, load_task
from baton.evaluation.types import Item, Request

TASKS = ("kmmlu", "kobest_copa", "click")
RELATIVE = 1e-6


@pytest.fixture(scope="module")
def bos_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Path]], Path]:
    folder = tmp_path_factory.mktemp("bos")
    files = parity.write_sample_data(folder / "data", rows=10, seed=3)
    train = parity.write_sample_data(folder / "train", rows=20, seed=99)
    solved = [
        item.prompt + item.choices[int(item.answer or 0)]
        for task in TASKS
        for item in load_task(task, data=train[task]).items()
    ]
    model = train_tiny_gpt2(folder / "model", solved, steps=20, position_scale=30.0, bos=True)
    return model, files, folder


def test_the_tokenizer_s_default_is_followed_and_recorded(
    bos_setup: tuple[Path, dict[str, dict[str, Path]], Path],
) -> None:
    model, files, _ = bos_setup
    backend = HuggingFaceBackend(str(model), batch_size=4)
    bos = backend.tokenizer.convert_tokens_to_ids("<s>")
    assert backend.add_bos_token is True
    assert backend.encode("서울 바다")[0] == bos
    assert backend.encode("<s>서울").count(bos) == 1  # a text already starting with <s> gets no second one
    context, continuation = backend.encode_pair("서울은", " 바다")
    assert context[0] == bos and bos not in continuation
    result = run(load_task("kobest_copa", data=files["kobest_copa"]), backend, limit=3).to_json()
    assert result["manifest"]["backend"]["add_bos_token"] is True
    assert result["manifest"]["backend"]["add_bos_token_source"] == "tokenizer"
    compute = result["manifest"]["compute"]
    assert compute["token_positions"] > 0 and compute["rows"] > 0


def test_explicit_option_overrides_the_tokenizer_and_the_task(
    bos_setup: tuple[Path, dict[str, dict[str, Path]], Path], tmp_path: Path
) -> None:
    model, files, _ = bos_setup
    without = HuggingFaceBackend(str(model), batch_size=4, add_bos_token=False)
    assert without.encode("서울")[0] != without.tokenizer.convert_tokens_to_ids("<s>")
    assert without.describe()["add_bos_token_source"] == "backend option"
    request = Request("loglikelihood", "서울 바다 하늘", " 나무")
    with_bos = HuggingFaceBackend(str(model), batch_size=4)
    assert with_bos.answer([request])[0].loglikelihood != without.answer([request])[0].loglikelihood

    path = tmp_path / "copa_no_bos.yaml"
    path.write_text(builtin_tasks()["kobest_copa"].read_text(encoding="utf-8") + "add_bos_token: false\n")
    task = load_task(str(path), data=files["kobest_copa"])
    default = HuggingFaceBackend(str(model), batch_size=4)
    manifest = run(task, default, limit=2).manifest
    assert (manifest["backend"]["add_bos_token"], manifest["backend"]["add_bos_token_source"]) == (False, "task")
    explicit = HuggingFaceBackend(str(model), batch_size=4, add_bos_token=True)
    manifest = run(task, explicit, limit=2).manifest
    assert (manifest["backend"]["add_bos_token"], manifest["backend"]["add_bos_token_source"]) == (
        True,
        "backend option",
    )


def test_gpt2_style_tokenizer_keeps_no_bos(tmp_path: Path) -> None:
    model = make_tiny_gpt2(tmp_path / "gpt2")
    backend = HuggingFaceBackend(str(model))
    assert backend.add_bos_token is False and backend.add_bos_token_source == "tokenizer"
    assert backend.encode("The capital") == backend.tokenizer("The capital", add_special_tokens=False)["input_ids"]
    forced = HuggingFaceBackend(str(model), add_bos_token=True)
    assert forced.encode("The capital")[0] == forced.tokenizer.bos_token_id


def test_true_without_a_bos_token_says_what_to_do(tmp_path: Path) -> None:
    model = make_tiny_gpt2(tmp_path / "gpt2")
    backend = HuggingFaceBackend(str(model))
    backend.tokenizer.bos_token = None
    with pytest.raises(BadRequestError, match="has no BOS token") as raised:
        backend.set_add_bos_token(True, source="backend option")
    assert "follow the tokenizer" in (raised.value.hint or "")


def float64_loglikelihoods(model_path: Path, backend: HuggingFaceBackend, items: list[Item]) -> list[list[float]]:
    """Each choice recomputed on its own, unpadded, in float64 (the reference for float32 error)."""
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float64).eval()
    rows: list[list[float]] = []
    for item in items:
        values = []
        for choice in item.choices:
            context, continuation = backend.encode_pair(item.prompt, choice)
            tokens = torch.tensor([context + continuation[:-1]])
            with torch.no_grad():
                logprobs = functional.log_softmax(model(input_ids=tokens).logits[0].double(), dim=-1)
            start = len(context) - 1
            values.append(float(sum(logprobs[start + k, t] for k, t in enumerate(continuation))))
        rows.append(values)
    return rows


@pytest.mark.integration
def test_the_harness_agrees_on_a_bos_adding_tokenizer(
    bos_setup: tuple[Path, dict[str, dict[str, Path]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, files, folder = bos_setup
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder / "datasets-cache"))
    yamls = {f"bos_{task}": parity.harness_task_yaml(task, files[task], name=f"bos_{task}") for task in TASKS}
    harness = parity.run_harness(model, yamls, folder / "harness-tasks", batch_size=4)
    backend = HuggingFaceBackend(str(model), batch_size=4)
    no_bos = HuggingFaceBackend(str(model), batch_size=4, add_bos_token=False)
    for task in TASKS:
        loaded = load_task(task, data=files[task])
        ours = run(loaded, backend).to_json()
        docs = harness[f"bos_{task}"]
        comparison = parity.compare(ours["items"], docs)
        assert comparison.max_relative_difference <= RELATIVE, (task, comparison)
        assert comparison.prediction_mismatches == [], (task, comparison)
        assert comparison.distinct_predictions >= 2, (task, comparison)
        # Without the BOS the numbers are another model's: the comparison above could fail.
        wrong = parity.compare(run(loaded, no_bos).to_json()["items"], docs)
        assert wrong.max_relative_difference > 1e-3, task
        # float32 against a float64 recomputation of the same model, relative.
        reference = float64_loglikelihoods(model, backend, loaded.items())
        for record, expected in zip(ours["items"], reference, strict=True):
            for value, exact in zip(record["loglikelihoods"], expected, strict=True):
                assert abs(value - exact) <= RELATIVE * abs(exact), (task, record["item_id"], value, exact)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.parametrize(
    ("flag", "expected"), [(None, (True, "tokenizer")), ("--no-add-bos-token", (False, "backend option"))]
)
def test_eval_run_takes_the_choice_from_the_command_line(
    bos_setup: tuple[Path, dict[str, dict[str, Path]], Path], tmp_path: Path, flag: str | None, expected: tuple
) -> None:
    from typer.testing import CliRunner

    from baton.cli.main import app

    model, files, _ = bos_setup
    output = tmp_path / "results.json"
    arguments = ["eval", "run", "--model", str(model), "--task", "kobest_copa", "--limit", "2"]
    arguments += ["--data", f"test={files['kobest_copa']['test']}", "--output", str(output), "--no-cache"]
    arguments += [flag] if flag else []
    result = CliRunner().invoke(app, [*arguments, "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    backend = json.loads(output.read_text(encoding="utf-8"))["manifest"]["backend"]
    assert (backend["add_bos_token"], backend["add_bos_token_source"]) == expected


@pytest.mark.integration
def test_haerae_equals_the_harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """HAE-RAE (the options inside the query, continuations "(A)".."(E)") on its own briefly trained
    model with a BOS-adding tokenizer (one fitted to the other tasks answers one letter here)."""
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    train = parity.write_sample_data(tmp_path / "train", rows=20, seed=99)
    train["haerae"] = {"test": parity.write_haerae_sample(tmp_path / "train_haerae.jsonl", rows=20, seed=98)}
    solved = [
        item.prompt + item.choices[int(item.answer) if isinstance(item.answer, int) else 0]
        for task in (*TASKS, "haerae")
        for item in load_task(task, data=train[task]).items()
    ]
    model = train_tiny_gpt2(tmp_path / "model", solved, steps=20, position_scale=30.0, bos=True)
    files = {"test": parity.write_haerae_sample(tmp_path / "haerae.jsonl", rows=10, seed=4)}
    harness = parity.run_harness(
        model, {"bos_haerae": parity.harness_task_yaml("haerae", files, name="bos_haerae")}, tmp_path / "tasks"
    )
    ours = run(load_task("haerae", data=files), HuggingFaceBackend(str(model), batch_size=4)).to_json()
    comparison = parity.compare(ours["items"], harness["bos_haerae"])
    assert comparison.max_relative_difference <= RELATIVE, comparison
    assert comparison.prediction_mismatches == [], comparison
    assert comparison.baton_acc == pytest.approx(comparison.harness_acc, abs=1e-12)
    assert comparison.distinct_predictions >= 2, comparison


@pytest.mark.integration
def test_kmmlu_five_shot_equals_the_harness(
    bos_setup: tuple[Path, dict[str, dict[str, Path]], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """5-shot prompts: the harness's per-subject KMMLU task (its random sampler, seed 1234, over the
    subject's 5 dev rows) against Baton's ``kmmlu_5shot`` on one subject's files."""
    import csv

    model, _, _ = bos_setup
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    files = parity.write_sample_data(tmp_path / "data", rows=8, seed=5)["kmmlu"]
    for path in files.values():  # one subject, as each of the harness's per-subject tasks reads it
        rows = list(csv.reader(path.open(encoding="utf-8")))
        for row in rows[1:]:
            row[-1] = "수학"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    document = json.loads(parity.harness_task_yaml("kmmlu", files, name="bos_kmmlu_5shot")) | {"num_fewshot": 5}
    harness = parity.run_harness(model, {"bos_kmmlu_5shot": json.dumps(document)}, tmp_path / "tasks", batch_size=4)
    task = load_task("kmmlu_5shot", data=files)
    assert all(item.prompt.count("정답：") == 6 for item in task.items())  # 5 examples, then the question
    ours = run(task, HuggingFaceBackend(str(model), batch_size=4)).to_json()
    comparison = parity.compare(ours["items"], harness["bos_kmmlu_5shot"])
    assert comparison.max_relative_difference <= RELATIVE, comparison
    assert comparison.prediction_mismatches == [], comparison
    assert comparison.distinct_predictions >= 2, comparison
