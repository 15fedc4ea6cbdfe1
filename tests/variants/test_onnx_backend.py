"""The onnxruntime backend on the fp32 ONNX export agrees with the hf backend on the base."""

from __future__ import annotations

from pathlib import Path

import pytest
from variant_fixtures import CORPUS, make_tiny_llama

from baton.evaluation.backends import create_backend
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.models import ModelWeightsMissingError
from baton.evaluation.backends.onnxruntime import OnnxRuntimeBackend
from baton.evaluation.types import Request
from baton.variants import produce

QUESTIONS = [
    ("The capital of France is", [" Paris", " Seoul", " the lazy dog", " four"]),
    ("질문: 대한민국의 수도는 어디입니까?\n답변:", [" 서울", " Paris", " 하늘은 파랗고", " A"]),
    ("Question: what is two plus two? Answer: ", ["four", "A", "B", "C D"]),  # trailing space moves
    ("정답은 ", ["A", "B", "C", "D"]),  # one-token choices: one row scores them all
    ("", [" The quick brown fox", " 하늘은"]),  # empty context: the prefix token stands in
    ("The quick brown fox jumps over the lazy dog. " * 30, [" The", " fox jumps"]),  # longer than the window
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("parity")
    base = make_tiny_llama(root / "base", steps=30)
    return base, produce.export_onnx(base, root / "onnx")


def test_onnx_backend_matches_hf_on_every_item(models: tuple[Path, Path]) -> None:
    base, onnx = models
    hf = HuggingFaceBackend(str(base), batch_size=3, max_length=128)
    ort = create_backend("onnxruntime", str(onnx), batch_size=3, max_length=128)
    assert isinstance(ort, OnnxRuntimeBackend)
    requests = [Request("loglikelihood", context, choice) for context, choices in QUESTIONS for choice in choices]
    expected, got = hf.answer(requests), ort.answer(requests)
    assert ort.truncated_requests > 0  # the long item was cut to the window on both sides
    for number, (context, choices) in enumerate(QUESTIONS):
        first = sum(len(c) for _, c in QUESTIONS[:number])
        span = range(first, first + len(choices))
        assert max(span, key=lambda i: expected[i].loglikelihood or 0.0) == max(
            span, key=lambda i: got[i].loglikelihood or 0.0
        ), context
        for index in span:
            tokens = len(hf.encode_pair(requests[index].context, requests[index].continuation)[1])
            a, b = expected[index].loglikelihood, got[index].loglikelihood
            assert a is not None and b is not None
            assert abs(a - b) / tokens < 1e-4, (requests[index], a, b)
            assert expected[index].is_greedy == got[index].is_greedy
    # Rolling log-likelihood (perplexity) too.
    rolling = [Request("loglikelihood_rolling", CORPUS[0] * 3)]
    (a_roll,), (b_roll,) = hf.answer(rolling), ort.answer(rolling)
    assert a_roll.token_count == b_roll.token_count
    assert abs((a_roll.loglikelihood or 0) - (b_roll.loglikelihood or 0)) / (a_roll.token_count or 1) < 1e-4
    described = ort.describe()
    assert described["backend"] == "onnxruntime" and described["runtime"].startswith("onnxruntime ")
    assert described["add_bos_token"] is True  # the tokenizer's default, as hf found it
    assert described["weight_hash"] != hf.describe()["weight_hash"]


def test_onnx_backend_generates_what_hf_generates(models: tuple[Path, Path]) -> None:
    base, onnx = models
    hf = HuggingFaceBackend(str(base), batch_size=1)
    ort = OnnxRuntimeBackend(str(onnx), batch_size=1)
    requests = [
        Request("generate", "The capital of France is", until=("\n",), max_new_tokens=12),
        Request("generate", "질문: 대한민국의 수도는 어디입니까?\n답변:", until=("\n",), max_new_tokens=12),
        Request("generate", "The quick brown", until=(".",), max_new_tokens=20),
    ]
    expected = [r.text for r in hf.answer(requests)]
    got = [r.text for r in ort.answer(requests)]
    assert got == expected
    assert any(text for text in got)


def test_a_folder_without_a_graph_is_refused(models: tuple[Path, Path]) -> None:
    base, _ = models
    with pytest.raises(ModelWeightsMissingError, match=r"\*\.onnx"):
        OnnxRuntimeBackend(str(base))
