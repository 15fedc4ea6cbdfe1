"""The evaluation domain's shared vocabulary: tasks produce items, items produce requests,
backends answer requests, metrics turn answers into scores.

Kept dependency-free (no torch, no HTTP clients) so that every part can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

RequestKind = Literal["loglikelihood", "generate", "loglikelihood_rolling"]


@dataclass(frozen=True)
class Item:
    """One test item after loading: text NFC-normalized, answer as an index or a string."""

    item_id: str  # stable within the task (row number or the dataset's id)
    prompt: str  # the context, few-shot examples already prepended by the task
    choices: tuple[str, ...] = ()  # continuations for multiple choice (with their leading space)
    answer: int | str | None = None  # index into choices, or the expected string for generation
    group: str | None = None  # category for grouped (macro/micro) averages, e.g. KMMLU's Category
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What a backend is asked. Its ``key()`` identifies it in the result cache."""

    kind: RequestKind
    context: str
    continuation: str = ""  # for loglikelihood
    until: tuple[str, ...] = ()  # stop sequences for generate
    max_new_tokens: int = 256

    def key(self) -> str:
        import hashlib
        import json

        payload = json.dumps(
            [self.kind, self.context, self.continuation, list(self.until), self.max_new_tokens], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Response:
    """A backend's answer: log-likelihood (and whether the continuation is the greedy one) or text."""

    loglikelihood: float | None = None
    is_greedy: bool | None = None
    text: str | None = None
    token_count: int | None = None  # tokens scored (rolling log-likelihood, for perplexity)


class Backend(Protocol):
    """Answers requests in batches; implementations live in ``backends/`` behind a lazy registry."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Settings that go into the run manifest (model, revision, weight hash, batch size...)."""
        ...

    def answer(self, requests: list[Request]) -> list[Response]: ...
