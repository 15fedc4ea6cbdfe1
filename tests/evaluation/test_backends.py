"""Backends: the registry, the dummy backend, and the local transformers backend against plain torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from backend_fixtures import make_tiny_gpt2

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.evaluation.backends import UnknownBackendError, create_backend
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.models import ModelWeightsMissingError
from baton.evaluation.types import Request

CONTEXTS = [
    "The capital of France is",
    "질문: 대한민국의 수도는 어디입니까?\n답변:",
    "Question: what is two plus two? Answer: ",  # trailing space moves to the continuation
    "",  # empty context: the prefix token stands in
]
CONTINUATIONS = [" Paris", " Seoul. The quick brown fox", " A", " 서울", "four", " 하늘은 파랗고 바다는 넓다"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> HuggingFaceBackend:
    return HuggingFaceBackend(str(tiny_model), batch_size=3)


def direct_loglikelihood(backend: HuggingFaceBackend, context: str, continuation: str) -> tuple[float, bool]:
    """Sum of the log-softmax of the continuation tokens given the context, with plain torch."""
    tokenizer, model = backend.tokenizer, backend.model
    if context:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
        continuation_ids = whole[len(context_ids) :]
    else:
        context_ids = [tokenizer.eos_token_id]
        continuation_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([context_ids + continuation_ids])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    total, greedy = 0.0, True
    for offset, token in enumerate(continuation_ids):
        row = logprobs[len(context_ids) - 1 + offset]
        total += float(row[token])
        greedy = greedy and int(row.argmax()) == token
    return total, greedy


def all_pairs() -> list[Request]:
    return [Request("loglikelihood", context, continuation) for context in CONTEXTS for continuation in CONTINUATIONS]


# --- registry and dummy ---------------------------------------------------------------------------


def test_unknown_backend_suggests_the_close_name() -> None:
    with pytest.raises(UnknownBackendError, match="Did you mean 'hf'"):
        create_backend("hff", "model")


def test_dummy_backend_is_deterministic() -> None:
    requests = [
        *all_pairs(),
        Request("generate", "질문: 1+1?\n답변:", until=("\n",)),
        Request("loglikelihood_rolling", "하늘은 파랗고 바다는 넓다"),
    ]
    first = create_backend("dummy", "m").answer(requests)
    second = create_backend("dummy", "m").answer(list(requests))
    other = create_backend("dummy", "other").answer(requests)
    assert first == second
    assert first != other
    assert all(r.loglikelihood is not None and r.loglikelihood <= 0 for r in first[:-2])
    assert first[-2].text and first[-1].token_count == 4


# --- hf ---------------------------------------------------------------------------------------------


def test_loglikelihoods_equal_a_direct_torch_computation(backend: HuggingFaceBackend) -> None:
    requests = all_pairs()
    responses = backend.answer(requests)
    for request, response in zip(requests, responses, strict=True):
        expected, greedy = direct_loglikelihood(backend, request.context, request.continuation)
        assert response.loglikelihood == pytest.approx(expected, abs=1e-5), request
        assert response.is_greedy is greedy


def test_shared_context_path_equals_the_plain_path(tiny_model: Path, backend: HuggingFaceBackend) -> None:
    plain = HuggingFaceBackend(str(tiny_model), batch_size=2, share_context=False)
    requests = all_pairs()
    before = backend.context_passes
    shared_responses = backend.answer(requests)
    # One pass per batch of up to 3 distinct contexts of similar lengths, whatever the number of
    # choices: here 3 passes for 4 contexts and 24 requests.
    assert backend.context_passes - before == 3
    for shared, alone in zip(shared_responses, plain.answer(requests), strict=True):
        assert shared.loglikelihood == pytest.approx(alone.loglikelihood, abs=1e-5)
        assert shared.is_greedy is alone.is_greedy


def test_is_greedy_for_the_model_s_own_continuation(backend: HuggingFaceBackend) -> None:
    context = "The capital of France is"
    ids = backend.tokenizer(context, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        generated = backend.model.generate(
            torch.tensor([ids]), max_new_tokens=3, do_sample=False, pad_token_id=backend.tokenizer.eos_token_id
        )[0, len(ids) :].tolist()
    continuation = backend.tokenizer.decode(generated)
    if backend.encode_pair(context, continuation)[1] != generated:
        pytest.skip("the greedy tokens do not survive a decode/encode round trip with this tokenizer")
    greedy, other = backend.answer(
        [Request("loglikelihood", context, continuation), Request("loglikelihood", context, continuation + " Seoul")]
    )
    assert greedy.is_greedy is True
    assert greedy.loglikelihood == pytest.approx(direct_loglikelihood(backend, context, continuation)[0], abs=1e-5)
    assert other.is_greedy is direct_loglikelihood(backend, context, continuation + " Seoul")[1]


def test_generation_stops_at_stop_sequences(backend: HuggingFaceBackend) -> None:
    context = "질문: 대한민국의 수도는"
    (free,) = backend.answer([Request("generate", context, max_new_tokens=12)])
    assert free.text
    stop = free.text[len(free.text) // 2 :][:2]
    expected = free.text[: free.text.index(stop)]
    stopped = backend.answer([Request("generate", context, until=(stop,), max_new_tokens=12)])
    assert stopped[0].text == expected
    assert stop not in (stopped[0].text or "")


def test_rolling_loglikelihood_over_windows(tiny_model: Path, backend: HuggingFaceBackend) -> None:
    text = "The quick brown fox jumps over the lazy dog. 하늘은 파랗고 바다는 넓다. " * 3
    tokens = backend.encode(text)
    (whole,) = backend.answer([Request("loglikelihood_rolling", text)])
    assert whole.token_count == len(tokens) < backend.max_length
    expected, _ = direct_loglikelihood(backend, "", text)
    assert whole.loglikelihood == pytest.approx(expected, abs=1e-4)
    # Small windows: several disjoint windows, each token predicted once.
    windowed = HuggingFaceBackend(str(tiny_model), max_length=16)
    windows = windowed.rolling_windows(tokens)
    assert [token for _, targets in windows for token in targets] == tokens
    plain = HuggingFaceBackend(str(tiny_model), max_length=16, share_context=False)
    (shared_answer,) = windowed.answer([Request("loglikelihood_rolling", text)])
    (plain_answer,) = plain.answer([Request("loglikelihood_rolling", text)])
    assert shared_answer.loglikelihood == pytest.approx(plain_answer.loglikelihood, abs=1e-4)


def test_folder_without_weights_is_refused(tmp_path: Path, tiny_model: Path) -> None:
    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(ModelWeightsMissingError, match=str(empty)):
        create_backend("hf", str(empty))


def test_hub_revision_is_snapshotted_and_loaded(runtime: Runtime, tiny_model: Path) -> None:
    from baton.hub import commits, repos

    files = {path.name: path.read_bytes() for path in tiny_model.iterdir() if path.is_file()}
    with runtime.database.session(write=True) as session:
        user = accounts.actor_for(accounts.create_user(session, "team"))
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", "team/tiny"), private=False)
        commits.initial_commit(session, runtime.store, user, repo)
        commit = commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="weights")
        oid = commit.oid
    backend = HuggingFaceBackend(f"team/tiny@{oid}", runtime=runtime)
    described = backend.describe()
    assert described["repo_id"] == "team/tiny" and described["commit"] == oid
    assert described["weight_hash"] == HuggingFaceBackend(str(tiny_model)).describe()["weight_hash"]
    local = HuggingFaceBackend(str(tiny_model))
    request = [Request("loglikelihood", "The capital of France is", " Paris")]
    assert backend.answer(request) == local.answer(request)


def test_generation_is_counted_in_compute_stats(tiny_model: Path) -> None:
    """The contexts' first pass counts as token positions; each further decoding step as one
    position per row of its batch; the tokens each row generated until it stopped, apart."""
    backend = HuggingFaceBackend(str(tiny_model), batch_size=2)
    contexts = ["The capital of France is", "질문: 대한민국의 수도는", "The quick brown fox jumps over the lazy"]
    requests = [Request("generate", context, max_new_tokens=5) for context in contexts]
    before = backend.compute_stats()
    texts = backend.generate(requests)
    stats = {key: value - before[key] for key, value in backend.compute_stats().items()}
    lengths = sorted((len(backend.encode(context)) for context in contexts), reverse=True)
    assert stats["token_positions"] == sum(lengths)
    assert stats["rows"] == 3
    # Longest first, two rows then one: the padded batches are 2 x lengths[0] and 1 x lengths[2].
    assert stats["padded_positions"] == 2 * lengths[0] + lengths[2]
    assert all(texts) and backend.tokenizer.eos_token not in "".join(texts)
    assert stats["generation_steps"] == 10  # 5 tokens per batch, the first from the contexts' pass
    assert stats["generation_positions"] == 2 * 4 + 1 * 4
    assert stats["generated_tokens"] == 15
    # A stop string ends a row early: fewer tokens generated than the budget allows.
    stop = texts[0][len(texts[0]) // 2 :][:1]
    again = backend.compute_stats()["generated_tokens"]
    (cut,) = backend.generate([Request("generate", contexts[0], until=(stop,), max_new_tokens=5)])
    assert cut == texts[0][: texts[0].index(stop)]
    assert backend.compute_stats()["generated_tokens"] - again < 5


def test_openai_backend_window_is_the_server_s(tiny_model: Path) -> None:
    """A prompt holds at most max_length - 1 tokens (the server generates one more); a continuation
    that cannot fit with any context is refused before anything is sent (port 9 answers nothing)."""
    from baton.core.errors import BadRequestError
    from baton.evaluation.backends.openai import OpenAIBackend

    with pytest.raises(BadRequestError, match="at least 3"):
        OpenAIBackend("tiny", base_url="http://127.0.0.1:9/v1", tokenizer=str(tiny_model), max_length=2)
    remote = OpenAIBackend("tiny", base_url="http://127.0.0.1:9/v1", tokenizer=str(tiny_model), max_length=8)
    long = " The quick brown fox jumps over the lazy dog and more"
    assert len(remote._encode(long)) >= 7
    with pytest.raises(BadRequestError, match="does not fit a 8-token window") as raised:
        remote.answer([Request("loglikelihood", "The capital", long)])
    assert "max_length" in (raised.value.hint or "")
    remote.close()
