"""Local ``onnxruntime`` backend (CPU): scores and generates with an ONNX graph of a causal LM.

The graph is the one ``baton.variants.produce.export_onnx`` writes (fp32 or quantized): inputs
``input_ids`` and ``attention_mask`` (int64, [batch, sequence]) and, when the model takes
``logits_to_keep``, ``logit_positions`` (int64 [k]); output ``logits`` ([batch, k, vocab], or every
position for a graph without ``logit_positions``), no KV cache. Only the positions from the first one
a batch scores run through the output layer (a large part of a small model's work).
The model is a local folder or a hub revision holding
``model.onnx``, ``config.json`` and the tokenizer, resolved as the ``hf`` backend resolves its
models; tokenization and the start token follow the same rules (``backends/local.py``).

Scoring: each (context, continuation) pair is the row ``(context + continuation)[:-1]`` (truncated
on the left to the window, as the harness does); rows that are equal run once, so the choices of a
multiple-choice question whose continuations are one token (after a shared prefix) share one row.
Rows are sorted by length and right-padded (so every token keeps its position), in batches bounded
by rows and by the size of the logits they return. Log-softmax runs in float64 on the positions that
score a token. Generation is greedy, a batch of prompts at a time, one forward pass per new token over
the whole sequences (right-padded; each row reads its own last position and stops on its own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from baton.core.errors import BadRequestError
from baton.evaluation.backends.local import LocalTextBackend, Scored, cut_at_stops, length_batches, max_length_of
from baton.evaluation.backends.models import ONNX_SUFFIXES, ModelWeightsMissingError, ResolvedModel, resolve_model
from baton.evaluation.types import Request

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

ONNX_FILE = "model.onnx"
LOGIT_POSITIONS = "logit_positions"  # optional graph input: the positions whose logits to return
# The logits one batch returns stay under this many bytes (float32 [rows, width, vocab]).
LOGITS_BUDGET_BYTES = 256 << 20


def _logsoftmax64(rows: np.ndarray) -> np.ndarray:
    values = rows.astype(np.float64, copy=False)
    top = values.max(axis=-1, keepdims=True)
    shifted = values - top
    result: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return result


class OnnxRuntimeBackend(LocalTextBackend):
    """Runs an ONNX causal LM from a local folder or a hub revision with onnxruntime on CPU."""

    name = "onnxruntime"

    def __init__(
        self,
        model: str,
        *,
        runtime: Runtime | None = None,
        batch_size: int = 8,
        max_length: int | None = None,
        add_bos_token: bool | None = None,
        threads: int | None = None,
        trust_remote_code: bool = False,
        user: str | None = None,
        system: bool = False,
        device: str = "cpu",
    ) -> None:
        import onnxruntime  # type: ignore[import-untyped]

        if batch_size < 1:
            raise BadRequestError(f"batch_size must be at least 1, got {batch_size}")
        if device != "cpu":
            raise BadRequestError(
                f"The onnxruntime backend runs on the CPU, not {device!r}", hint="Drop the device option."
            )
        self.resolved: ResolvedModel = resolve_model(model, runtime, user, system=system, suffixes=ONNX_SUFFIXES)
        self.model_spec = model
        self.batch_size = batch_size
        graph = self.resolved.path / ONNX_FILE
        if not graph.is_file():
            raise ModelWeightsMissingError(
                f"{model} holds no {ONNX_FILE} at its top level",
                hint="Point the onnxruntime backend at a folder with model.onnx, config.json and the tokenizer.",
            )
        self._load_tokenizer(trust_remote_code=trust_remote_code, add_bos_token=add_bos_token)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.runtime_version = onnxruntime.__version__
        inputs = {item.name for item in self.session.get_inputs()}
        self._takes_positions = LOGIT_POSITIONS in inputs
        if not {"input_ids", "attention_mask"} <= inputs:
            raise BadRequestError(
                f"{graph} takes inputs {sorted(inputs)}, not input_ids and attention_mask",
                hint="Export the model with baton.variants.produce.export_onnx (logits from ids and mask, no cache).",
            )
        config_path = self.resolved.path / "config.json"
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        self.vocab_size = int(config.get("vocab_size") or len(self.tokenizer))
        self.max_length = max_length or max_length_of(config, self.tokenizer)
        self.truncated_requests = 0
        self.token_positions = 0
        self.padded_positions = 0
        self.model_rows = 0

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_spec,
            "model_path": str(self.resolved.path),
            "repo_id": self.resolved.repo_id,
            "revision": self.resolved.revision,
            "commit": self.resolved.commit_oid,
            "weight_hash": self.resolved.weight_hash,
            "runtime": f"onnxruntime {self.runtime_version}",
            "device": "cpu",
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "truncation": "left",
            "add_bos_token": self.add_bos_token,
            "add_bos_token_source": self.add_bos_token_source,
            "chat_template": None,
            "generation": {"do_sample": False},
            "operator_controlled": True,
        }

    def compute_stats(self) -> dict[str, int]:
        return {
            "token_positions": self.token_positions,
            "padded_positions": self.padded_positions,
            "rows": self.model_rows,
            "truncated_requests": self.truncated_requests,
        }

    # -- the model --------------------------------------------------------------------------------

    def _rows_per_batch(self, width: int) -> int:
        by_memory = LOGITS_BUDGET_BYTES // max(1, width * self.vocab_size * 4)
        return max(1, min(self.batch_size, by_memory))

    def logits(self, rows: Sequence[Sequence[int]], first: int = 0) -> np.ndarray:
        """float32 logits [rows, width - first, vocab] of right-padded rows at positions ``first`` on.

        Index ``j`` is position ``first + j``; padding positions are meaningless.
        """
        width = max(len(row) for row in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for number, row in enumerate(rows):
            input_ids[number, : len(row)] = row
            mask[number, : len(row)] = 1
        self.token_positions += int(mask.sum())
        self.padded_positions += len(rows) * width
        self.model_rows += len(rows)
        feed: dict[str, np.ndarray[Any, Any]] = {"input_ids": input_ids, "attention_mask": mask}
        if self._takes_positions:  # only the positions from ``first`` on run through the output layer
            feed[LOGIT_POSITIONS] = np.arange(first, width, dtype=np.int64)
            (logits,) = self.session.run(["logits"], feed)
            return np.asarray(logits)
        (logits,) = self.session.run(["logits"], feed)
        return np.asarray(logits)[:, first:]

    # -- scoring ----------------------------------------------------------------------------------

    def score_pairs(self, pairs: Sequence[tuple[list[int], list[int]]]) -> dict[int, Scored]:
        """Score (context tokens, continuation tokens) pairs; keys are indices into ``pairs``."""
        results: dict[int, Scored] = {}
        by_row: dict[tuple[int, ...], list[int]] = {}
        for index, (context, continuation) in enumerate(pairs):
            if not continuation:
                results[index] = Scored(0.0, True)
                continue
            whole = context + continuation
            if len(whole) > self.max_length + 1:
                self.truncated_requests += 1
            by_row.setdefault(tuple(whole[-(self.max_length + 1) :][:-1]), []).append(index)
        rows = sorted(by_row, key=len, reverse=True)
        start = 0
        while start < len(rows):
            size = self._rows_per_batch(len(rows[start]))
            batch = next(iter(length_batches(rows[start:], size)))
            start += len(batch)
            # The first position any row of the batch scores a token at: logits from there on only.
            first = min(len(row) - max(len(pairs[index][1]) for index in by_row[row]) for row in batch)
            logits = self.logits(batch, max(first, 0))
            for number, row in enumerate(batch):
                end = len(row) - max(first, 0)
                for index in by_row[row]:
                    continuation = pairs[index][1]
                    logprobs = _logsoftmax64(logits[number, end - len(continuation) : end])
                    targets = np.asarray(continuation)
                    picked = logprobs[np.arange(len(targets)), targets]
                    greedy = bool((logprobs.argmax(axis=-1) == targets).all())
                    results[index] = Scored(float(picked.sum()), greedy)
        return results

    # -- generation -------------------------------------------------------------------------------

    def generate(self, requests: Sequence[Request]) -> list[str]:
        """Greedy continuations, ``batch_size`` requests at a time (each row stops on its own)."""
        texts: list[str] = [""] * len(requests)
        eos = self.tokenizer.eos_token
        eos_id = self.tokenizer.eos_token_id
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].context), reverse=True)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            prompts: dict[int, list[int]] = {}
            for index in batch:
                budget = max(1, self.max_length - requests[index].max_new_tokens)
                prompts[index] = self.encode(requests[index].context)[-budget:] or [self.prefix_token_id]
            generated: dict[int, list[int]] = {index: [] for index in batch}
            active = [index for index in batch if requests[index].max_new_tokens > 0]
            while active:
                windows = [(prompts[i] + generated[i])[-self.max_length :] for i in active]
                first = min(len(window) for window in windows) - 1
                logits = self.logits(windows, first)
                still = []
                for row, index in enumerate(active):
                    token = int(np.argmax(logits[row, len(windows[row]) - 1 - first]))
                    generated[index].append(token)
                    request = requests[index]
                    done = token == eos_id or len(generated[index]) >= request.max_new_tokens
                    if not done and request.until:
                        text = self.tokenizer.decode(generated[index])
                        done = any(stop and stop in text for stop in request.until)
                    if not done:
                        still.append(index)
                active = still
            for index in batch:
                stops = [*requests[index].until, *([eos] if eos else [])]
                # Decoded without special tokens, as the hf backend and the harness decode.
                texts[index] = cut_at_stops(self.tokenizer.decode(generated[index], skip_special_tokens=True), stops)
        return texts
