"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp's server) through its HTTP API, with httpx.

- Log-likelihoods: ``/v1/completions`` with ``echo`` and ``logprobs``, the prompt sent as token ids
  (context tokens + continuation tokens, split as the ``hf`` backend splits them, with the tokenizer
  of the served model), so that the continuation's log-probabilities are read by token position,
  not by character offsets. A continuation is greedy when each of its tokens is its position's top
  log-probability. ``max_length`` is the server's window: a prompt holds at most ``max_length - 1``
  tokens (the server generates one more), its context cut on the left, exactly the prompt
  lm-evaluation-harness's ``local-completions`` sends with the same ``max_length`` (and the row the
  ``hf`` backend runs with ``max_length - 2``); rolling windows are ``max_length - 2`` tokens after
  the prefix token, as there.
- Generation: ``/v1/completions`` (or ``/v1/chat/completions`` with ``chat=True``, the server's chat
  template then applies and the manifest says so), greedy, cut at the stop sequences.
- Requests run concurrently (``concurrency`` threads); connection errors, 429 and 5xx answers are
  retried with exponential backoff; every request has a timeout. A server that stays unreachable
  fails the run with its address named, and nothing is recorded for the unanswered requests.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx

from baton.core.errors import BadRequestError, BatonError, ConfigurationError
from baton.evaluation.types import Request, Response

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_MAX_LENGTH = 2048


class BackendUnreachableError(BatonError):
    status_code = 503
    code = "BackendUnreachable"
    default_hint = "Check that the server runs and that --base-url points at its /v1 address."


