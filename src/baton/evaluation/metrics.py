"""Metrics: per-item scoring helpers and aggregation with standard errors and bootstrap intervals.

Pure numpy. The definitions follow lm-evaluation-harness so that Baton's numbers are comparable:

- ``acc``: the choice with the highest log-likelihood (the first one on ties, as ``numpy.argmax``);
- ``acc_norm``: log-likelihood divided by the choice's length in *characters* (the choice text
  without the delimiter that precedes it), as the harness does; ``acc_bytes`` divides by UTF-8 bytes;
- ``f1``: macro-F1 over the labels seen in gold or predictions (scikit-learn's ``average="macro"``),
  computed here rather than by scikit-learn;
- ``exact_match``: generated text against the target; with the ``number`` extraction the answer is
  taken from ``#### N`` or else the last number, and compared as a number;
- ``word_perplexity``, ``byte_perplexity``, ``bits_per_byte``, ``token_perplexity``: from rolling
  log-likelihoods summed over the corpus, then divided by the summed counts.

Every aggregate carries a standard error (analytic for means, bootstrap otherwise) and a seeded
bootstrap 95% percentile interval; grouped tasks also get per-group values and macro and micro averages.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MetricKind = Literal["mean", "pairs"]
OutputType = Literal["multiple_choice", "generate_until", "loglikelihood_rolling"]

DEFAULT_BOOTSTRAP_SEED = 1234
DEFAULT_BOOTSTRAP_ITERATIONS = 1000


# --- per-item helpers ---------------------------------------------------------------------------


def argmax_first(values: Sequence[float]) -> int:
    """Index of the largest value, the first one on ties (what ``numpy.argmax`` does)."""
    if not values:
        raise ValueError("argmax of an empty sequence")
    return int(np.argmax(np.asarray(values, dtype=np.float64)))


def multiple_choice_predictions(loglikelihoods: Sequence[float], choice_texts: Sequence[str]) -> dict[str, int]:
    """Predicted indices for ``acc`` (raw), ``acc_norm`` (per character) and ``acc_bytes`` (per byte).

    ``choice_texts`` are the choices without the delimiter placed before them, as the harness measures.
    """
    if len(loglikelihoods) != len(choice_texts):
        raise ValueError(f"{len(loglikelihoods)} log-likelihoods for {len(choice_texts)} choices")
    scores = np.asarray(loglikelihoods, dtype=np.float64)
    characters = np.asarray([max(len(text), 1) for text in choice_texts], dtype=np.float64)
    byte_counts = np.asarray([max(len(text.encode("utf-8")), 1) for text in choice_texts], dtype=np.float64)
    return {
        "acc": int(np.argmax(scores)),
        "acc_norm": int(np.argmax(scores / characters)),
        "acc_bytes": int(np.argmax(scores / byte_counts)),
    }


def accuracy(correct: Sequence[float | bool]) -> float:
    if not correct:
        return math.nan
    return float(np.mean(np.asarray(correct, dtype=np.float64)))


def macro_f1(golds: Sequence[int | str], predictions: Sequence[int | str]) -> float:
    """Unweighted mean of per-label F1 over every label that occurs in gold or predictions.

    Per label, F1 = 2·TP / (2·TP + FP + FN); its denominator is never zero for a label that occurs.
    """
    if len(golds) != len(predictions):
        raise ValueError(f"{len(golds)} gold labels for {len(predictions)} predictions")
    if not golds:
        return math.nan
    labels = sorted(set(golds) | set(predictions), key=str)
    scores = []
    for label in labels:
        true_positive = sum(1 for g, p in zip(golds, predictions, strict=True) if g == label and p == label)
        false_positive = sum(1 for g, p in zip(golds, predictions, strict=True) if g != label and p == label)
        false_negative = sum(1 for g, p in zip(golds, predictions, strict=True) if g == label and p != label)
        scores.append(2 * true_positive / (2 * true_positive + false_positive + false_negative))
    return float(np.mean(scores))


def extract_choice(text: str, choice_texts: Sequence[str]) -> int | None:
    """The choice a generated answer names, for multiple choice by generation, or None.

    The answer may start with the choice ("B", "B. ...", "(B)", "예"); failing that, the first
    choice that appears as a whole word (letters and "(A)"-style labels only) counts.
    """
    answer = unicodedata.normalize("NFC", text).strip()
    labels = [choice.strip() for choice in choice_texts]
    by_length = sorted(range(len(labels)), key=lambda index: -len(labels[index]))
    for index in by_length:
        if labels[index] and answer.startswith(labels[index]):
            return index
    bare = [label.strip("()") for label in labels]
    if all(len(label) == 1 for label in bare):
        found = re.search(r"(?<![A-Za-z])\(?([" + "".join(re.escape(b) for b in bare) + r"])\)?(?![A-Za-z])", answer)
        if found:
            return bare.index(found.group(1))
    return None


# GSM8K-style extraction: the harness's "strict-match" (#### N) then its "flexible-extract" (last number).
_FINAL_ANSWER = re.compile(r"#### (\-?[0-9\.\,]+)")
_ANY_NUMBER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def extract_number_answer(text: str) -> str | None:
    """The answer after ``#### `` if present, else the last number in the text, else None."""
    final = _FINAL_ANSWER.search(text)
    if final:
        return final.group(1)
    matches = _ANY_NUMBER.findall(text)
    if not matches:
        return None
    first_group, second_group = matches[-1]
    return str(first_group or second_group)


