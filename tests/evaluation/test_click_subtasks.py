"""CLIcK's 11 subtasks: each item falls in the subtask the harness's own filters put it in, the
results carry the value per subtask, and the overall accuracy stays the mean over all items."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from baton.evaluation.backends.dummy import DummyBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import click_subtask, load_task

# Ids shaped like the published CLIcK's (one or more per subtask), and the question where it matters.
IDS = [
    ("CSAT_korean_22_3", "다음 글의 내용으로 적절한 것은?"),
    ("CSAT_korean_23_12", "윗글의 내용과 일치하는 것은?"),
    ("TK_7", "다음 글을 읽고 답하시오."),
    ("CSAT_korean_19_15", "다음 중 문법적으로 옳은 것은?"),
    ("Kedu_1_4", "다음 중 맞춤법이 옳은 것은?"),
    ("TK_2", "다음 중 표준어는?"),
    ("CSAT_korean_23_40", "윗글의 표현에 대한 설명으로 적절한 것은?"),
    ("CSAT_korean_20_5", "다음 중 어휘의 쓰임이 적절한 것은?"),
    ("Kedu_16_3", "다음 대화에서 적절한 발화는?"),
    ("PSE_korean_8", "다음 중 높임 표현이 옳은 것은?"),
    ("Kedu_16_9", "다음 중 옳은 것은?"),  # Kedu 16 without a dialogue: grammar
    ("KIIP_economy_11", "한국의 화폐 단위는?"),
    ("KIIP_geography_3", "한국의 수도는?"),
    ("KHB_21", "조선을 세운 사람은?"),
    ("Popular_culture_4", "다음 중 아이돌 그룹은?"),
    ("KIIP_law_2", "헌법재판소의 역할은?"),
    ("PSAT_law_5", "다음 규정에 따를 때 옳은 것은?"),
    ("KIIP_politics_6", "국회의원의 임기는?"),
    ("KIIP_society_9", "다음 중 사회 제도는?"),
    ("KIIP_tradition_1", "설날에 먹는 음식은?"),
]
SUBTASKS = {
    "click_lang": ("text", "grammar", "function"),
    "click_cul": ("economy", "geography", "history", "kpop", "law", "politics", "society", "tradition"),
}


def harness_memberships(item_id: str, question: str) -> set[str]:
    datasets = pytest.importorskip("datasets")
    found = set()
    for group, names in SUBTASKS.items():
        utils = importlib.import_module(f"lm_eval.tasks.click.{group}.utils")
        for name in names:
            rows = datasets.Dataset.from_list([{"id": item_id, "question": question}])
            if len(getattr(utils, f"extract_{name}")(rows)) == 1:
                found.add(f"{group}_{name}")
    return found


def test_each_item_is_in_the_subtask_the_harness_puts_it_in() -> None:
    pytest.importorskip("lm_eval")
    seen = set()
    for item_id, question in IDS:
        ours = click_subtask(item_id, question)
        assert harness_memberships(item_id, question) == {ours}, item_id
        seen.add(ours)
    assert len(seen) == 11  # every subtask is exercised
    # The one overlap of the reference's rules (text and function) is counted once, as text.
    assert harness_memberships("CSAT_korean_22_40", "q") == {"click_lang_text", "click_lang_function"}
    assert click_subtask("CSAT_korean_22_40", "q") == "click_lang_text"
    assert click_subtask("Something_else_1", "q") == "unassigned"


def test_results_give_each_subtask_and_the_overall_accuracy(tmp_path: Path) -> None:
    records = [
        {
            "id": item_id,
            "paragraph": "",
            "question": question,
            "choices": ["가", "나", "다", "라", "마"],
            "answer": "가",
        }
        for item_id, question in IDS
    ]
    path = tmp_path / "click.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = run(load_task("click", data={"test": path}), DummyBackend("dummy", seed=5)).to_json()
    acc = result["metrics"]["acc"]
    assert set(acc["groups"]) == {click_subtask(item_id, question) for item_id, question in IDS}
    assert sum(acc["group_counts"].values()) == len(IDS)
    correct = [bool(item["correct"]) for item in result["items"]]
    assert acc["value"] == pytest.approx(sum(correct) / len(correct))
    assert {item["group"] for item in result["items"]} == set(acc["groups"])
