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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import transformers
from torch.nn import functional

from baton.core.errors import BadRequestError
from baton.evaluation.backends.local import (
    LocalTextBackend,
    Scored,
    chunks,
    common_prefix,
    cut_at_stops,
    length_batches,
    max_length_of,
)
from baton.evaluation.backends.models import ResolvedModel, resolve_model
from baton.evaluation.types import Request

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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


class HuggingFaceBackend(LocalTextBackend):
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
        add_bos_token: bool | None = None,
        share_context: bool = True,
        trust_remote_code: bool = False,
        user: str | None = None,
        system: bool = False,
    ) -> None:
        if batch_size < 1:
            raise BadRequestError(f"batch_size must be at least 1, got {batch_size}")
        if dtype not in DTYPES:
            raise BadRequestError(f"Unknown dtype {dtype!r}", hint=f"Use one of: {', '.join(DTYPES)}.")
        self.resolved: ResolvedModel = resolve_model(model, runtime, user, system=system)
        self.model_spec = model
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.share_context = share_context
        self._load_tokenizer(trust_remote_code=trust_remote_code, add_bos_token=add_bos_token)
        loaded: Any = transformers.AutoModelForCausalLM.from_pretrained(
            self.resolved.path, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code
        )
        self.model: Any = loaded.to(self.device).eval()
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.max_length = max_length or max_length_of(self.model.config, self.tokenizer)
        parameters = inspect.signature(self.model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._keeps_logits = "logits_to_keep" in parameters
        self.truncated_requests = 0
        self.context_passes = 0  # forward passes over contexts (tests check the sharing with it)
        self.token_positions = 0  # token positions run through the model (padding excluded)
        self.padded_positions = 0  # positions of the padded batches (what the model computed)
        self.model_rows = 0  # rows of the batches run through the model

    def compute_stats(self) -> dict[str, int]:
        """What the model computed so far (for the manifest and the benchmark)."""
        return {
            "token_positions": self.token_positions,
            "padded_positions": self.padded_positions,
            "rows": self.model_rows,
            "context_passes": self.context_passes,
            "truncated_requests": self.truncated_requests,
        }

    # -- settings -------------------------------------------------------------------------------

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
            "add_bos_token_source": self.add_bos_token_source,  # tokenizer (its default), task or backend option
            "chat_template": None,
            "generation": {"do_sample": False},
            "operator_controlled": True,  # local weights, run in this process
        }

    def score_pairs(self, pairs: Sequence[tuple[list[int], list[int]]]) -> dict[int, Scored]:
        """Score (context tokens, continuation tokens) pairs; keys are indices into ``pairs``."""
        results: dict[int, Scored] = {}
        shared: dict[tuple[int, ...], list[int]] = {}
        plain: list[int] = []
        pairs = list(pairs)
        for index, (context, continuation) in enumerate(pairs):
            if not continuation:
                results[index] = Scored(0.0, True)
            elif self.share_context and len(continuation) <= self.max_length:
                if len(context) + len(continuation) > self.max_length + 1:
                    # Too long for the window: the context keeps its last tokens, exactly the row the
                    # harness runs ((context + continuation)[-(max_length + 1):][:-1]); choices of one
                    # length still share it.
                    context = context[len(context) + len(continuation) - self.max_length - 1 :]
                    pairs[index] = (context, continuation)
                    self.truncated_requests += 1
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

    def _count(self, positions: int, rows: int, width: int) -> None:
        self.token_positions += positions
        self.padded_positions += rows * width
        self.model_rows += rows

    @torch.inference_mode()
    def _score_shared(
        self,
        pairs: Sequence[tuple[list[int], list[int]]],
        shared: dict[tuple[int, ...], list[int]],
        results: dict[int, Scored],
    ) -> None:
        """One pass per distinct context (batched), extended by the tokens all its continuations share.

        Choices such as " A" ... " D" often tokenize as a shared " " and a letter: the context row
        then takes the shared tokens too, and every choice is scored from this one pass. Longer
        continuations run their remaining tokens on top of the row's KV cache (``_score_rest``).
        """
        contexts = sorted(shared, key=len, reverse=True)  # similar lengths together: less padding
        for batch in length_batches(contexts, self.batch_size):
            # The tokens every continuation of the context shares, except each one's last token.
            prefixes = [common_prefix([pairs[i][1][:-1] for i in shared[context]]) for context in batch]
            rows_tokens = [list(context) + prefix for context, prefix in zip(batch, prefixes, strict=True)]
            if any(len(tokens) > self.max_length for tokens in rows_tokens):
                prefixes = [[] for _ in batch]
                rows_tokens = [list(context) for context in batch]
            lengths = torch.tensor([len(tokens) for tokens in rows_tokens], device=self.device)
            width = int(lengths.max())
            # Left padding: every row ends in the last column, so the positions that score choices are
            # the last few columns of every row and the output layer runs on those columns only.
            input_ids = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            context_mask = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            positions = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            for row, tokens in enumerate(rows_tokens):
                start = width - len(tokens)
                input_ids[row, start:] = torch.tensor(tokens, device=self.device)
                context_mask[row, start:] = 1
                positions[row, start:] = torch.arange(len(tokens), device=self.device)
            # Columns whose next-token distribution scores a choice: the context's last, and the prefix's.
            needed = [
                range(width - len(tokens) + len(context) - 1, width)
                for context, tokens in zip(batch, rows_tokens, strict=True)
            ]
            keep: dict[str, Any] = {}
            first_kept = min(span.start for span in needed) if self._keeps_logits else 0
            if self._keeps_logits:
                keep["logits_to_keep"] = width - first_kept
            # Keep the KV cache only when some continuation goes on past this pass.
            goes_on = any(
                len(pairs[index][1]) > len(prefix) + 1
                for context, prefix in zip(batch, prefixes, strict=True)
                for index in shared[context]
            )
            self.context_passes += 1
            self._count(int(lengths.sum()), len(batch), width)
            output = self.model(
                input_ids=input_ids, attention_mask=context_mask, position_ids=positions, use_cache=goes_on, **keep
            )
            wanted = [(row, column) for row, span in enumerate(needed) for column in span]
            row_index = torch.tensor([row for row, _ in wanted], device=self.device)
            column_index = torch.tensor([column - first_kept for _, column in wanted], device=self.device)
            logprobs = functional.log_softmax(output.logits[row_index, column_index].float(), dim=-1)
            best = logprobs.argmax(dim=-1).tolist()
            offsets: dict[tuple[int, int], int] = {key: number for number, key in enumerate(wanted)}
            cache = (getattr(output, "cache", None) or output.past_key_values) if goes_on else None
            rest: list[tuple[int, int, int]] = []  # (row, pair index, tokens already scored)
            for row, context in enumerate(batch):
                scored_here = len(prefixes[row]) + 1
                for index in shared[context]:
                    continuation = pairs[index][1]
                    total, greedy = 0.0, True
                    start = needed[row].start
                    for step, token in enumerate(continuation[:scored_here]):
                        number = offsets[(row, start + step)]
                        total += float(logprobs[number, token])
                        greedy = greedy and best[number] == token
                    results[index] = Scored(total, greedy)
                    if len(continuation) > scored_here:
                        rest.append((row, index, scored_here))
            # Continuations that go on alike (all but their last token) share one row of the rest pass.
            groups: dict[tuple[int, tuple[int, ...]], list[tuple[int, int]]] = {}
            for row, index, done in rest:
                inputs = tuple(pairs[index][1][done - 1 : -1])
                groups.setdefault((row, inputs), []).append((index, done))
            keys = list(groups)
            parts = list(chunks(keys, self.batch_size * 4))
            for number, chunk in enumerate(parts):
                # Selecting cache rows changes the cache in place: copy it unless this is its last use.
                rows_cache = cache if number == len(parts) - 1 else copy.deepcopy(cache)
                members = [(key, groups[key]) for key in chunk]
                self._score_rest(pairs, members, rows_cache, context_mask, lengths, results)

    def _score_rest(
        self,
        pairs: Sequence[tuple[list[int], list[int]]],
        rows: Sequence[tuple[tuple[int, tuple[int, ...]], list[tuple[int, int]]]],
        cache: Any,
        context_mask: torch.Tensor,
        lengths: torch.Tensor,
        results: dict[int, Scored],
    ) -> None:
        """Run the continuation tokens not scored yet on top of their context row's cache.

        Each entry of ``rows`` is ((cache row, input tokens), [(pair index, tokens already scored)]):
        the input tokens are the last scored token and the rest but the final one.
        """
        owners = torch.tensor([row for (row, _), _ in rows], device=self.device)
        inputs = [list(tokens) for (_, tokens), _ in rows]
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
        self._count(int(mask.sum()), len(rows), width)
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=positions,
            use_cache=False,
            **{self._cache_argument: cache},
        )
        logprobs = functional.log_softmax(output.logits.float(), dim=-1)
        for row, (_, members) in enumerate(rows):
            for index, done in members:
                targets = torch.tensor(pairs[index][1][done:], device=self.device)
                predicted = logprobs[row, : len(targets)]
                head = results[index]
                total = head.loglikelihood + float(predicted.gather(1, targets.unsqueeze(1)).sum())
                greedy = head.is_greedy and bool((predicted.argmax(dim=-1) == targets).all())
                results[index] = Scored(total, greedy)

    @torch.inference_mode()
    def _score_plain(
        self, pairs: Sequence[tuple[list[int], list[int]]], indices: list[int], results: dict[int, Scored]
    ) -> None:
        """Each pair as its own row: ``(context + continuation)[-(max_length + 1):][:-1]``."""
        ordered = sorted(indices, key=lambda i: len(pairs[i][0]) + len(pairs[i][1]), reverse=True)
        for batch in chunks(ordered, self.batch_size):
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
            self._count(sum(len(row) for row in rows), len(rows), width)
            logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions).logits
            logprobs = functional.log_softmax(logits.float(), dim=-1)
            for row, index in enumerate(batch):
                continuation = pairs[index][1]
                end = len(rows[row])
                predicted = logprobs[row, end - len(continuation) : end]
                targets = torch.tensor(continuation, device=self.device)
                total = float(predicted.gather(1, targets.unsqueeze(1)).sum())
                greedy = bool((predicted.argmax(dim=-1) == targets).all())
                results[index] = Scored(total, greedy)

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
            for batch in chunks(indices, self.batch_size):
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
                    texts[index] = cut_at_stops(self.tokenizer.decode(generated), stops)
        return texts