def parse_number(text: str | None) -> Decimal | None:
    """A number written with optional ``$``, thousands separators and a trailing period, or None."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "").replace("$", "").rstrip(".")
    if not cleaned or cleaned in {"-", "."}:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def numbers_equal(generated: str, target: str) -> bool:
    """Whether the number extracted from ``generated`` equals ``target`` as a number (18 == 18.00 == 1,8)."""
    predicted = parse_number(extract_number_answer(generated))
    expected = parse_number(target)
    if expected is None:
        expected = parse_number(extract_number_answer(target))
    return predicted is not None and expected is not None and predicted == expected


def exact_match(generated: str, target: str, *, extraction: Literal["none", "number"] = "none") -> bool:
    if extraction == "number":
        return numbers_equal(generated, target)
    return generated.strip() == target.strip()


def count_words(text: str) -> int:
    """Words as the harness counts them for word perplexity: pieces between whitespace runs."""
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def perplexity(loglikelihoods: Sequence[float], counts: Sequence[float]) -> float:
    """exp(−Σ log-likelihood / Σ count): per word, byte or token depending on the counts."""
    total = float(np.sum(np.asarray(counts, dtype=np.float64)))
    if total <= 0:
        return math.nan
    return math.exp(-float(np.sum(np.asarray(loglikelihoods, dtype=np.float64))) / total)


def bits_per_byte(loglikelihoods: Sequence[float], byte_counts: Sequence[float]) -> float:
    """−Σ log-likelihood (nats) / Σ bytes / ln 2."""
    total = float(np.sum(np.asarray(byte_counts, dtype=np.float64)))
    if total <= 0:
        return math.nan
    return -float(np.sum(np.asarray(loglikelihoods, dtype=np.float64))) / total / math.log(2)


# --- statistics ---------------------------------------------------------------------------------


def standard_error(values: Sequence[float] | FloatArray) -> float:
    """Standard error of the mean: sample standard deviation (n − 1) over √n, as the harness reports."""
    array = np.asarray(values, dtype=np.float64)
    if array.size < 2:
        return math.nan
    return float(np.std(array, ddof=1) / math.sqrt(array.size))


def bootstrap(
    data: FloatArray,
    statistic: Callable[[FloatArray], float],
    *,
    seed: int = DEFAULT_BOOTSTRAP_SEED,
    iterations: int = DEFAULT_BOOTSTRAP_ITERATIONS,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(low, high, standard deviation) of ``statistic`` over item-level resamples of ``data``'s rows.

    Percentile interval; the same seed and data give the same numbers on every machine.
    """
    count = data.shape[0]
    if count == 0:
        return math.nan, math.nan, math.nan
    generator = np.random.default_rng(seed)
    indices = generator.integers(0, count, size=(iterations, count))
    if data.ndim == 1 and statistic is _mean:
        replicates = data[indices].mean(axis=1)
    elif statistic is _macro_f1_of_pairs:
        replicates = _macro_f1_replicates(data[indices, 0], data[indices, 1])
    else:
        replicates = np.asarray([statistic(data[row]) for row in indices], dtype=np.float64)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return math.nan, math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    spread = float(np.std(replicates, ddof=1)) if replicates.size > 1 else math.nan
    return float(low), float(high), spread


