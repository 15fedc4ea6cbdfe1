"""A deterministic backend for fast tests: answers are derived from a hash of the request."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from baton.evaluation.types import Request, Response

if TYPE_CHECKING:
    from baton.core.runtime import Runtime


class DummyBackend:
    """Log-likelihoods in (-10, 0] and short texts, the same for the same request and ``model``."""

    name = "dummy"

    def __init__(
        self, model: str = "dummy", *, runtime: Runtime | None = None, delay_seconds: float = 0.0, **options: Any
    ) -> None:
        self.model = model
        self.options = options
        # A pause per answered batch, standing in for a slow model (progress and killed-worker tests).
        self.delay_seconds = float(delay_seconds)
        self.calls = 0  # how many requests were answered (tests count recomputation with it)

    def describe(self) -> dict[str, Any]:
        # Answers are computed in this process: the operator controls it (private tasks may run on it).
        return {"backend": self.name, "model": self.model, "operator_controlled": True}

    def _digest(self, request: Request) -> bytes:
        return hashlib.sha256(f"{self.model}\0{request.key()}".encode()).digest()

    def _answer_one(self, request: Request) -> Response:
        digest = self._digest(request)
        if request.kind == "generate":
            text = " " + digest[:4].hex()
            for stop in request.until:
                if stop and stop in text:
                    text = text[: text.index(stop)]
            return Response(text=text)
        loglikelihood = -int.from_bytes(digest[:4], "big") / 2**32 * 10.0
        if request.kind == "loglikelihood_rolling":
            tokens = max(1, len(request.context.split()))
            return Response(loglikelihood=loglikelihood * tokens, token_count=tokens)
        return Response(loglikelihood=loglikelihood, is_greedy=digest[4] % 2 == 0)

    def answer(self, requests: list[Request]) -> list[Response]:
        if self.delay_seconds > 0:
            time.sleep(self.delay_seconds)
        self.calls += len(requests)
        return [self._answer_one(request) for request in requests]
