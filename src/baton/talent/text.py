"""Text similarity that works on Korean offline: Kiwi morphological tokens and BM25.

:func:`tokenize` (:mod:`baton.core.text`, shared with the hub's search index) runs the Kiwi
analyser (``kiwipiepy``; its model ships on PyPI as ``kiwipiepy_model``, nothing is downloaded at
run time) and keeps content morphemes: common
and proper nouns, numerals, verb and adjective stems, roots, foreign (Latin) words, Hanja and
numbers. Particles, endings, affixes and punctuation are dropped. Latin words are lowercased
and lightly stemmed ("networks", "networking" → "network"). Input is NFKC-normalized first, so
full-width letters and digits match their ASCII forms; tokens come out in NFC.

:class:`BM25` is Okapi BM25 (k1, b) with the non-negative idf
``ln(1 + (N - df + 0.5) / (df + 0.5))``; :meth:`BM25.similarity` gives a symmetric score in
[0, 1] between two documents of the corpus: the cosine of their BM25-weighted term vectors.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from baton.core.text import (  # noqa: F401  (re-exported: the talent pool's text API)
    CONTENT_TAGS,
    STOP_STEMS,
    _tokens,
    kiwi,
    stem,
    tokenize,
    tokenize_many,
)


class BM25:
    """Okapi BM25 over ``documents`` ({id: text}), tokenized with :func:`tokenize`.

    ``scores(query)`` gives every document's score (0 when nothing matches); ``top(query, n)``
    the best ``n`` with a positive score, best first (ties by id). Immutable after construction,
    so one instance can be shared between threads.
    """

    def __init__(self, documents: Mapping[str, str], *, k1: float = 1.5, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1.")
        self.k1 = k1
        self.b = b
        self.ids = list(documents)
        tokens = tokenize_many(documents[i] for i in self.ids)
        self.term_freqs: dict[str, Counter[str]] = {i: Counter(t) for i, t in zip(self.ids, tokens, strict=True)}
        self.lengths: dict[str, int] = {i: len(t) for i, t in zip(self.ids, tokens, strict=True)}
        self.avg_length = (sum(self.lengths.values()) / len(self.ids)) if self.ids else 0.0
        df: Counter[str] = Counter()
        for tf in self.term_freqs.values():
            df.update(tf.keys())
        n = len(self.ids)
        self.idf: dict[str, float] = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._postings: dict[str, list[tuple[str, int]]] = {}
        for i, tf in self.term_freqs.items():
            for t, c in tf.items():
                self._postings.setdefault(t, []).append((i, c))
        self._vectors: dict[str, dict[str, float]] = {}
        self._norms: dict[str, float] = {}
        self._vocab: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _term_weight(self, count: int, length: int) -> float:
        norm = 1 - self.b + self.b * (length / self.avg_length if self.avg_length else 0.0)
        return count * (self.k1 + 1) / (count + self.k1 * norm)

    def scores(self, query: str) -> dict[str, float]:
        """BM25 score of every document for ``query`` (each distinct query term counted once)."""
        out = dict.fromkeys(self.ids, 0.0)
        for term in set(tokenize(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for doc, count in self._postings[term]:
                out[doc] += idf * self._term_weight(count, self.lengths[doc])
        return out

    def top(self, query: str, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` best documents with a positive score, as (id, score), best first."""
        ranked = sorted(((d, s) for d, s in self.scores(query).items() if s > 0), key=lambda x: (-x[1], x[0]))
        return ranked[: max(n, 0)]

    def normalized_scores(self, query: str) -> dict[str, float]:
        """:meth:`scores` divided by the best one, so the best document scores 1 (all 0 if none match)."""
        raw = self.scores(query)
        best = max(raw.values(), default=0.0)
        return {d: (s / best if best > 0 else 0.0) for d, s in raw.items()}

    def vector(self, doc_id: str) -> dict[str, float]:
        """BM25 weights (idf × saturated term frequency) of one document's terms."""
        vec = self._vectors.get(doc_id)
        if vec is None:
            length = self.lengths[doc_id]
            vec = {t: self.idf[t] * self._term_weight(c, length) for t, c in self.term_freqs[doc_id].items()}
            self._vectors[doc_id] = vec
            self._norms[doc_id] = math.sqrt(sum(w * w for w in vec.values()))
        return vec

    def unit_matrix(self, doc_ids: Sequence[str]) -> Any:
        """Rows of L2-normalized BM25 vectors for ``doc_ids`` (a SciPy CSR matrix over the vocabulary).

        ``unit_matrix(a) @ unit_matrix(b).T`` gives :meth:`similarity` for every pair at once.
        """
        from scipy.sparse import csr_matrix

        if self._vocab is None:
            self._vocab = {t: i for i, t in enumerate(self.idf)}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, doc in enumerate(doc_ids):
            vec = self.vector(doc)
            norm = self._norms[doc]
            if norm == 0:
                continue
            for term, weight in vec.items():
                rows.append(r)
                cols.append(self._vocab[term])
                vals.append(weight / norm)
        return csr_matrix((vals, (rows, cols)), shape=(len(doc_ids), len(self._vocab)))

    def similarity(self, a: str, b: str) -> float:
        """Cosine of the BM25 vectors of documents ``a`` and ``b``: symmetric, in [0, 1]."""
        va, vb = self.vector(a), self.vector(b)
        na, nb = self._norms[a], self._norms[b]
        if na == 0 or nb == 0:
            return 0.0
        if len(vb) < len(va):
            va, vb = vb, va
        dot = sum(w * vb.get(t, 0.0) for t, w in va.items())
        return min(1.0, dot / (na * nb))