@dataclass(frozen=True)
class PairedDifference:
    """Mean of per-item differences ``b - a`` on the same items, with its paired 95 % interval."""

    n: int
    mean_a: float
    mean_b: float
    difference: float  # mean(b - a) = mean_b - mean_a
    low: float
    high: float
    stderr: float  # standard error of the mean difference (n - 1)
    method: str = "paired bootstrap, percentile"

    def to_json(self) -> dict[str, Any]:
        def clean(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "n": self.n,
            "mean_a": clean(self.mean_a),
            "mean_b": clean(self.mean_b),
            "difference": clean(self.difference),
            "ci95": [clean(self.low), clean(self.high)],
            "stderr": clean(self.stderr),
            "method": self.method,
        }


def paired_difference(
    a: Sequence[float | bool],
    b: Sequence[float | bool],
    *,
    seed: int = DEFAULT_BOOTSTRAP_SEED,
    iterations: int = DEFAULT_BOOTSTRAP_ITERATIONS,
    confidence: float = 0.95,
) -> PairedDifference:
    """``b`` against ``a`` item by item (e.g. a variant's correctness against its base's).

    The items are resampled together (a paired bootstrap over the per-item differences), so what
    the two share cancels: two models that agree on every item get an interval of width zero.
    """
    if len(a) != len(b):
        raise ValueError(f"paired values need the same items: {len(a)} against {len(b)}")
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    differences = second - first
    if differences.size == 0:
        return PairedDifference(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    low, high, _spread = bootstrap(differences, _mean, seed=seed, iterations=iterations, confidence=confidence)
    return PairedDifference(
        n=int(differences.size),
        mean_a=float(first.mean()),
        mean_b=float(second.mean()),
        difference=float(differences.mean()),
        low=low,
        high=high,
        stderr=standard_error(differences),
    )


# --- the metric registry ------------------------------------------------------------------------


def _mean(data: FloatArray) -> float:
    return float(np.mean(data)) if data.size else math.nan


def _macro_f1_replicates(golds: FloatArray, predictions: FloatArray) -> FloatArray:
    """``macro_f1`` of each row of (replicates x items) label arrays at once (the bootstrap's hot loop).

    Labels are visited in ``macro_f1``'s order and each row's F1s summed in that order, so every
    replicate equals ``macro_f1`` of that resample.
    """
    labels = sorted(set(np.unique(golds).tolist()) | set(np.unique(predictions).tolist()), key=str)
    total = np.zeros(golds.shape[0], dtype=np.float64)
    present = np.zeros(golds.shape[0], dtype=np.float64)
    for label in labels:
        gold, predicted = golds == label, predictions == label
        true_positive = (gold & predicted).sum(axis=1)
        false_positive = (~gold & predicted).sum(axis=1)
        false_negative = (gold & ~predicted).sum(axis=1)
        denominator = 2 * true_positive + false_positive + false_negative
        occurs = denominator > 0
        total += np.where(occurs, 2 * true_positive / np.maximum(denominator, 1), 0.0)
        present += occurs
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = total / present
    return result


def _macro_f1_of_pairs(data: FloatArray) -> float:
    return macro_f1(data[:, 0].tolist(), data[:, 1].tolist())


def _perplexity_of_pairs(data: FloatArray) -> float:
    return perplexity(data[:, 0].tolist(), data[:, 1].tolist())


def _bits_per_byte_of_pairs(data: FloatArray) -> float:
    return bits_per_byte(data[:, 0].tolist(), data[:, 1].tolist())


@dataclass(frozen=True)
class Metric:
    """How one metric aggregates its per-item inputs.

    ``mean`` metrics take one float per item; ``pairs`` metrics take two (gold and prediction for
    F1; log-likelihood and count for perplexities) and are computed over the whole corpus.
    """

    name: str
    kind: MetricKind
    output_types: tuple[OutputType, ...]
    statistic: Callable[[FloatArray], float]
    higher_is_better: bool = True


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("acc", "mean", ("multiple_choice",), _mean),
        Metric("acc_norm", "mean", ("multiple_choice",), _mean),
        Metric("acc_bytes", "mean", ("multiple_choice",), _mean),
        Metric("f1", "pairs", ("multiple_choice",), _macro_f1_of_pairs),
        Metric("exact_match", "mean", ("generate_until",), _mean),
        Metric("word_perplexity", "pairs", ("loglikelihood_rolling",), _perplexity_of_pairs, False),
        Metric("byte_perplexity", "pairs", ("loglikelihood_rolling",), _perplexity_of_pairs, False),
        Metric("token_perplexity", "pairs", ("loglikelihood_rolling",), _perplexity_of_pairs, False),
        Metric("bits_per_byte", "pairs", ("loglikelihood_rolling",), _bits_per_byte_of_pairs, False),
    )
}


