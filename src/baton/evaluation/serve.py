"""An OpenAI-compatible server over Baton's local ``transformers`` backend (``baton eval serve``).

For operators who want a model on pinned weights behind an HTTP endpoint they control (register
it with ``baton eval endpoint add``; private tasks may then run on it), and for testing Baton's
``openai`` backend against a real server process. It answers the subset of the API evaluations use:

- ``GET /v1/models``;
- ``POST /v1/completions``: ``prompt`` as text or token ids, or a list of either (a batch, as
  lm-evaluation-harness's ``local-completions`` sends: one choice per prompt, ``index`` in order,
  at most ``MAX_PROMPTS``); ``echo`` with ``logprobs`` gives every
  prompt token's log-probability and its top alternatives (as vLLM does), then ``max_tokens``
  greedy tokens; without ``echo``, greedy text cut at ``stop``;
- ``POST /v1/chat/completions``: the model's own chat template, greedy, cut at ``stop``.

Only greedy decoding (temperature 0) is offered: evaluations need reproducible answers.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import torch
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional

from baton.core.errors import BadRequestError, NotFoundError
from baton.core.http import install_error_handlers
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.types import Request

MAX_TOP_LOGPROBS = 20
MAX_PROMPTS = 64  # prompts in one request (each costs a forward pass): more is refused


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    prompt: str | list[int] | list[str] | list[list[int]]
    max_tokens: int = Field(default=16, ge=0, le=4096)
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    temperature: float = 0.0
    stop: str | list[str] | None = None


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage]
    max_tokens: int = Field(default=256, ge=1, le=4096)
    temperature: float = 0.0
    stop: str | list[str] | None = None


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(stop)


class _Server:
    def __init__(self, backend: HuggingFaceBackend, served_name: str) -> None:
        self.backend = backend
        self.served_name = served_name
        self.lock = threading.Lock()  # one forward pass at a time: the model is not thread-safe on CPU

    def check(self, model: str, temperature: float) -> None:
        if model != self.served_name:
            raise NotFoundError(
                f"The model {model!r} does not exist",
                code="model_not_found",
                hint=f"This server serves {self.served_name!r}.",
            )
        if temperature != 0:
            raise BadRequestError("Only greedy decoding (temperature 0) is served", hint="Send temperature 0.")

    def token_names(self, ids: list[int]) -> list[str]:
        names: list[str] = self.backend.tokenizer.convert_ids_to_tokens(ids)
        return names

    @torch.inference_mode()
    def echo(self, tokens: list[int], top: int, max_tokens: int) -> dict[str, Any]:
        """Log-probabilities of every prompt token, then ``max_tokens`` greedy tokens with theirs."""
        if not tokens:
            raise BadRequestError("The prompt is empty", hint="Send at least one token.")
        if len(tokens) + max_tokens > self.backend.max_length:
            raise BadRequestError(
                f"The prompt ({len(tokens)} tokens) and max_tokens ({max_tokens}) exceed the model's "
                f"{self.backend.max_length}-token window",
                hint="Send a shorter prompt.",
            )
        model, device = self.backend.model, self.backend.device
        sequence = list(tokens)
        token_logprobs: list[float | None] = [None]
        top_logprobs: list[dict[str, float] | None] = [None]
        steps = len(tokens) - 1 + max_tokens
        ids = torch.tensor([sequence], device=device)
        logits = model(input_ids=ids).logits[0].float()
        rows = functional.log_softmax(logits, dim=-1)
        for step in range(steps):
            if step >= rows.shape[0]:  # a generated token: run the model on the sequence so far
                logits = model(input_ids=torch.tensor([sequence], device=device)).logits[0, -1:].float()
                rows = torch.cat([rows, functional.log_softmax(logits, dim=-1)])
            row = rows[step]
            if step + 1 >= len(sequence):
                sequence.append(int(row.argmax()))
            token = sequence[step + 1]
            token_logprobs.append(float(row[token]))
            if top:
                values, indices = row.topk(top)
                names = self.token_names(indices.tolist())
                entry = {name: float(value) for name, value in zip(names, values.tolist(), strict=True)}
                own = self.token_names([token])[0]
                entry.setdefault(own, float(row[token]))
                top_logprobs.append(entry)
            else:
                top_logprobs.append(None)
        names = self.token_names(sequence)
        offsets, position = [], 0
        for name_id in sequence:
            offsets.append(position)
            position += len(self.backend.tokenizer.decode([name_id]))
        return {
            "text": self.backend.tokenizer.decode(sequence),
            "logprobs": {
                "tokens": names,
                "token_logprobs": token_logprobs,
                "top_logprobs": top_logprobs,
                "text_offset": offsets,
            },
            "generated": len(sequence) - len(tokens),
        }

    def generate(self, context: str, max_tokens: int, stops: tuple[str, ...]) -> str:
        (text,) = self.backend.generate(
            [Request(kind="generate", context=context, until=stops, max_new_tokens=max_tokens)]
        )
        return text


def create_openai_app(backend: HuggingFaceBackend, served_name: str) -> FastAPI:
    """The OpenAI-compatible routes over ``backend``; ``served_name`` is the model name clients send."""
    server = _Server(backend, served_name)
    app = FastAPI(title="Baton evaluation server", docs_url=None, redoc_url=None)
    install_error_handlers(app)
    created = int(time.time())

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": served_name, "object": "model", "created": created, "owned_by": "baton"}],
        }

    @app.post("/v1/completions")
    def completions(body: CompletionRequest) -> dict[str, Any]:
        server.check(body.model, body.temperature)
        tokenizer = backend.tokenizer
        prompts: list[str | list[int]]
        if isinstance(body.prompt, str) or (body.prompt and isinstance(body.prompt[0], int)):
            prompts = [body.prompt]
        else:
            prompts = list(body.prompt)  # type: ignore[arg-type]
        if not prompts:
            raise BadRequestError("The prompt list is empty", hint="Send at least one prompt.")
        if len(prompts) > MAX_PROMPTS:
            raise BadRequestError(
                f"{len(prompts)} prompts in one request; at most {MAX_PROMPTS} are served",
                hint="Send the prompts in several requests.",
            )
        choices: list[dict[str, Any]] = []
        prompt_tokens = completion_tokens = 0
        for index, prompt in enumerate(prompts):
            if isinstance(prompt, list):
                tokens, text_prompt = list(prompt), tokenizer.decode(prompt)
            else:
                tokens, text_prompt = backend.encode(prompt), prompt
            with server.lock:
                if body.echo:
                    echoed = server.echo(tokens, body.logprobs or 0, body.max_tokens)
                    choice: dict[str, Any] = {"index": index, "text": echoed["text"], "finish_reason": "length"}
                    if body.logprobs is not None:
                        choice["logprobs"] = echoed["logprobs"]
                    generated = int(echoed["generated"])
                else:
                    if body.logprobs is not None:
                        raise BadRequestError("logprobs without echo is not served", hint="Send echo: true.")
                    text = server.generate(text_prompt, body.max_tokens, _stops(body.stop)) if body.max_tokens else ""
                    choice = {"index": index, "text": text, "logprobs": None, "finish_reason": "stop"}
                    generated = len(backend.encode(text, start_token=False))
            choices.append(choice)
            prompt_tokens += len(tokens)
            completion_tokens += generated
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": served_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    @app.post("/v1/chat/completions")
    def chat(body: ChatRequest) -> dict[str, Any]:
        server.check(body.model, body.temperature)
        tokenizer = backend.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise BadRequestError(
                f"The model {served_name!r} has no chat template", hint="Use /v1/completions for this model."
            )
        messages = [message.model_dump() for message in body.messages]
        prompt: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        with server.lock:
            text = server.generate(prompt, body.max_tokens, _stops(body.stop))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }

    return app
