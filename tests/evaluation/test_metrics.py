"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baton.evaluation import metrics


def test_macro_f1_matches_a_manual_computation() -> None:
    golds = [0, 0, 0, 1, 1, 2]
    predictions = [0, 1, 0, 1, 2, 2]
    # label 0: TP 2, FP 0, FN 1 -> 4/5; label 1: TP 1, FP 1, FN 1 -> 2/4; label 2: TP 1, FP 1, FN 0 -> 2/3
    expected = (4 / 5 + 2 / 4 + 2 / 3) / 3
    assert metrics.macro_f1(golds, predictions) == pytest.approx(expected)


def test_macro_f1_counts_a_label_seen_only_in_predictions() -> None:
    # label 1 is never gold: its F1 is 0 and it still counts in the mean (scikit-learn's macro).
    golds = [0, 0, 0, 0]
    predictions = [0, 0, 0, 1]
    assert metrics.macro_f1(golds, predictions) == pytest.approx((2 * 3 / (2 * 3 + 0 + 1) + 0.0) / 2)


def test_acc_norm_divides_by_characters_and_acc_bytes_by_bytes() -> None:
    # "예" is 1 character (3 bytes), "아니오" 3 characters (9 bytes).
    loglikelihoods = [-2.0, -4.5]
    predictions = metrics.multiple_choice_predictions(loglikelihoods, ["예", "아니오"])
    assert predictions["acc"] == 0  # -2.0 > -4.5
    assert predictions["acc_norm"] == 1  # -2.0 / 1 < -4.5 / 3 = -1.5
    assert predictions["acc_bytes"] == 1  # -2/3 < -4.5/9 = -0.5
    # Ties go to the first choice, as numpy.argmax does.
    assert metrics.multiple_choice_predictions([-1.0, -1.0], ["A", "B"])["acc"] == 0


def test_standard_error_is_the_sample_deviation_over_root_n() -> None:
    values = [1.0, 0.0, 1.0, 1.0]
    expected = np.std(values, ddof=1) / 2
    assert metrics.standard_error(values) == pytest.approx(expected)
    assert math.isnan(metrics.standard_error([1.0]))


def test_bootstrap_is_reproducible_with_a_seed_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(0)
    values = (rng.random(200) < 0.7).astype(float).tolist()
    first = metrics.summarize("acc", values, seed=7)
    second = metrics.summarize("acc", values, seed=7)
    other = metrics.summarize("acc", values, seed=8)
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
    assert first.ci_low <= first.value <= first.ci_high
    assert first.value == pytest.approx(np.mean(values))
    assert first.ci_high - first.ci_low < 0.2


def test_f1_summary_uses_a_bootstrap_standard_error() -> None:
    pairs = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0), (1.0, 0.0)] * 5
    summary = metrics.summarize("f1", pairs, seed=3)
    golds = [int(gold) for gold, _ in pairs]
    predictions = [int(prediction) for _, prediction in pairs]
    assert summary.value == pytest.approx(metrics.macro_f1(golds, predictions))
    assert summary.stderr > 0
    assert summary.ci_low <= summary.value <= summary.ci_high


def test_bits_per_byte_and_perplexities() -> None:
    loglikelihoods = [-10.0, -20.0]
    byte_counts = [10, 30]
    assert metrics.bits_per_byte(loglikelihoods, byte_counts) == pytest.approx(30 / 40 / math.log(2))
    assert metrics.perplexity(loglikelihoods, byte_counts) == pytest.approx(math.exp(30 / 40))
    summary = metrics.summarize("bits_per_byte", list(zip(loglikelihoods, byte_counts, strict=True)))
    assert summary.value == pytest.approx(30 / 40 / math.log(2))
    assert summary.higher_is_better is False
    assert metrics.count_bytes("한국") == 6
    assert metrics.count_words("한국 어  말") == 3


def test_grouped_macro_and_micro_averages() -> None:
    values = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    groups = ["law", "law", "law", "law", "math", "math"]
    summary = metrics.summarize("acc", values, groups)
    assert summary.groups == {"law": 0.75, "math": 0.5}
    assert summary.group_counts == {"law": 4, "math": 2}
    assert summary.macro == pytest.approx(0.625)
    assert summary.micro == pytest.approx(4 / 6) == summary.value
    assert metrics.macro_micro(summary.groups, summary.group_counts) == pytest.approx((0.625, 4 / 6))
    payload = summary.to_json()
    assert payload["macro"] == pytest.approx(0.625) and payload["groups"]["math"] == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("먼저 3 + 4 = 7입니다.\n#### 7", "7"),
        ("#### 1,234", "1,234"),
        ("그래서 답은 $1,250.입니다", "$1,250."),
        ("사과 3개와 배 12개", "12"),
        ("답: -5", "-5"),
        ("숫자가 없습니다", None),
    ],
)
def test_number_extraction(text: str, expected: str | None) -> None:
    assert metrics.extract_number_answer(text) == expected


def test_numbers_compare_without_thousands_separators() -> None:
    assert metrics.numbers_equal("따라서 1,234개입니다.", "1234")
    assert metrics.numbers_equal("#### 18.00", "18")
    assert metrics.numbers_equal("답은 $1,250.", "1250")
    assert not metrics.numbers_equal("#### 17\n그 다음 18", "18")  # "#### N" wins over the last number
    assert not metrics.numbers_equal("모르겠어요", "3")
    assert metrics.exact_match(" 서울 ", "서울")
    assert metrics.exact_match("답: 42", "42", extraction="number")


def test_choice_extraction_for_multiple_choice_by_generation() -> None:
    assert metrics.extract_choice(" B", ["A", "B", "C", "D"]) == 1
    assert metrics.extract_choice("정답은 (C) 입니다", ["(A)", "(B)", "(C)"]) == 2
    assert metrics.extract_choice("아니오, 다릅니다", ["아니오", "예"]) == 0
    assert metrics.extract_choice("잘 모르겠다", ["A", "B"]) is None


def test_unknown_metric_is_named() -> None:
    with pytest.raises(KeyError, match="accuracy"):
        metrics.summarize("accuracy", [1.0])


def test_vectorized_bootstrap_f1_equals_macro_f1_of_each_resample() -> None:
    from baton.evaluation.metrics import _macro_f1_of_pairs, _macro_f1_replicates

    generator = np.random.default_rng(0)
    for labels in (2, 3, 5):
        data = generator.integers(-1, labels, size=(57, 2)).astype(float)  # -1: an answer naming no choice
        rows = generator.integers(0, 57, size=(200, 57))
        fast = _macro_f1_replicates(data[rows, 0], data[rows, 1])
        assert fast.tolist() == [_macro_f1_of_pairs(data[row]) for row in rows]
