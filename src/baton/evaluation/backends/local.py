"""What the local backends (``hf``, ``onnxruntime``) share: the tokenizer, the start token, how a
(context, continuation) pair becomes tokens, rolling windows, batching by length, and the dispatch
of requests to scoring and generation. No torch here: each backend brings its own model.

The rules are lm-evaluation-harness's ``hf`` model's:

- Trailing whitespace of the context moves to the continuation; the context is tokenized alone,
  the context plus continuation tokenized whole, and the continuation's tokens are the whole
  encoding after the context's length. An empty context is replaced by the prefix token (BOS,
  else EOS).
- The BOS token starts every encoding when the tokenizer's own default does (or a task or the
  backend option says so), and never twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from baton.core.errors import BadRequestError
from baton.evaluation.backends.models import ResolvedModel
from baton.evaluation.types import Request, Response

DEFAULT_MAX_LENGTH = 2048
MAX_LENGTH_ATTRIBUTES = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length", "max_sequence_length")

# A batch ends early where the next row would be shorter than this fraction of the batch's width:
# a padded position costs as much as a real one, and a few long items among short ones would
# otherwise pad a whole batch to their width.
FILL_RATIO = 0.8

_Row = TypeVar("_Row", bound=Sequence[int])


@dataclass(frozen=True)
class Scored:
    loglikelihood: float
    is_greedy: bool


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def length_batches(rows: Sequence[_Row], size: int) -> Iterator[Sequence[_Row]]:
    """Rows sorted longest first, in batches of at most ``size`` rows of similar lengths."""
    start = 0
    while start < len(rows):
        width = len(rows[start])
        end = start + 1
        while end < len(rows) and end - start < size and len(rows[end]) >= FILL_RATIO * width:
            end += 1
        yield rows[start:end]
        start = end


def common_prefix(sequences: Sequence[Sequence[int]]) -> list[int]:
    if not sequences:
        return []
    prefix = list(sequences[0])
    for tokens in sequences[1:]:
        size = 0
        while size < min(len(prefix), len(tokens)) and prefix[size] == tokens[size]:
            size += 1
        del prefix[size:]
    return prefix


def max_length_of(config: Any, tokenizer: Any) -> int:
    """The model's window: from its config, else the tokenizer's ``model_max_length``, else 2048."""
    for attribute in MAX_LENGTH_ATTRIBUTES:
        value = config.get(attribute) if isinstance(config, dict) else getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        return model_max
    return DEFAULT_MAX_LENGTH


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    for stop in stops:
        if stop and stop in text:
            text = text[: text.index(stop)]
    return text


class LocalTextBackend:
    """Tokenizer, start token and request dispatch of a backend that runs a model in this process.

    Subclasses set ``self.resolved``, ``self.model_spec`` and ``self.max_length``, call
    :meth:`_load_tokenizer`, and implement :meth:`score_pairs` and :meth:`generate`.
    """

    name = "local"
    resolved: ResolvedModel
    model_spec: str
    max_length: int
    tokenizer: Any

    def _load_tokenizer(self, *, trust_remote_code: bool, add_bos_token: bool | None) -> None:
        import transformers

        self.tokenizer = transformers.AutoTokenizer.from_pretrained(
            self.resolved.path, trust_remote_code=trust_remote_code
        )
        self._tokenizer_adds_bos = self._detect_tokenizer_bos()
        self.add_bos_token = self._tokenizer_adds_bos
        self.add_bos_token_source = "tokenizer"
        if add_bos_token is not None:
            self.set_add_bos_token(add_bos_token, source="backend option")
        prefix = self.tokenizer.bos_token_id
        self.prefix_token_id: int = prefix if prefix is not None else self.tokenizer.eos_token_id

    # -- the start token ------------------------------------------------------------------------

    def _detect_tokenizer_bos(self) -> bool:
        """Whether the tokenizer, left to its own default, starts every encoding with its BOS token."""
        bos = self.tokenizer.bos_token_id
        if bos is None:
            return False
        plain: list[int] = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        special: list[int] = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        return special[:1] == [bos] and special[1:] == plain

    def set_add_bos_token(self, value: bool, *, source: str) -> None:
        """Prepend the BOS token to every encoding (True) or never (False), overriding the tokenizer."""
        if value and self.tokenizer.bos_token_id is None:
            raise BadRequestError(
                f"add_bos_token is true ({source}) but the tokenizer of {self.model_spec} has no BOS token",
                hint="Drop add_bos_token to follow the tokenizer's default, or set it to false.",
            )
        self.add_bos_token = bool(value)
        self.add_bos_token_source = source

    def apply_task_settings(self, settings: dict[str, Any]) -> None:
        """A task's ``add_bos_token`` applies unless the backend was given one explicitly."""
        value = settings.get("add_bos_token")
        if value is not None and self.add_bos_token_source != "backend option":
            self.set_add_bos_token(bool(value), source="task")

    # -- tokens ---------------------------------------------------------------------------------

    def encode(self, text: str, *, start_token: bool = True) -> list[int]:
        """Token ids of ``text``, starting with the BOS token when ``add_bos_token`` (and ``start_token``).

        As the harness does, a text that already starts with the BOS token's text gets no second one.
        """
        plain: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not (start_token and self.add_bos_token):
            return plain
        bos_text = self.tokenizer.bos_token
        if bos_text and text.startswith(bos_text):
            return plain
        if self._tokenizer_adds_bos:  # the tokenizer's own encoding, exactly
            ids: list[int] = self.tokenizer(text, add_special_tokens=True)["input_ids"]
            return ids
        return [int(self.tokenizer.bos_token_id), *plain]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context tokens and continuation tokens, located by tokenizing the context alone."""
        if not context:  # the prefix token stands for the context; the continuation gets no BOS of its own
            tokens = self.encode(continuation, start_token=False)
            if tokens and tokens[0] == self.prefix_token_id:
                return tokens[:1], tokens[1:]
            return [self.prefix_token_id], tokens
        spaces = len(context) - len(context.rstrip())
        if spaces:
            continuation = context[-spaces:] + continuation
            context = context[:-spaces]
        whole = self.encode(context + continuation)
        context_tokens = self.encode(context)
        return context_tokens, whole[len(context_tokens) :]

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

    # -- answering ------------------------------------------------------------------------------

    def score_pairs(self, pairs: Sequence[tuple[list[int], list[int]]]) -> dict[int, Scored]:
        raise NotImplementedError

    def generate(self, requests: Sequence[Request]) -> list[str]:
        raise NotImplementedError

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

    def _rolling(self, text: str) -> Response:
        tokens = self.encode(text)
        windows = self.rolling_windows(tokens)
        scored = self.score_pairs(windows)
        total = math.fsum(scored[i].loglikelihood for i in range(len(windows)))
        return Response(loglikelihood=total, token_count=len(tokens))
