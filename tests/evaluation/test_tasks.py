"""Task loading: each format on generated Korean samples, prompts as lm-evaluation-harness builds them,
few-shot construction, NFC normalization, and every kind of bad input with its message."""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from baton.core.errors import BadRequestError, NotFoundError, NotSupportedError
from baton.evaluation import tasks
from baton.evaluation.tasks import TaskConfigError, TaskDataError, TaskNotFoundError, load_task
from baton.evaluation.types import Response

KMMLU_COLUMNS = ["question", "answer", "A", "B", "C", "D", "Category", "Human Accuracy"]


def write_csv(path: Path, header: list[str], rows: list[list[Any]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def kmmlu_rows(category: str, count: int, prefix: str) -> list[list[Any]]:
    return [
        [f" {prefix} 문제 {n}번은? ", (n % 4) + 1, f"가{n}", f"나{n}", f"다{n}", f"라{n}", category, 0.5]
        for n in range(count)
    ]


def kmmlu_prompt(question: str, n: int) -> str:
    return f"{question}\nA. 가{n}\nB. 나{n}\nC. 다{n}\nD. 라{n}\n정답："


# --- each format ---------------------------------------------------------------------------------


def test_kmmlu_zero_shot_prompt_choices_target_and_groups(tmp_path: Path) -> None:
    test = write_csv(
        tmp_path / "test.csv", KMMLU_COLUMNS, kmmlu_rows("Accounting", 3, "회계") + kmmlu_rows("Law", 2, "법")
    )
    task = load_task("kmmlu", data={"test": test})
    items = task.items()
    assert len(items) == 5
    first = items[0]
    # The harness: "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n정답：", choices A-D after " ".
    assert first.prompt == "회계 문제 0번은?\nA. 가0\nB. 나0\nC. 다0\nD. 라0\n정답："
    assert first.choices == (" A", " B", " C", " D")
    assert first.answer == 0  # answer 1 -> index 0
    assert items[2].answer == 2  # answer 3
    assert [item.group for item in items] == ["Accounting"] * 3 + ["Law"] * 2
    requests = task.requests(first)
    assert [(r.kind, r.context, r.continuation) for r in requests] == [
        ("loglikelihood", first.prompt, choice) for choice in (" A", " B", " C", " D")
    ]
    assert task.describe()["data_sha256"] == task.data_hash
    assert task.data_hashes["test"]


def test_kmmlu_five_shot_draws_from_the_same_subject_as_the_harness(tmp_path: Path) -> None:
    test = write_csv(
        tmp_path / "test.csv", KMMLU_COLUMNS, kmmlu_rows("Accounting", 3, "회계") + kmmlu_rows("Law", 1, "법")
    )
    dev = write_csv(
        tmp_path / "dev.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 5, "법dev") + kmmlu_rows("Accounting", 5, "회계dev")
    )
    task = load_task("kmmlu_5shot", data={"test": test, "dev": dev})
    items = task.items()

    # The harness gives every subject its own random.Random(1234) and draws sample(dev, 5) per item in order.
    generators = {"Accounting": random.Random(1234), "Law": random.Random(1234)}
    letters = "ABCD"
    for item, category, prefix, n in [
        (items[0], "Accounting", "회계", 0),
        (items[1], "Accounting", "회계", 1),
        (items[2], "Accounting", "회계", 2),
        (items[3], "Law", "법", 0),
    ]:
        order = generators[category].sample(range(5), 5)
        dev_prefix = f"{prefix}dev"
        examples = "".join(
            kmmlu_prompt(f"{dev_prefix} 문제 {k}번은?", k) + " " + letters[k % 4] + "\n\n" for k in order
        )
        assert item.prompt == examples + kmmlu_prompt(f"{prefix} 문제 {n}번은?", n)
        assert len(item.metadata["fewshot"]) == 5

    # Deterministic: the same items with a limit, and on a second load.
    assert task.items(limit=2) == items[:2]
    assert load_task("kmmlu_5shot", data={"test": test, "dev": dev}).items() == items


def test_first_n_sampler_takes_the_first_rows(tmp_path: Path) -> None:
    test = write_csv(tmp_path / "test.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 1, "법"))
    dev = write_csv(tmp_path / "dev.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 5, "법dev"))
    config = tasks.builtin_tasks()["kmmlu_5shot"].read_text(encoding="utf-8")
    config = config.replace("num_fewshot: 5", "num_fewshot: 2\nfewshot_sampler: first_n")
    config = config.replace("name: kmmlu_5shot", "name: kmmlu_first")
    path = tmp_path / "kmmlu_first.yaml"
    path.write_text(config, encoding="utf-8")
    item = load_task(path, data={"test": test, "dev": dev}).items()[0]
    assert item.prompt.startswith(
        kmmlu_prompt("법dev 문제 0번은?", 0) + " A\n\n" + kmmlu_prompt("법dev 문제 1번은?", 1)
    )


def test_kobest_boolq_from_tsv(tmp_path: Path) -> None:
    test = write_csv(
        tmp_path / "test.tsv",
        ["paragraph", "question", "label"],
        [["서울은 한국의 수도이다.", "서울이 수도인가?", 1], ["부산은 섬이다.", "부산이 섬인가?", 0]],
        delimiter="\t",
    )
    task = load_task("kobest_boolq", data={"test": test})
    item = task.items()[0]
    assert item.prompt == "서울은 한국의 수도이다. 질문: 서울이 수도인가? 답변: "
    assert item.choices == (" 아니오", " 예")
    assert item.answer == 1
    assert task.items()[1].answer == 0


def test_kobest_copa_hellaswag_sentineg_wic_from_jsonl(tmp_path: Path) -> None:
    copa = write_jsonl(
        tmp_path / "copa.jsonl",
        [
            {
                "premise": "바닥이 젖었다.",
                "question": "원인",
                "alternative_1": "비가 왔다.",
                "alternative_2": "해가 떴다.",
                "label": 0,
            },
            {
                "premise": "배가 고팠다.",
                "question": "결과",
                "alternative_1": "잠을 잤다.",
                "alternative_2": "밥을 먹었다.",
                "label": 1,
            },
        ],
    )
    copa_items = load_task("kobest_copa", data={"test": copa}).items()
    # The harness: f"{premise} {connector}" with connector " 왜냐하면" / " 그래서" (two spaces).
    assert copa_items[0].prompt == "바닥이 젖었다.  왜냐하면"
    assert copa_items[1].prompt == "배가 고팠다.  그래서"
    assert copa_items[0].choices == (" 비가 왔다.", " 해가 떴다.")
    assert [item.answer for item in copa_items] == [0, 1]

    hellaswag = write_jsonl(
        tmp_path / "hellaswag.jsonl",
        [
            {
                "context": "그는 문을 열고",
                "ending_1": "들어갔다.",
                "ending_2": "날았다.",
                "ending_3": "녹았다.",
                "ending_4": "울었다.",
                "label": 0,
            }
        ],
    )
    item = load_task("kobest_hellaswag", data={"test": hellaswag}).items()[0]
    assert item.prompt == "문장: 그는 문을 열고"
    assert item.choices == (" 들어갔다.", " 날았다.", " 녹았다.", " 울었다.")
    assert item.answer == 0

    sentineg = write_jsonl(tmp_path / "sentineg.jsonl", [{"sentence": "재미없지 않았다", "label": 1}])
    item = load_task("kobest_sentineg", data={"test": sentineg}).items()[0]
    assert item.prompt == "문장: 재미없지 않았다 긍부정:"
    assert item.choices == (" 부정", " 긍정")

    wic = write_jsonl(
        tmp_path / "wic.jsonl",
        [{"word": "배", "context_1": "배가 아프다.", "context_2": "배를 타다.", "label": 0}],
    )
    item = load_task("kobest_wic", data={"test": wic}).items()[0]
    assert item.prompt == "문장1: 배가 아프다. 문장2: 배를 타다. 두 문장에서 배가 같은 뜻으로 쓰였나?"
    assert item.choices == (" 아니오", " 예")
    assert item.answer == 0


def test_click_from_json(tmp_path: Path) -> None:
    records = [
        {
            "id": "Kedu_history_1",
            "paragraph": "조선은 1392년에 세워졌다.",
            "question": "조선의 건국 연도는?",
            "choices": ["1392년", "1492년", "918년", "676년"],
            "answer": "1392년",
        },
        {
            "id": "KIIP_society_2",
            "paragraph": "",
            "question": "한국의 수도는?",
            "choices": ["부산", "서울", "대구", "광주"],
            "answer": "서울",
        },
        {
            "id": "CSAT_korean_22_1",
            "paragraph": "",
            "question": "맞춤법이 옳은 것은?",
            "choices": ["않돼", "안 돼", "안되", "않되", "안대"],
            "answer": "안대",
        },
    ]
    path = tmp_path / "click.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    items = load_task("click", data={"test": path}).items()
    assert items[0].prompt == (
        "주어진 맥락을 천천히 읽고, 질문에 대한 적절한 정답을 A, B, C, D 중에 골라 알파벳 하나로 답하시오.\n\n"
        "맥락: 조선은 1392년에 세워졌다.\n질문: 조선의 건국 연도는?\n"
        "보기:\nA:1392년, B: 1492년, C: 918년, D: 676년\n정답:"
    )
    assert items[0].choices == (" A", " B", " C", " D")
    assert items[0].answer == 0
    assert items[0].item_id == "Kedu_history_1"
    assert items[1].prompt == (
        "주어진 질문을 천천히 읽고, 적절한 정답을 A, B, C, D 중에 골라 알파벳 하나로 답하시오.\n\n"
        "질문: 한국의 수도는?\n보기:\nA:부산, B: 서울, C: 대구, D: 광주\n정답:"
    )
    assert items[1].answer == 1
    # CSAT items offer A-E (the prompt still shows four options, as the harness does).
    assert items[2].choices == (" A", " B", " C", " D", " E")
    assert items[2].answer == 4


def test_haerae_from_jsonl(tmp_path: Path) -> None:
    query = "다음 단어의 뜻은? 갈무리\n(A) 정리\n(B) 시작\n(C) 노래\n(D) 음식\n(E) 바다"
    path = write_jsonl(tmp_path / "haerae.jsonl", [{"query": query, "answer": "(A)"}, {"query": query, "answer": "C"}])
    items = load_task("haerae", data={"test": path}).items()
    assert items[0].prompt == query
    assert items[0].choices == (" (A)", " (B)", " (C)", " (D)", " (E)")
    assert [item.answer for item in items] == [0, 2]


def gsm8k_record(n: int) -> dict[str, Any]:
    return {"question": f"사과가 {n}개 있다. 두 배는?", "answer": f"{n} * 2 = {2 * n}\n#### {2 * n:,}"}


def test_ko_gsm8k_prompt_fewshot_requests_and_scoring(tmp_path: Path) -> None:
    test = write_jsonl(tmp_path / "test.jsonl", [gsm8k_record(617), gsm8k_record(3)])
    train = write_jsonl(tmp_path / "train.jsonl", [gsm8k_record(n) for n in range(10, 17)])
    task = load_task("ko_gsm8k", data={"test": test, "train": train})
    items = task.items()
    order = random.Random(1234).sample(range(7), 5)
    examples = "".join(
        f"질문: 사과가 {10 + k}개 있다. 두 배는?\n답변: {10 + k} * 2 = {2 * (10 + k)}\n#### {2 * (10 + k)}\n\n"
        for k in order
    )
    assert items[0].prompt == examples + "질문: 사과가 617개 있다. 두 배는?\n답변:"
    assert items[0].answer == "1234"  # "#### 1,234" without the thousands separator
    (request,) = task.requests(items[0])
    assert request.kind == "generate"
    assert request.until == ("\n\n", "질문:")

    right = task.score(items[0], [Response(text=" 617 * 2 = 1,234\n#### 1,234")])
    assert right.correct and right.values == {"exact_match": 1.0}
    fallback = task.score(items[0], [Response(text=" 두 배는 1234입니다")])
    assert fallback.correct
    wrong = task.score(items[1], [Response(text=" #### 7")])
    assert not wrong.correct
    summary = task.aggregate([right, wrong])["exact_match"]
    assert summary.value == 0.5


def test_zero_shot_override_and_limit(tmp_path: Path) -> None:
    test = write_jsonl(tmp_path / "test.jsonl", [gsm8k_record(n) for n in range(4)])
    task = load_task("ko_gsm8k", data={"test": test}, num_fewshot=0)
    assert [item.prompt for item in task.items(limit=2)] == [
        "질문: 사과가 0개 있다. 두 배는?\n답변:",
        "질문: 사과가 1개 있다. 두 배는?\n답변:",
    ]


def test_text_is_nfc_normalized_on_load(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "한국어 문장")
    assert decomposed != "한국어 문장"
    path = write_jsonl(tmp_path / "s.jsonl", [{"sentence": decomposed, "label": 0}])
    item = load_task("kobest_sentineg", data={"test": path}).items()[0]
    assert item.prompt == "문장: 한국어 문장 긍부정:"
    assert unicodedata.is_normalized("NFC", item.prompt)


def test_scoring_and_grouped_aggregation(tmp_path: Path) -> None:
    test = write_csv(tmp_path / "test.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 2, "법") + kmmlu_rows("Math", 2, "수학"))
    task = load_task("kmmlu", data={"test": test})
    items = task.items()  # answers 0, 1, 0, 1

    def respond(best: int) -> list[Response]:
        return [Response(loglikelihood=-1.0 if index == best else -5.0) for index in range(4)]

    scores = [task.score(item, respond(best)) for item, best in zip(items, [0, 0, 0, 1], strict=True)]
    assert [score.correct for score in scores] == [True, False, True, True]
    assert scores[1].loglikelihoods == (-1.0, -5.0, -5.0, -5.0)
    summaries = task.aggregate(scores)
    assert set(summaries) == {"acc", "acc_norm"}
    acc = summaries["acc"]
    assert acc.value == 0.75 and acc.groups == {"Law": 0.5, "Math": 1.0}
    assert acc.macro == 0.75 and acc.micro == 0.75

    by_generation = task.requests(items[0], by_generation=True)
    assert [request.kind for request in by_generation] == ["generate"]
    generated = task.score(items[1], [Response(text=" B")], by_generation=True)
    assert generated.correct and generated.prediction == 1


def test_kobest_f1_is_computed_from_predictions(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [{"sentence": f"문장 {n}", "label": n % 2} for n in range(4)])
    task = load_task("kobest_sentineg", data={"test": path})
    items = task.items()
    predictions = [0, 0, 0, 1]  # golds 0, 1, 0, 1
    scores = [
        task.score(item, [Response(loglikelihood=0.0 if index == p else -3.0) for index in range(2)])
        for item, p in zip(items, predictions, strict=True)
    ]
    summaries = task.aggregate(scores)
    # label 0: TP 2 FP 1 FN 0 -> 4/5; label 1: TP 1 FP 0 FN 1 -> 2/3
    assert summaries["f1"].value == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert summaries["acc"].value == 0.75


def test_generic_format_with_column_mapping_and_rolling_loglikelihood(tmp_path: Path) -> None:
    write_csv(tmp_path / "corpus.csv", ["본문"], [["가나다 라마"], ["바사"]])
    (tmp_path / "ppl.yaml").write_text(
        "name: ko_ppl\nversion: 1\nformat: generic\noutput_type: loglikelihood_rolling\n"
        "data:\n  test: corpus.csv\ncolumns:\n  text: 본문\nprompt: '{text}'\n"
        "metrics: [bits_per_byte, word_perplexity, token_perplexity]\n",
        encoding="utf-8",
    )
    task = load_task(tmp_path / "ppl.yaml")
    assert task.version == "1"
    items = task.items()
    assert [item.prompt for item in items] == ["가나다 라마", "바사"]
    (request,) = task.requests(items[0])
    assert request.kind == "loglikelihood_rolling" and request.context == "가나다 라마"
    scores = [
        task.score(items[0], [Response(loglikelihood=-10.0, token_count=4)]),
        task.score(items[1], [Response(loglikelihood=-5.0, token_count=2)]),
    ]
    summaries = task.aggregate(scores)
    assert summaries["bits_per_byte"].value == pytest.approx(15 / (16 + 6) / 0.6931471805599453)
    assert summaries["word_perplexity"].value == pytest.approx(2.718281828459045 ** (15 / 3))
    assert summaries["token_perplexity"].value == pytest.approx(2.718281828459045 ** (15 / 6))


def test_builtin_tasks_all_parse() -> None:
    names = set(tasks.builtin_tasks())
    assert names == {
        "kmmlu",
        "kmmlu_5shot",
        "kobest_boolq",
        "kobest_copa",
        "kobest_hellaswag",
        "kobest_sentineg",
        "kobest_wic",
        "click",
        "haerae",
        "ko_gsm8k",
    }
    for name in names:
        task = load_task(name)
        assert task.name == name


# --- bad input -----------------------------------------------------------------------------------


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nversion: 1\nprompt: [unclosed\nmetrics: [acc]\n", encoding="utf-8")
    with pytest.raises(TaskConfigError, match=r"bad.yaml line 4.*malformed YAML"):
        load_task(path)


def test_invalid_field_names_the_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nversion: 1\noutput_type: multiple_choice\nprompt: '{q}'\nchoices: [a, b]\ntarget: '{a}'\n"
        "metrics: [acc]\nnum_fewshot: many\n",
        encoding="utf-8",
    )
    with pytest.raises(TaskConfigError, match=r"bad.yaml line 8: field 'num_fewshot'") as caught:
        load_task(path)
    assert isinstance(caught.value, BadRequestError)
    path.write_text(path.read_text().replace("num_fewshot: many", "prompts: oops"), encoding="utf-8")
    with pytest.raises(TaskConfigError, match=r"line 8: field 'prompts': Extra inputs"):
        load_task(path)
    path.write_text(path.read_text().replace("prompts: oops", "").replace("[acc]", "[acc, acc_nrom]"))
    with pytest.raises(
        TaskConfigError, match=r"line 7: field 'metrics': unknown metric 'acc_nrom' \(did you mean 'acc_norm'"
    ):
        load_task(path)
    path.write_text(path.read_text().replace("[acc, acc_nrom]", "[exact_match]"))
    with pytest.raises(TaskConfigError, match="'exact_match' does not apply to output_type multiple_choice"):
        load_task(path)
    path.write_text(path.read_text().replace("'{q}'", "'{q.__class__}'").replace("[exact_match]", "[acc]"))
    with pytest.raises(TaskConfigError, match=r"line 4: field 'prompt'.*not a plain field name"):
        load_task(path)


def test_missing_column_is_named(tmp_path: Path) -> None:
    columns = [c for c in KMMLU_COLUMNS if c != "C"]
    rows = [[row[i] for i, c in enumerate(KMMLU_COLUMNS) if c != "C"] for row in kmmlu_rows("Law", 2, "법")]
    test = write_csv(tmp_path / "test.csv", columns, rows)
    with pytest.raises(TaskDataError, match=r"test.csv line 2: missing column 'C'"):
        load_task("kmmlu", data={"test": test}).items()
    no_category = write_csv(tmp_path / "plain.csv", KMMLU_COLUMNS[:6], [r[:6] for r in kmmlu_rows("Law", 1, "법")])
    with pytest.raises(TaskDataError, match=r"plain.csv line 2: missing column 'Category'"):
        load_task("kmmlu", data={"test": no_category}).items()
    jsonl = write_jsonl(tmp_path / "wic.jsonl", [{"word": "배", "context_1": "가", "label": 0}])
    with pytest.raises(TaskDataError, match=r"wic.jsonl line 1: missing column 'context_2'"):
        load_task("kobest_wic", data={"test": jsonl}).items()


def test_answer_outside_the_choices_names_the_row(tmp_path: Path) -> None:
    rows = kmmlu_rows("Law", 3, "법")
    rows[2][1] = 5
    test = write_csv(tmp_path / "test.csv", KMMLU_COLUMNS, rows)
    with pytest.raises(TaskDataError, match=r"test.csv line 4: field 'answer' is 5, outside the choices"):
        load_task("kmmlu", data={"test": test}).items()
    boolq = write_jsonl(
        tmp_path / "b.jsonl",
        [{"paragraph": "p", "question": "q", "label": 1}, {"paragraph": "p", "question": "q", "label": 2}],
    )
    with pytest.raises(TaskDataError, match=r"b.jsonl line 2: answer 2 is outside the 2 choices"):
        load_task("kobest_boolq", data={"test": boolq}).items()
    haerae = write_jsonl(tmp_path / "h.jsonl", [{"query": "q", "answer": "(F)"}])
    with pytest.raises(TaskDataError, match=r"h.jsonl line 1: answer '\(F\)' is not one of the choices"):
        load_task("haerae", data={"test": haerae}).items()
    click = tmp_path / "c.json"
    click.write_text(
        json.dumps([{"id": "a", "paragraph": "", "question": "q", "choices": ["1", "2", "3", "4"], "answer": "5"}])
    )
    with pytest.raises(TaskDataError, match=r"c.json record 1: field 'answer' '5' is not one of the choices"):
        load_task("click", data={"test": click}).items()


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match=r"builtin:kmmlu: data file for split 'test' not found: .*nowhere.csv"):
        load_task("kmmlu", data={"test": tmp_path / "nowhere.csv"}).items()
    with pytest.raises(TaskNotFoundError, match=r"task file not found"):
        load_task(tmp_path / "missing.yaml")
    with pytest.raises(TaskNotFoundError, match=r"did you mean kmmlu"):
        load_task("kmmmlu")
    assert issubclass(TaskNotFoundError, NotFoundError)
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"sentence": "가", "label": 0}\n{"sentence": \n', encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"bad.jsonl line 2: not JSON"):
        load_task("kobest_sentineg", data={"test": bad_json}).items()
    short_dev = write_csv(tmp_path / "dev.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 2, "법"))
    test = write_csv(tmp_path / "test.csv", KMMLU_COLUMNS, kmmlu_rows("Law", 1, "법"))
    with pytest.raises(TaskDataError, match=r"5 few-shot examples needed but split 'dev' has 2 with Category = 'Law'"):
        load_task("kmmlu_5shot", data={"test": test, "dev": short_dev}).items()


def test_hub_data_without_a_runtime_is_refused_clearly() -> None:
    with pytest.raises(NotSupportedError, match=r"hub dataset repo benchmarks/kmmlu@main") as caught:
        load_task("kmmlu").items()
    assert "--data test=" in caught.value.hint


def test_data_read_from_a_hub_dataset_repo(runtime: Any, users: Any, tmp_path: Path) -> None:
    from baton.accounts import service as accounts
    from baton.hub import commits, repos

    content = "".join(
        json.dumps({"sentence": sentence, "label": label}, ensure_ascii=False) + "\n"
        for sentence, label in [("좋았다", 1), ("나빴다", 0)]
    ).encode()
    with runtime.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repo, _ = repos.create_repo(session, bob, repos.parse_repo_id("dataset", "bob/sentineg"), private=False)
        commits.initial_commit(session, runtime.store, bob, repo)
        commit = commits.commit_files(
            session, runtime.store, runtime.settings, bob, repo, {"data/test.jsonl": content}, title="data"
        )
        oid = commit.oid
    config = tasks.builtin_tasks()["kobest_sentineg"].read_text(encoding="utf-8")
    config = config.replace(
        "benchmarks/kobest_sentineg@main, path: test.jsonl", "bob/sentineg@main, path: data/test.jsonl"
    )
    path = tmp_path / "sentineg.yaml"
    path.write_text(config, encoding="utf-8")
    task = load_task(path, runtime=runtime)
    assert [item.prompt for item in task.items()] == ["문장: 좋았다 긍부정:", "문장: 나빴다 긍부정:"]
    assert task.data_sources["test"] == f"hub:bob/sentineg@{oid}/data/test.jsonl"

    path.write_text(config.replace("bob/sentineg@main", "bob/sentineg@nobranch"), encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"hub dataset bob/sentineg@nobranch.*nobranch"):
        load_task(path, runtime=runtime).items()
    path.write_text(config.replace("bob/sentineg@main", "bob/missing@main"), encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"no dataset repo named bob/missing"):
        load_task(path, runtime=runtime).items()
