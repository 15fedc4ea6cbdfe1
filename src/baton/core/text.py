"""Korean-aware search tokens, offline: Kiwi morphemes and a light English stemmer.

:func:`tokenize` runs the Kiwi analyser (``kiwipiepy``; its model ships on PyPI as
``kiwipiepy_model``, nothing is downloaded at run time) and keeps content morphemes: common
and proper nouns, numerals, verb and adjective stems, roots, foreign (Latin) words, Hanja and
numbers. Particles, endings, affixes and punctuation are dropped. Latin words are lowercased
and lightly stemmed ("networks", "networking" → "network"). Input is NFKC-normalized first, so
full-width letters and digits match their ASCII forms; tokens come out in NFC.

Shared by the talent pool's text similarity and the hub's search index; :func:`tokenize` caches
the tokens of each distinct short text, :func:`tokenize_uncached` is for long texts read once
(a model card), which would only crowd the cache.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

# Kiwi (Sejong) tags kept as content: nouns, numerals, verb/adjective stems, roots, foreign, Hanja, numbers.
CONTENT_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN"})
# Stems too common to carry meaning on their own ("하다", "되다", "있다", "없다", "같다", "이다").
STOP_STEMS = frozenset({"하", "되", "있", "없", "같", "이", "않", "보", "주", "받", "시키", "대하", "위하", "통하"})
_WORD = re.compile(r"[a-z0-9]+")
# Longer texts are not cached: 8,192 of them could hold hundreds of MiB.
CACHED_TEXT_CHARS = 16384

_kiwi: Kiwi | None = None
_kiwi_lock = threading.Lock()


def kiwi() -> Kiwi:
    """The shared Kiwi analyser, built on first use (takes a second or two), thread-safe."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                # No typo or multi-word dictionaries: half the load time, and plain morphemes suit BM25.
                instance = Kiwi(load_typo_dict=False, load_multi_dict=False)
                # Kiwi finishes building lazily on its first analysis: do it here, under the lock, so
                # that threads only ever share a fully built analyser (its author's advice for threads).
                instance.tokenize("준비")
                _kiwi = instance
    return _kiwi


def stem(word: str) -> str:
    """A light English stemmer for lowercase ASCII words (plural, -ing, -ed, -ly, -ies)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (
        ("sses", "ss"),
        ("ies", "y"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("ing", ""),
        ("ed", ""),
        ("ly", ""),
        ("s", ""),
    ):
        if not word.endswith(suffix):
            continue
        if suffix == "s" and word.endswith(("ss", "us", "is")):
            return word
        base = word[: len(word) - len(suffix)] + replacement
        if len(base) < 3:
            return word
        if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]  # running → run, stopped → stop
        return base
    return word


def _latin(form: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(form.lower())]


def _tokens(analysed: Iterable[object]) -> list[str]:
    out: list[str] = []
    for token in analysed:
        tag = getattr(token, "tag", "")
        form = getattr(token, "form", "")
        if tag not in CONTENT_TAGS:
            continue
        if tag in ("SL", "SN"):
            out.extend(_latin(form))
        elif tag in ("VV", "VA"):
            if form not in STOP_STEMS:
                out.append(unicodedata.normalize("NFC", form))
        else:
            for part in form.split():  # Kiwi can return multi-word proper nouns ("자연어 처리")
                part = unicodedata.normalize("NFC", part.lower())
                if part:
                    out.append(part)
    return out


def _prepare(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def tokenize(text: str) -> list[str]:
    """Content tokens of ``text`` (Korean morphemes, lowercased stemmed English, numbers), in order."""
    if not text or not text.strip():
        return []
    if len(text) > CACHED_TEXT_CHARS:
        return tokenize_uncached(text)
    return list(_tokenize_cached(text))


@functools.lru_cache(maxsize=8192)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    """Profiles and openings are scored again and again: each distinct text is analysed once."""
    return tuple(_tokens(kiwi().tokenize(_prepare(text))))


def tokenize_many(texts: Iterable[str]) -> list[list[str]]:
    """:func:`tokenize` for many texts (one by one: Kiwi's batch mode was slower here, on 2 busy cores)."""
    return [tokenize(t) for t in texts]


def tokenize_uncached(text: str) -> list[str]:
    """:func:`tokenize` without the cache (for long texts analysed once)."""
    if not text or not text.strip():
        return []
    return _tokens(kiwi().tokenize(_prepare(text)))