@dataclass(frozen=True)
class MetricSummary:
    """One metric over a task: its value (the micro average for grouped tasks), uncertainty and groups."""

    name: str
    value: float
    stderr: float
    ci_low: float
    ci_high: float
    count: int
    higher_is_better: bool = True
    groups: dict[str, float] = field(default_factory=dict)
    group_counts: dict[str, int] = field(default_factory=dict)
    macro: float | None = None  # unweighted mean over groups
    micro: float | None = None  # over all items, i.e. weighted by group size (the harness's default)

    def to_json(self) -> dict[str, Any]:
        def clean(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else value

        payload: dict[str, Any] = {
            "value": clean(self.value),
            "stderr": clean(self.stderr),
            "ci95": [clean(self.ci_low), clean(self.ci_high)],
            "count": self.count,
            "higher_is_better": self.higher_is_better,
        }
        if self.groups:
            payload |= {
                "macro": clean(self.macro),
                "micro": clean(self.micro),
                "groups": {name: clean(value) for name, value in self.groups.items()},
                "group_counts": dict(self.group_counts),
            }
        return payload


def summarize(
    name: str,
    inputs: Sequence[float] | Sequence[tuple[float, float]],
    groups: Sequence[str | None] | None = None,
    *,
    seed: int = DEFAULT_BOOTSTRAP_SEED,
    iterations: int = DEFAULT_BOOTSTRAP_ITERATIONS,
) -> MetricSummary:
    """Aggregate one registered metric over per-item inputs (see :class:`Metric`), with groups if given."""
    metric = METRICS.get(name)
    if metric is None:
        raise KeyError(f"unknown metric '{name}'; known: {', '.join(sorted(METRICS))}")
    data = np.asarray(inputs, dtype=np.float64)
    if metric.kind == "pairs":
        data = data.reshape(-1, 2)
    value = metric.statistic(data) if data.shape[0] else math.nan
    low, high, spread = bootstrap(data, metric.statistic, seed=seed, iterations=iterations)
    stderr = standard_error(data) if metric.kind == "mean" else spread
    summary = MetricSummary(
        name, value, stderr, low, high, int(data.shape[0]), higher_is_better=metric.higher_is_better
    )
    if groups is None or all(group is None for group in groups):
        return summary
    if len(groups) != data.shape[0]:
        raise ValueError(f"{len(groups)} group labels for {data.shape[0]} items")
    per_group, counts = grouped_values(data, groups, metric.statistic)
    finite = [v for v in per_group.values() if math.isfinite(v)]
    return MetricSummary(
        name,
        value,
        stderr,
        low,
        high,
        summary.count,
        higher_is_better=metric.higher_is_better,
        groups=per_group,
        group_counts=counts,
        macro=float(np.mean(finite)) if finite else math.nan,
        micro=value,
    )


def grouped_values(
    data: FloatArray, groups: Sequence[str | None], statistic: Callable[[FloatArray], float]
) -> tuple[dict[str, float], dict[str, int]]:
    """The statistic within each group (items without a group are left out), and each group's size."""
    names = sorted({group for group in groups if group is not None})
    labels = np.asarray([group if group is not None else "" for group in groups], dtype=object)
    values = {}
    counts = {}
    for name in names:
        mask = labels == name
        values[name] = statistic(data[mask])
        counts[name] = int(mask.sum())
    return values, counts


def macro_micro(values: Mapping[str, float], counts: Mapping[str, int]) -> tuple[float, float]:
    """Macro (unweighted over groups) and micro (weighted by group size) averages of group values."""
    names = [name for name in values if math.isfinite(values[name])]
    if not names:
        return math.nan, math.nan
    macro = float(np.mean([values[name] for name in names]))
    total = sum(counts[name] for name in names)
    micro = sum(values[name] * counts[name] for name in names) / total if total else math.nan
    return macro, float(micro)
