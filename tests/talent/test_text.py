"""Korean-aware tokens (Kiwi, offline) and BM25."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import unicodedata

import pytest

from baton.talent import text
from baton.talent.text import BM25, stem, tokenize, tokenize_many


def test_korean_content_morphemes_only() -> None:
    tokens = tokenize("대규모 언어모델의 한국어 자연어처리 연구를 했습니다.")
    for expected in ("언어", "모델", "한국어", "연구"):
        assert expected in tokens
    # particles (의, 를), endings (었, 습니다), punctuation and the light verb 하다 are dropped
    for dropped in ("의", "를", "습니다", ".", "하", "었"):
        assert dropped not in tokens


def test_verb_and_adjective_stems_and_numbers() -> None:
    tokens = tokenize("모델을 학습시키고 평가했다. 데이터가 많다. GPU 8장")
    assert "학습" in tokens
    assert "많" in tokens  # adjective stem
    assert "8" in tokens and "gpu" in tokens


def test_english_is_lowercased_and_stemmed() -> None:
    tokens = tokenize("Training Neural Networks on clusters; studies of learned models")
    assert tokens == ["train", "neural", "network", "on", "cluster", "study", "of", "learn", "model"]
    assert [stem(w) for w in ("running", "processes", "process", "bus", "analysis", "data")] == [
        "run",
        "process",
        "process",
        "bus",
        "analysis",
        "data",
    ]


def test_width_and_normalization_forms() -> None:
    assert tokenize("ＧＰＵ　ＣＬＵＳＴＥＲ") == tokenize("GPU cluster")
    decomposed = unicodedata.normalize("NFD", "자연어 처리 연구")
    assert tokenize(decomposed) == tokenize("자연어 처리 연구")
    assert all(unicodedata.is_normalized("NFC", t) for t in tokenize(decomposed))
    assert tokenize("") == [] and tokenize("  \n ") == [] and tokenize("...!!") == []


def test_tokenize_many_matches_tokenize() -> None:
    texts = ["컴퓨터 비전 연구", "", "distributed training", "강화학습과 로보틱스"]
    assert tokenize_many(texts) == [tokenize(t) for t in texts]


def test_kiwi_is_one_shared_instance_across_threads() -> None:
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(text.kiwi())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(k) for k in seen}) == 1


def test_tokenize_from_many_threads_at_once() -> None:
    texts = [f"분산 학습 시스템 {i}번 실험과 언어 모델 평가 run {i}" for i in range(40)]
    expected = [list(text._tokens(text.kiwi().tokenize(t))) for t in texts]
    results: dict[int, list[str]] = {}

    def work(k: int) -> None:
        for i in range(k, len(texts), 4):
            results[i] = tokenize(texts[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(texts))] == expected


@pytest.mark.integration
@pytest.mark.skipif(sys.platform != "linux", reason="uses unshare to cut the network")
def test_works_without_network() -> None:
    """Kiwi's model ships in the kiwipiepy_model wheel: nothing is fetched at run time."""
    code = "from baton.talent.text import tokenize; print(' '.join(tokenize('자연어 처리 연구')))"
    try:
        result = subprocess.run(
            ["unshare", "-rn", sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"cannot make a network namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["자연어", "처리", "연구"]


DOCS = {
    "nlp": "한국어 자연어 처리와 대규모 언어 모델 사전학습 연구. 언어 모델 평가.",
    "cv": "컴퓨터 비전, 객체 검출과 영상 분할 연구",
    "hpc": "GPU cluster scheduling and distributed training systems",
    "mixed": "언어 모델을 GPU cluster에서 distributed training 합니다",
    "empty": "",
}


def test_bm25_scores_match_the_formula() -> None:
    bm = BM25(DOCS, k1=1.2, b=0.75)
    scores = bm.scores("언어 모델")
    n = len(DOCS)
    lengths = {d: len(tokenize(t)) for d, t in DOCS.items()}
    avg = sum(lengths.values()) / n

    def expected(doc: str) -> float:
        total = 0.0
        toks = tokenize(DOCS[doc])
        for term in ("언어", "모델"):
            df = sum(1 for t in DOCS.values() if term in tokenize(t))
            tf = toks.count(term)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            total += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * lengths[doc] / avg))
        return total

    for doc in DOCS:
        assert scores[doc] == pytest.approx(expected(doc))
    assert scores["cv"] == 0.0 and scores["empty"] == 0.0
    assert scores["nlp"] > scores["mixed"] > 0


def test_bm25_top_and_normalized() -> None:
    bm = BM25(DOCS)
    top = bm.top("distributed GPU training", 2)
    # both hold all three terms once; the shorter document ranks first (length normalization)
    assert [d for d, _ in top] == ["mixed", "hpc"]
    assert top[0][1] > top[1][1] > 0
    assert [d for d, _ in BM25(DOCS, b=0).top("distributed GPU training", 2)] == ["hpc", "mixed"]  # tie → by id
    assert bm.top("양자 컴퓨팅", 3) == []  # nothing matches: no zero-score padding
    assert bm.top("언어", 0) == []
    norm = bm.normalized_scores("컴퓨터 비전")
    assert norm["cv"] == 1.0 and all(0 <= v <= 1 for v in norm.values())
    assert set(bm.normalized_scores("zzz").values()) == {0.0}


def test_bm25_similarity_is_symmetric_and_bounded() -> None:
    bm = BM25(DOCS)
    assert bm.similarity("nlp", "nlp") == pytest.approx(1.0)
    assert bm.similarity("nlp", "mixed") == pytest.approx(bm.similarity("mixed", "nlp"))
    assert 0 < bm.similarity("nlp", "mixed") < 1
    assert bm.similarity("hpc", "mixed") > bm.similarity("hpc", "cv") == 0.0
    assert bm.similarity("empty", "nlp") == 0.0


def test_bm25_edge_cases() -> None:
    assert BM25({}).scores("anything") == {}
    assert BM25({"a": ""}).scores("x") == {"a": 0.0}
    with pytest.raises(ValueError):
        BM25(DOCS, b=2)