class OpenAIBackend:
    """A model served behind an OpenAI-compatible API; ``model`` is the served model's name."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        runtime: Runtime | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        tokenizer: str | None = None,
        chat: bool = False,
        concurrency: int = 8,
        max_retries: int = 3,
        timeout_seconds: float = 120.0,
        max_length: int = DEFAULT_MAX_LENGTH,
        revision: str | None = None,
        weight_hash: str | None = None,
        operator_controlled: bool = False,
        endpoint: str | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigurationError(
                "The openai backend needs the server's address.",
                hint="Pass --base-url http://host:port/v1 (or set OPENAI_BASE_URL).",
            )
        if concurrency < 1 or max_retries < 0:
            raise BadRequestError("concurrency must be at least 1 and max_retries at least 0")
        if max_length < 3:
            raise BadRequestError(f"max_length must be at least 3 (the server's window), got {max_length}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.chat = chat
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout_seconds = timeout_seconds
        self.max_length = max_length
        self.revision = revision
        self.weight_hash = weight_hash
        # True only for servers the operator registered (``evaluation_endpoints``): set by Baton when it
        # builds the backend from a registered endpoint, never from a submitted option.
        self.operator_controlled = operator_controlled
        self.endpoint = endpoint
        self.tokenizer_name = tokenizer
        self._tokenizer: Any = None
        if tokenizer is not None:
            import transformers

            from baton.evaluation.backends.models import resolve_model

            path = resolve_model(tokenizer, runtime).path if runtime is not None else tokenizer
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "revision": self.revision,
            "weight_hash": self.weight_hash,
            "tokenizer": self.tokenizer_name,
            "chat_template": "server" if self.chat else None,
            "truncation": "left",
            "max_length": self.max_length,
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "timeout_seconds": self.timeout_seconds,
            "generation": {"temperature": 0.0, "endpoint": "chat/completions" if self.chat else "completions"},
            "operator_controlled": self.operator_controlled,
            "endpoint": self.endpoint,
        }

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.post(path, json=body)
            except httpx.TransportError as error:
                if attempt == self.max_retries:
                    raise BackendUnreachableError(
                        f"No answer from {self.base_url}{path} after {attempt + 1} tries: {error}"
                    ) from error
            else:
                if response.status_code < 400:
                    payload: dict[str, Any] = response.json()
                    return payload
                if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                    raise BackendUnreachableError(
                        f"{self.base_url}{path} answered {response.status_code}: {response.text[:500]}",
                        hint="Check the model name and the server's log.",
                    )
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    # -- requests -------------------------------------------------------------------------------

    def _require_tokenizer(self) -> Any:
        if self._tokenizer is None:
            raise ConfigurationError(
                "Log-likelihoods through an OpenAI-compatible server need the served model's tokenizer.",
                hint="Pass --tokenizer with the model's folder or hub repo id.",
            )
        return self._tokenizer

    def _encode(self, text: str) -> list[int]:
        ids: list[int] = self._require_tokenizer()(text, add_special_tokens=False)["input_ids"]
        return ids

    def _prefix_token(self) -> int:
        tokenizer = self._require_tokenizer()
        token: int = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return token

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        if not context:
            return [self._prefix_token()], self._encode(continuation)
        spaces = len(context) - len(context.rstrip())
        if spaces:
            continuation, context = context[-spaces:] + continuation, context[:-spaces]
        whole = self._encode(context + continuation)
        context_tokens = self._encode(context)
        return context_tokens, whole[len(context_tokens) :]

    def _score_tokens(self, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        # The prompt and the one generated token fit the window: max_length - 1 prompt tokens.
        tokens = (context + continuation)[-(self.max_length - 1) :]
        start = len(tokens) - len(continuation)
        if start < 1:
            raise BadRequestError(
                f"A continuation of {len(continuation)} tokens does not fit a {self.max_length}-token window "
                "with its context",
                hint="Raise max_length to the served model's window, or shorten the task's answers.",
            )
        body = {"model": self.model, "prompt": tokens, "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0}
        choice = self._post("/completions", body)["choices"][0]
        logprobs = choice["logprobs"]
        values = logprobs["token_logprobs"][start : start + len(continuation)]
        tops = (logprobs.get("top_logprobs") or [])[start : start + len(continuation)]
        names = logprobs["tokens"][start : start + len(continuation)]
        greedy = len(tops) == len(names) and all(
            top and max(top, key=top.get) == name for name, top in zip(names, tops, strict=True)
        )
        return float(sum(values)), greedy

    def _loglikelihood(self, request: Request) -> Response:
        context, continuation = self._encode_pair(request.context, request.continuation)
        if not continuation:
            return Response(loglikelihood=0.0, is_greedy=True)
        total, greedy = self._score_tokens(context, continuation)
        return Response(loglikelihood=total, is_greedy=greedy)

    def _rolling(self, request: Request) -> Response:
        tokens = self._encode(request.context)
        total, predicted, window = 0.0, 0, self.max_length - 2  # prefix + window < max_length: one is generated
        if tokens:
            first = min(window, len(tokens))
            total += self._score_tokens([self._prefix_token()], tokens[:first])[0]
            predicted = first
        while predicted < len(tokens):
            count = min(len(tokens) - predicted, window)
            end = predicted + count
            inputs = tokens[max(0, end - window - 1) : end - 1]
            total += self._score_tokens(inputs[: len(inputs) - (count - 1)], tokens[end - count : end])[0]
            predicted += count
        return Response(loglikelihood=total, token_count=len(tokens))

    def _generate(self, request: Request) -> Response:
        stops = [stop for stop in request.until if stop]
        common: dict[str, Any] = {"model": self.model, "max_tokens": request.max_new_tokens, "temperature": 0}
        if stops:
            common["stop"] = stops
        if self.chat:
            body = common | {"messages": [{"role": "user", "content": request.context}]}
            text = self._post("/chat/completions", body)["choices"][0]["message"]["content"] or ""
        else:
            text = self._post("/completions", common | {"prompt": request.context})["choices"][0]["text"]
        for stop in stops:  # servers differ on whether they cut before the stop: cut here too
            if stop in text:
                text = text[: text.index(stop)]
        return Response(text=text)

    def _answer_one(self, request: Request) -> Response:
        if request.kind == "loglikelihood":
            return self._loglikelihood(request)
        if request.kind == "loglikelihood_rolling":
            return self._rolling(request)
        return self._generate(request)

    def answer(self, requests: list[Request]) -> list[Response]:
        if any(request.kind != "generate" for request in requests):
            self._require_tokenizer()
        if self.concurrency == 1 or len(requests) <= 1:
            return [self._answer_one(request) for request in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._answer_one, requests))
