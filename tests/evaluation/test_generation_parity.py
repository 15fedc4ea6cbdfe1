"""Ko-GSM8K generation against lm-evaluation-harness 0.4.13.

The harness has no Korean GSM8K; ``baton.evaluation.parity`` writes one from the harness's own
``gsm8k`` task (its target, its ``exact_match`` metric with its ``regexes_to_ignore``, its
``strict-match`` and ``flexible-extract`` regex filters) with Baton's Korean prompt, stop strings,
budget and 5-shot sampling from the train split. Baton reads "#### N" where present, else the last
number: the harness's strict-match where it found "#### N", else its flexible-extract.

- ``test_answer_reading_agrees_with_the_harness`` (fast, no model): Baton's extraction and number
  comparison against the harness's filters and metric code on written generations, including the
  cases where they differ by design (Baton compares numbers, the harness strings).
- ``test_ko_gsm8k_generations_equal_the_harness`` (integration): a tiny model trained briefly on
  same-shaped items, whose generations vary (some right, some wrong, different numbers), gives the
  same prompt, the same generated text, the same extracted answer and the same exact match per item
  in both tools, with a BOS-adding tokenizer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from backend_fixtures import train_tiny_gpt2

from baton.evaluation import metrics, parity
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task


def _harness_gsm8k() -> dict[str, Any]:
    root = Path(pytest.importorskip("lm_eval").__file__).parent
    document: dict[str, Any] = yaml.safe_load((root / "tasks/gsm8k/gsm8k.yaml").read_text(encoding="utf-8"))
    return document


def harness_reading(text: str, reference: str) -> tuple[str | None, bool]:
    """The harness's answer for Baton's rule (strict-match, else flexible-extract) and its exact match."""
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    config = _harness_gsm8k()
    filters = {entry["name"]: entry["filter"][0] for entry in config["filter_list"]}
    extracted = {}
    for name in (parity.STRICT_FILTER, parity.FLEXIBLE_FILTER):
        spec = {key: value for key, value in filters[name].items() if key != "function"}
        (answers,) = RegexFilter(**spec).apply([[text]], [{}])
        extracted[name] = answers[0]
    chosen = extracted[parity.STRICT_FILTER]
    if chosen == "[invalid]":
        chosen = extracted[parity.FLEXIBLE_FILTER]
    (metric,) = config["metric_list"]
    options = {key: metric[key] for key in ("regexes_to_ignore", "ignore_case", "ignore_punctuation")}
    score = exact_match_hf_evaluate([chosen], [reference], **options)["exact_match"]
    return (None if chosen == "[invalid]" else chosen), bool(score)


AGREED = [
    ("3 더하기 4는 7.\n#### 7", "#### 7"),
    ("#### 7 그리고 8", "#### 7"),  # "#### N" wins over a later number
    ("답은 12", "#### 12"),
    ("답은 12.", "#### 12"),  # one trailing period
    ("$1,200을 냈다", "#### 1,200"),  # dollars and thousands separators
    ("#### -5", "#### -5"),
    ("#### 7", "#### 12"),
    ("숫자가 없다", "#### 7"),
    ("#### 모름 그러나 12", "#### 12"),  # "#### " without a number: the last number
    ("7 더하기 5는 12, 아니 13", "#### 12"),
    ("1.5배", "#### 1.5"),
]
# Where the two differ by design: Baton compares the numbers, the harness compares the strings left
# after removing ",", "$" and one final ".".
BATON_ONLY = [("#### 12.0", "#### 12"), ("#### 012", "#### 12"), ("답은 12..", "#### 12"), ("#### 1.50", "#### 1.5")]


@pytest.mark.parametrize(("text", "reference"), AGREED + BATON_ONLY)
def test_answer_reading_agrees_with_the_harness(text: str, reference: str) -> None:
    answer, harness_correct = harness_reading(text, reference)
    assert metrics.extract_number_answer(text) == answer  # the same answer read from the text
    target = reference.split("#### ")[-1].replace(",", "")  # Baton's target: answer_number
    baton_correct = metrics.exact_match(text, target, extraction="number")
    if (text, reference) in BATON_ONLY:
        assert baton_correct and not harness_correct
    else:
        assert baton_correct == harness_correct


@pytest.fixture(scope="module")
def gsm8k_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], Path]:
    folder = tmp_path_factory.mktemp("gsm8k")
    files = parity.write_gsm8k_sample(folder / "data", rows=10, seed=3)
    train = parity.write_gsm8k_sample(folder / "train", rows=30, seed=99)
    rows = [json.loads(line) for line in train["test"].read_text(encoding="utf-8").splitlines()]
    # Solved items alone (twice), and a few whole 5-shot prompts with their answers, so that the
    # model learns to answer and to stop with the "\n\n" before the next question.
    solved = [f"질문: {row['question']}\n답변: {row['answer']}\n\n" for row in rows] * 2
    items = load_task("ko_gsm8k", data=train).items()
    prompts = [item.prompt + " " + row["answer"] + "\n\n" for item, row in zip(items, rows, strict=True)][:4]
    model = train_tiny_gpt2(folder / "model", solved + prompts, steps=60, bos=True)
    return model, files, folder


@pytest.mark.integration
def test_ko_gsm8k_generations_equal_the_harness(
    gsm8k_setup: tuple[Path, dict[str, Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, files, folder = gsm8k_setup
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder / "datasets-cache"))
    yaml_text = parity.harness_task_yaml("ko_gsm8k", files, name="parity_ko_gsm8k")
    docs = parity.run_harness_generation(model, {"parity_ko_gsm8k": yaml_text}, folder / "tasks", batch_size=4)[
        "parity_ko_gsm8k"
    ]
    task = load_task("ko_gsm8k", data=files)
    backend = HuggingFaceBackend(str(model), batch_size=4)
    assert backend.add_bos_token is True  # a BOS-adding tokenizer, followed by both tools
    result = run(task, backend).to_json()
    items = task.items()
    assert len(docs) == len(items) == len(result["items"]) == 10
    for item, record, doc in zip(items, result["items"], docs, strict=True):
        assert item.prompt == doc.prompt  # 5 examples from train, the same ones, the same prompt
        assert record["text"] == doc.text, (record["item_id"], record["text"], doc.text)
        assert record["prediction"] == doc.answer
        assert record["correct"] == doc.correct, (record, doc)
    accuracy = sum(doc.correct for doc in docs) / len(docs)
    assert result["metrics"]["exact_match"]["value"] == pytest.approx(accuracy, abs=1e-12)
    # Generations that vary: different texts, numbers read from them, some right and some wrong.
    assert len({doc.text for doc in docs}) >= 2
    assert len({doc.answer for doc in docs if doc.answer is not None}) >= 2
    assert 0 < accuracy < 1
    compute = result["manifest"]["compute"]
    assert compute["generation_steps"] > 0 and compute["generated_tokens"] > 0
    assert os.environ["HF_HUB_OFFLINE"] == "1"
