"""The runner and the result cache: records, metrics, manifest; a rerun or a resumed run recomputes nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from baton.evaluation.backends.dummy import DummyBackend
from baton.evaluation.cache import ResultCache, backend_identity
from baton.evaluation.runner import run
from baton.evaluation.tasks import Task, load_task
from baton.evaluation.types import Request, Response

QUESTIONS = [
    ("대한민국의 수도는?", "서울", "부산", "대구", "인천", 1, "지리"),
    ("1 더하기 1은?", "3", "2", "4", "5", 2, "수학"),
    ("하늘의 색은?", "빨강", "초록", "파랑", "검정", 3, "과학"),
    ("2 곱하기 3은?", "6", "5", "8", "9", 1, "수학"),
    ("물의 화학식은?", "CO2", "O2", "NaCl", "H2O", 4, "과학"),
    ("가장 큰 바다는?", "태평양", "대서양", "인도양", "북극해", 1, "지리"),
]


def write_multiple_choice_task(folder: Path, rows: int = len(QUESTIONS)) -> Path:
    """A KMMLU-style CSV (answer 1-4, Category) and a task YAML pointing at it."""
    with (folder / "test.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "A", "B", "C", "D", "answer", "Category"])
        writer.writerows(QUESTIONS[:rows])
    (folder / "task.yaml").write_text(
        "name: tiny_mc\nversion: 1\nformat: kmmlu\noutput_type: multiple_choice\n"
        "data:\n  test: test.csv\n"
        'prompt: "{question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\n정답："\n'
        "choices: [A, B, C, D]\ntarget: '{answer_index}'\nmetrics: [acc, acc_norm]\ngroup_by: Category\n",
        encoding="utf-8",
    )
    return folder / "task.yaml"


@pytest.fixture
def task(tmp_path: Path) -> Task:
    return load_task(write_multiple_choice_task(tmp_path))


class FailingAfter(DummyBackend):
    """A dummy backend that dies after answering ``budget`` requests (a killed worker, in effect)."""

    def __init__(self, budget: int) -> None:
        super().__init__("dummy")
        self.budget = budget

    def answer(self, requests: list[Request]) -> list[Response]:
        if self.calls + len(requests) > self.budget:
            raise RuntimeError("worker killed")
        return super().answer(requests)


def comparable(result: Any) -> dict[str, Any]:
    payload: dict[str, Any] = result.to_json()
    return {"metrics": payload["metrics"], "items": payload["items"]}


def test_run_records_items_metrics_and_manifest(task: Task) -> None:
    backend = DummyBackend("m")
    result = run(task, backend, seed=7)
    assert backend.calls == 4 * len(QUESTIONS) == result.requests_computed
    assert set(result.metrics) == {"acc", "acc_norm"}
    acc = result.metrics["acc"]
    assert acc["count"] == len(QUESTIONS) and set(acc["groups"]) == {"지리", "수학", "과학"}
    first = result.items[0]
    assert len(first["loglikelihoods"]) == 4 and len(first["prompt_hash"]) == 64
    assert first["correct"] == (first["prediction"] == first["answer"])
    correct = sum(item["correct"] for item in result.items)
    assert acc["value"] == pytest.approx(correct / len(QUESTIONS))
    manifest = result.manifest
    assert manifest["task"]["name"] == "tiny_mc" and manifest["task"]["version"] == "1"
    assert manifest["task"]["data_sha256"] and manifest["seed"] == 7
    assert manifest["backend"]["backend"] == "dummy" and manifest["packages"]["numpy"]
    assert run(task, DummyBackend("m"), seed=7).metrics == result.metrics  # same seed, same interval


def test_limit_takes_the_first_items(task: Task) -> None:
    result = run(task, DummyBackend(), limit=2)
    assert [item["item_id"] for item in result.items] == ["0", "1"]


def test_second_run_recomputes_nothing(task: Task, tmp_path: Path) -> None:
    with ResultCache(tmp_path / "cache.sqlite") as cache:
        first_backend, second_backend = DummyBackend("m"), DummyBackend("m")
        first = run(task, first_backend, cache=cache)
        second = run(task, second_backend, cache=cache)
        assert first_backend.calls == 24 and second_backend.calls == 0
        assert second.requests_computed == 0
        assert comparable(first) == comparable(second)
        # Another model is another identity: nothing is reused.
        other = DummyBackend("other")
        run(task, other, cache=cache)
        assert other.calls == 24
        assert cache.count(backend_identity(first_backend)) == 24


def test_killed_run_resumes_from_cache_without_recounting(task: Task, tmp_path: Path) -> None:
    reference = run(task, DummyBackend("dummy"))
    with ResultCache(tmp_path / "cache.sqlite") as cache:
        dying = FailingAfter(budget=10)
        with pytest.raises(RuntimeError, match="killed"):
            run(task, dying, cache=cache, batch_size=4)
        assert cache.count() == 8  # two whole batches stored, nothing of the third
        resumed_backend = DummyBackend("dummy")
        resumed = run(task, resumed_backend, cache=cache, batch_size=4)
        assert resumed_backend.calls == 24 - 8
        assert comparable(resumed) == comparable(reference)


def test_private_task_records_only_correctness_under_opaque_ids(tmp_path: Path) -> None:
    path = write_multiple_choice_task(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "private: true\n", encoding="utf-8")
    result = run(load_task(path), DummyBackend(), item_id_key=b"k" * 32)
    assert all(set(item) == {"item_id", "correct"} for item in result.items)
    assert all(len(item["item_id"]) == 32 and item["item_id"] not in {"0", "1"} for item in result.items)
    again = run(load_task(path), DummyBackend(), item_id_key=b"k" * 32)
    assert [item["item_id"] for item in again.items] == [item["item_id"] for item in result.items]
