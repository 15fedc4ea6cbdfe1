"""The ``openai`` backend against a real vLLM server (its CPU build) on loopback. Opt-in.

vLLM runs in its own virtual environment (``bench/eval_vllm_env.py`` makes it: about 10 minutes
and 3.4 GB), so this test runs only when ``BATON_VLLM_PYTHON`` names that environment's python;
otherwise it is reported as skipped with that reason (never silently). The served model is a tiny
Llama (head size 64, which vLLM's CPU attention supports) with random weights; the backend's
log-likelihoods, greediness and generations must equal the local ``hf`` backend's on the same files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_fixtures import CORPUS, serving
from test_runner import write_multiple_choice_task

from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.openai import OpenAIBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task
from baton.evaluation.types import Request
from live_servers import free_port

VLLM_PYTHON = os.environ.get("BATON_VLLM_PYTHON")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not VLLM_PYTHON,
        reason="opt-in: make vLLM's environment with bench/eval_vllm_env.py and set BATON_VLLM_PYTHON",
    ),
]


def make_tiny_llama(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,  # head size 64: vLLM's CPU attention crashes on 16
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # sharper logits, so greedy and argmax vary
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("vllm") / "llama")


@pytest.fixture(scope="module")
def vllm_server(llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert VLLM_PYTHON is not None
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-log") / "vllm.log"
    environment = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1")
    command = [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", str(llama)]
    command += ["--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--dtype", "float32", "--max-model-len", "512"]
    with serving(command, env=environment, log=log, port=port, name="vLLM", timeout=400, poll=1) as url:
        yield url


def test_vllm_answers_equal_the_local_backend(vllm_server: str, llama: Path, tmp_path: Path) -> None:
    remote = OpenAIBackend("tiny", base_url=vllm_server, tokenizer=str(llama), max_length=500, concurrency=4)
    local = HuggingFaceBackend(str(llama))
    requests = [
        Request("loglikelihood", "The capital of France is", " Paris"),
        Request("loglikelihood", "질문: 대한민국의 수도는 어디입니까?\n답변:", " 서울"),
        Request("loglikelihood", "Question: what is two plus two? Answer: ", "four"),
        Request("loglikelihood", "", " The quick brown fox"),
        Request("loglikelihood_rolling", "The quick brown fox jumps over the lazy dog. 하늘은 파랗고 바다는 넓다."),
        Request("generate", "The capital of", until=("\n",), max_new_tokens=6),
    ]
    for request, served, direct in zip(requests, remote.answer(requests), local.answer(requests), strict=True):
        if request.kind == "generate":
            # vLLM holds back a trailing incomplete UTF-8 sequence; the text before it must agree.
            assert (served.text or "").rstrip("\ufffd") == (direct.text or "").rstrip("\ufffd"), request
        else:
            assert served.loglikelihood == pytest.approx(direct.loglikelihood, abs=1e-4), request
        if request.kind == "loglikelihood":
            assert served.is_greedy is direct.is_greedy, request
    task = load_task(write_multiple_choice_task(tmp_path))
    served_run, direct_run = run(task, remote).to_json(), run(task, local).to_json()
    assert [i["prediction"] for i in served_run["items"]] == [i["prediction"] for i in direct_run["items"]]
    for ours, theirs in zip(served_run["items"], direct_run["items"], strict=True):
        assert ours["loglikelihoods"] == pytest.approx(theirs["loglikelihoods"], abs=1e-4)
    remote.close()
