"""Parity with EleutherAI's lm-evaluation-harness (``lm_eval``, its ``hf`` model) on the same small
trained model and the same local files, for a KMMLU-, a KoBEST- and a CLIcK-style task: per-choice
log-likelihoods within 1e-4, the same predictions, the same accuracy (and KoBEST macro-F1).

The harness side includes the harness's own task definitions (``baton.evaluation.parity``), so the
prompts compared are the harness's, not a copy. lm_eval is in the dev extra: this test runs in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from backend_fixtures import train_tiny_gpt2

from baton.evaluation import parity
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task

TASKS = ("kmmlu", "kobest_copa", "click")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Path]], Path]:
    folder = tmp_path_factory.mktemp("parity")
    files = parity.write_sample_data(folder / "data", rows=10, seed=3)
    # Fitted briefly to other items of the same shape with their answers, its position embeddings
    # then amplified so that its choice depends on the item (a tiny model fitted for seconds
    # otherwise answers one fixed letter everywhere, and equal predictions would prove nothing).
    train = parity.write_sample_data(folder / "train", rows=20, seed=99)
    solved = [
        item.prompt + item.choices[int(item.answer or 0)]
        for task in TASKS
        for item in load_task(task, data=train[task]).items()
    ]
    model = train_tiny_gpt2(folder / "model", solved, steps=20, position_scale=30.0)
    return model, files, folder


@pytest.mark.integration
def test_baton_equals_the_harness(
    setup: tuple[Path, dict[str, dict[str, Path]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, files, folder = setup
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder / "datasets-cache"))
    harness_yamls = {f"baton_parity_{task}": parity.harness_task_yaml(task, files[task]) for task in TASKS}
    reported: dict[str, dict[str, float]] = {}
    harness = parity.run_harness(model, harness_yamls, folder / "harness-tasks", batch_size=4, metrics=reported)
    backend = HuggingFaceBackend(str(model), batch_size=4)
    for task in TASKS:
        ours = run(load_task(task, data=files[task]), backend).to_json()
        comparison = parity.compare(ours["items"], harness[f"baton_parity_{task}"])
        assert comparison.max_loglikelihood_difference <= parity.PARITY_TOLERANCE, (task, comparison)
        assert comparison.prediction_mismatches == [], (task, comparison)
        assert comparison.baton_acc == pytest.approx(comparison.harness_acc, abs=1e-9), task
        # The model's answers vary by item: a constant answer would make equal predictions trivial.
        assert comparison.distinct_predictions >= 2, (task, comparison)
        if "f1" in ours["metrics"]:  # KoBEST macro-F1: the harness computes it offline too, and it is equal
            assert ours["metrics"]["f1"]["value"] == pytest.approx(reported[f"baton_parity_{task}"]["f1"], abs=1e-12)
        if "acc_norm" in ours["metrics"]:
            docs = harness[f"baton_parity_{task}"]
            if all(doc.acc_norm is not None for doc in docs):
                harness_norm = sum(doc.acc_norm or 0.0 for doc in docs) / len(docs)
                assert ours["metrics"]["acc_norm"]["value"] == pytest.approx(harness_norm, abs=1e-9), task
    assert os.environ["HF_HUB_OFFLINE"] == "1"
