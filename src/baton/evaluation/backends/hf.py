"""Local ``transformers`` backend (CPU or GPU), scoring as lm-evaluation-harness's ``hf`` model does.

Log-likelihood of a continuation given a context:

- Trailing whitespace of the context moves to the continuation; the context is tokenized alone,
  the context plus continuation tokenized whole, and the continuation's tokens are the whole
  encoding after the context's length (never located by character offsets). An empty context
  is replaced by the prefix token (BOS, else EOS).
- The model reads ``context + continuation[:-1]``; the score is the sum of the log-softmax of
  each continuation token, and ``is_greedy`` says whether every one was the argmax.

The choices of a multiple-choice question share their context, so the context runs once: a
batch of distinct contexts goes through the model (right-padded) keeping its KV cache, the cache
rows are repeated for each choice, and only the choices' tokens run on top of it. When every
continuation is one token (``" A"``, ``" B"``...), the context pass alone scores them all. Requests
longer than the model's window, and models whose cache cannot be reused, take the plain path:
each ``context + continuation`` as its own row, truncated on the left as the harness does.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import transformers
from torch.nn import functional

from baton.core.errors import BadRequestError
from baton.evaluation.backends.models import ResolvedModel, resolve_model
from baton.evaluation.types import Request, Response

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

DEFAULT_MAX_LENGTH = 2048
MAX_LENGTH_ATTRIBUTES = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length", "max_sequence_length")
DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class _Scored:
    loglikelihood: float
    is_greedy: bool


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _StopOnStrings(transformers.StoppingCriteria):
    """Stops each row once its newly generated text contains one of the stop strings."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_length: int) -> None:
        self.tokenizer, self.stops, self.prompt_length = tokenizer, [s for s in stops if s], prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = []
        for row in input_ids[:, self.prompt_length :].tolist():
            text = self.tokenizer.decode(row)
            done.append(any(stop in text for stop in self.stops))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class HuggingFaceBackend:
    """Runs a causal LM from a local folder or a hub revision with ``transformers``."""

    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        runtime: Runtime | None = None,
        batch_size: int = 8,
        device: str = "cpu",
        dtype: str = "auto",
        max_length: int | None = None,
        add_bos_token: bool = False,
        share_context: bool = True,
        trust_remote_code: bool = False,
        user: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise BadRequestError(f"batch_size must be at least 1, got {batch_size}")
        if dtype not in DTYPES:
            raise BadRequestError(f"Unknown dtype {dtype!r}", hint=f"Use one of: {', '.join(DTYPES)}.")
        self.resolved: ResolvedModel = resolve_model(model, runtime, user)
        self.model_spec = model
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.add_bos_token = add_bos_token
        self.share_context = share_context
        self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(
            self.resolved.path, trust_remote_code=trust_remote_code
        )
        loaded: Any = transformers.AutoModelForCausalLM.from_pretrained(
            self.resolved.path, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code
        )
        self.model: Any = loaded.to(self.device).eval()
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.max_length = max_length or self._default_max_length()
        prefix = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else None
        self.prefix_token_id: int = prefix if prefix is not None else self.tokenizer.eos_token_id
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._keeps_logits = "logits_to_keep" in parameters
        self.truncated_requests = 0
        self.context_passes = 0  # forward passes over contexts (tests check the sharing with it)

    # -- settings -------------------------------------------------------------------------------

    def _default_max_length(self) -> int:
        for attribute in MAX_LENGTH_ATTRIBUTES:
            value = getattr(self.model.config, attribute, None)
            if isinstance(value, int) and value > 0:
                return value
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < 1_000_000:
            return model_max
        return DEFAULT_MAX_LENGTH

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_spec,
            "model_path": str(self.resolved.path),
            "repo_id": self.resolved.repo_id,
            "revision": self.resolved.revision,
            "commit": self.resolved.commit_oid,
            "weight_hash": self.resolved.weight_hash,
            "dtype": self.dtype,
            "device": str(self.device),
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "truncation": "left",
            "add_bos_token": self.add_bos_token,
            "chat_template": None,
            "generation": {"do_sample": False},
        }

    # -- tokens ---------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=self.add_bos_token)["input_ids"]
        return ids

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context tokens and continuation tokens, located by tokenizing the context alone."""
        if not context:
            return [self.prefix_token_id], self.encode(continuation)
        spaces = len(context) - len(context.rstrip())
        if spaces:
            continuation = context[-spaces:] + continuation
            context = context[:-spaces]
        whole = self.encode(context + continuation)
        context_tokens = self.encode(context)
        return context_tokens, whole[len(context_tokens) :]

    # -- answering ------------------------------------------------------------------------------

    def answer(self, requests: list[Request]) -> list[Response]:
        responses: list[Response | None] = [None] * len(requests)
        pairs: list[tuple[int, list[int], list[int]]] = []
        rolling: list[int] = []
        generations: list[int] = []
        for index, request in enumerate(requests):
            if request.kind == "loglikelihood":
                pairs.append((index, *self.encode_pair(request.context, request.continuation)))
            elif request.kind == "loglikelihood_rolling":
                rolling.append(index)
            else:
                generations.append(index)
        for index, scored in self.score_pairs([(c, t) for _, c, t in pairs]).items():
            responses[pairs[index][0]] = Response(loglikelihood=scored.loglikelihood, is_greedy=scored.is_greedy)
        for index in rolling:
            responses[index] = self._rolling(requests[index].context)
        for index, text in zip(generations, self.generate([requests[i] for i in generations]), strict=True):
            responses[index] = Response(text=text)
        return [response for response in responses if response is not None]

    def score_pairs(self, pairs: Sequence[tuple[list[int], list[int]]]) -> dict[int, _Scored]:
        """Score (context tokens, continuation tokens) pairs; keys are indices into ``pairs``."""
        results: dict[int, _Scored] = {}
        shared: dict[tuple[int, ...], list[int]] = {}
        plain: list[int] = []
        for index, (context, continuation) in enumerate(pairs):
            if not continuation:
                results[index] = _Scored(0.0, True)
            elif self.share_context and len(context) + len(continuation) <= self.max_length + 1:
                shared.setdefault(tuple(context), []).append(index)
            else:
                plain.append(index)
        try:
            self._score_shared(pairs, shared, results)
        except (TypeError, AttributeError, NotImplementedError):  # the model cannot reuse its KV cache
            self.share_context = False
            plain.extend(index for indices in shared.values() for index in indices if index not in results)
        self._score_plain(pairs, plain, results)
        return results

    @torch.inference_mode()
    def _score_shared(
        self,
        pairs: Sequence[tuple[list[int], list[int]]],
        shared: dict[tuple[int, ...], list[int]],
        results: dict[int, _Scored],
    ) -> None:
        contexts = sorted(shared, key=len, reverse=True)  # similar lengths together: less padding
        for batch in _chunks(contexts, self.batch_size):
            lengths = torch.tensor([len(context) for context in batch], device=self.device)
            width = int(lengths.max())
            input_ids = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            context_mask = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            for row, context in enumerate(batch):
                input_ids[row, : len(context)] = torch.tensor(context, device=self.device)
                context_mask[row, : len(context)] = 1
            positions = torch.arange(width, device=self.device).expand(len(batch), width)
            keep: dict[str, Any] = {}
            last = lengths - 1
            if self._keeps_logits:
                kept, last = torch.unique(lengths - 1, return_inverse=True)
                keep["logits_to_keep"] = kept
            self.context_passes += 1
            output = self.model(
                input_ids=input_ids, attention_mask=context_mask, position_ids=positions, use_cache=True, **keep
            )
            first = functional.log_softmax(output.logits[torch.arange(len(batch)), last].float(), dim=-1)
            cache = getattr(output, "cache", None) or output.past_key_values
            # Each choice's first token is predicted by its context's last position.
            rows: list[tuple[int, int]] = []  # (context row, pair index) for continuations longer than one token
            for row, context in enumerate(batch):
                for index in shared[context]:
                    continuation = pairs[index][1]
                    token = continuation[0]
                    scored = _Scored(float(first[row, token]), bool(first[row].argmax() == token))
                    results[index] = scored
                    if len(continuation) > 1:
                        rows.append((row, index))
            chunks = list(_chunks(rows, self.batch_size * 4))
            for number, chunk in enumerate(chunks):
                # Selecting cache rows changes the cache in place: copy it unless this is its last use.
                rows_cache = cache if number == len(chunks) - 1 else copy.deepcopy(cache)
                self._score_rest(pairs, chunk, rows_cache, context_mask, lengths, results)

    def _score_rest(
        self,
        pairs: Sequence[tuple[list[int], list[int]]],
        rows: Sequence[tuple[int, int]],
        cache: Any,
        context_mask: torch.Tensor,
        lengths: torch.Tensor,
        results: dict[int, _Scored],
    ) -> None:
        """Run continuation tokens 1.. on top of their context's cache rows."""
        owners = torch.tensor([row for row, _ in rows], device=self.device)
        inputs = [pairs[index][1][:-1] for _, index in rows]
        width = max(len(tokens) for tokens in inputs)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long, device=self.device)
        mask = torch.zeros((len(rows), width), dtype=torch.long, device=self.device)
        for row, tokens in enumerate(inputs):
            input_ids[row, : len(tokens)] = torch.tensor(tokens, device=self.device)
            mask[row, : len(tokens)] = 1
        cache.reorder_cache(owners)
        positions = lengths[owners].unsqueeze(1) + torch.arange(width, device=self.device)
        positions = positions.clamp(max=self.max_length - 1)  # only padding can pass the window
        attention_mask = torch.cat([context_mask[owners], mask], dim=1)
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=positions,
            use_cache=False,
            **{self._cache_argument: cache},
        )
        logprobs = functional.log_softmax(output.logits.float(), dim=-1)
        for row, (_, index) in enumerate(rows):
            targets = torch.tensor(pairs[index][1][1:], device=self.device)
            predicted = logprobs[row, : len(targets)]
            head = results[index]
            total = head.loglikelihood + float(predicted.gather(1, targets.unsqueeze(1)).sum())
            greedy = head.is_greedy and bool((predicted.argmax(dim=-1) == targets).all())
            results[index] = _Scored(total, greedy)

    @torch.inference_mode()
    def _score_plain(
        self, pairs: Sequence[tuple[list[int], list[int]]], indices: list[int], results: dict[int, _Scored]
    ) -> None:
        """Each pair as its own row: ``(context + continuation)[-(max_length + 1):][:-1]``."""
        ordered = sorted(indices, key=lambda i: len(pairs[i][0]) + len(pairs[i][1]), reverse=True)
        for batch in _chunks(ordered, self.batch_size):
            rows: list[list[int]] = []
            for index in batch:
                context, continuation = pairs[index]
                whole = context + continuation
                if len(whole) > self.max_length + 1:
                    self.truncated_requests += 1
                rows.append(whole[-(self.max_length + 1) :][:-1])
            width = max(len(row) for row in rows)
            input_ids = torch.zeros((len(rows), width), dtype=torch.long, device=self.device)
            mask = torch.zeros((len(rows), width), dtype=torch.long, device=self.device)
            for row, tokens in enumerate(rows):
                input_ids[row, : len(tokens)] = torch.tensor(tokens, device=self.device)
                mask[row, : len(tokens)] = 1
            positions = torch.arange(width, device=self.device).expand(len(rows), width)
            logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions).logits
            logprobs = functional.log_softmax(logits.float(), dim=-1)
            for row, index in enumerate(batch):
                continuation = pairs[index][1]
                end = len(rows[row])
                predicted = logprobs[row, end - len(continuation) : end]
                targets = torch.tensor(continuation, device=self.device)
                total = float(predicted.gather(1, targets.unsqueeze(1)).sum())
                greedy = bool((predicted.argmax(dim=-1) == targets).all())
                results[index] = _Scored(total, greedy)

    def rolling_windows(self, tokens: list[int]) -> list[tuple[list[int], list[int]]]:
        """Disjoint windows over ``tokens`` as the harness makes them (context length 1)."""
        windows: list[tuple[list[int], list[int]]] = []
        if not tokens:
            return windows
        window = self.max_length
        first = min(window, len(tokens))
        windows.append(([self.prefix_token_id], tokens[:first]))
        predicted = first
        while predicted < len(tokens):
            count = min(len(tokens) - predicted, window)
            end = predicted + count
            inputs = tokens[max(0, end - window - 1) : end - 1]
            targets = tokens[end - count : end]
            windows.append((inputs[: len(inputs) - (len(targets) - 1)], targets))
            predicted += count
        return windows

    def _rolling(self, text: str) -> Response:
        tokens = self.encode(text)
        windows = self.rolling_windows(tokens)
        scored = self.score_pairs(windows)
        total = math.fsum(scored[i].loglikelihood for i in range(len(windows)))
        return Response(loglikelihood=total, token_count=len(tokens))

    # -- generation -----------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, requests: Sequence[Request]) -> list[str]:
        texts: list[str] = [""] * len(requests)
        groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault((request.until, request.max_new_tokens), []).append(index)
        eos = self.tokenizer.eos_token
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        for (until, max_new_tokens), indices in groups.items():
            stops = [*until, *([eos] if eos else [])]
            budget = max(1, self.max_length - max_new_tokens)
            for batch in _chunks(indices, self.batch_size):
                encoded = [self.encode(requests[i].context)[-budget:] or [self.prefix_token_id] for i in batch]
                width = max(len(tokens) for tokens in encoded)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long, device=self.device)
                mask = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
                for row, tokens in enumerate(encoded):  # left padding: every row ends where generation starts
                    input_ids[row, width - len(tokens) :] = torch.tensor(tokens, device=self.device)
                    mask[row, width - len(tokens) :] = 1
                output = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad,
                    stopping_criteria=transformers.StoppingCriteriaList([_StopOnStrings(self.tokenizer, stops, width)]),
                )
                for row, index in enumerate(batch):
                    generated = output[row, width:].tolist()
                    while generated and generated[-1] == pad:  # rows that stopped early are padded
                        generated.pop()
                    text = self.tokenizer.decode(generated)
                    for stop in stops:
                        if stop and stop in text:
                            text = text[: text.index(stop)]
                    texts[index] = text
        return texts
