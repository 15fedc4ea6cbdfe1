"""KoBEST as SKT published it (TSV files; COPA answers 1/2, BoolQ answers True/False) loads like the
Hugging Face edition (label 0/1): the same items, the same answers; a value outside them is named."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from baton.evaluation.tasks import TaskDataError, load_task


def write_tsv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_raw_copa_with_answers_1_and_2_equals_the_labelled_edition(tmp_path: Path) -> None:
    rows = [
        ["바닥이 젖었다.", "원인", "비가 왔다.", "해가 떴다."],
        ["배가 고팠다.", "결과", "잠을 잤다.", "밥을 먹었다."],
    ]
    raw = write_tsv(
        tmp_path / "SKT_COPA_Test.tsv",
        ["ID", "sentence", "question", "1", "2", "Answer"],
        [[index + 1, *row, answer] for index, (row, answer) in enumerate(zip(rows, [1, 2], strict=True))],
    )
    labelled = write_tsv(
        tmp_path / "copa.tsv",
        ["premise", "question", "alternative_1", "alternative_2", "label"],
        [[*row, label] for row, label in zip(rows, [0, 1], strict=True)],
    )
    from_raw = load_task("kobest_copa", data={"test": raw}).items()
    from_labelled = load_task("kobest_copa", data={"test": labelled}).items()
    assert [(i.prompt, i.choices, i.answer) for i in from_raw] == [
        (i.prompt, i.choices, i.answer) for i in from_labelled
    ]
    assert [item.answer for item in from_raw] == [0, 1]


def test_raw_copa_answer_outside_1_2_is_named(tmp_path: Path) -> None:
    raw = write_tsv(
        tmp_path / "copa.tsv", ["ID", "sentence", "question", "1", "2", "Answer"], [[1, "a.", "원인", "b.", "c.", 0]]
    )
    with pytest.raises(TaskDataError, match=r"copa.tsv line 2: field 'Answer' is '0'.*1 or 2"):
        load_task("kobest_copa", data={"test": raw}).items()


def test_raw_boolq_with_true_false_equals_the_labelled_edition(tmp_path: Path) -> None:
    rows = [["서울은 한국의 수도이다.", "서울이 수도인가?"], ["부산은 섬이다.", "부산이 섬인가?"]]
    raw = write_tsv(
        tmp_path / "SKT_BoolQ_Test.tsv",
        ["ID", "Text", "Question", "Answer"],
        [[index, *row, answer] for index, (row, answer) in enumerate(zip(rows, ["True", "False"], strict=True))],
    )
    labelled = write_tsv(
        tmp_path / "boolq.tsv",
        ["paragraph", "question", "label"],
        [[*row, label] for row, label in zip(rows, [1, 0], strict=True)],
    )
    from_raw = load_task("kobest_boolq", data={"test": raw}).items()
    from_labelled = load_task("kobest_boolq", data={"test": labelled}).items()
    assert [(i.prompt, i.choices, i.answer) for i in from_raw] == [
        (i.prompt, i.choices, i.answer) for i in from_labelled
    ]
    assert [item.answer for item in from_raw] == [1, 0]


def test_boolq_label_that_is_no_boolean_is_named(tmp_path: Path) -> None:
    raw = write_tsv(tmp_path / "boolq.tsv", ["Text", "Question", "Answer"], [["p", "q", "Maybe"]])
    with pytest.raises(TaskDataError, match=r"boolq.tsv line 2: field 'label' is 'Maybe'.*True/False"):
        load_task("kobest_boolq", data={"test": raw}).items()
