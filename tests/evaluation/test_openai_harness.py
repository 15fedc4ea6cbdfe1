"""Baton's ``openai`` backend against lm-evaluation-harness's ``local-completions`` model, both on
the same ``baton eval serve`` process on loopback (a real OpenAI-compatible server).

The harness sends token ids (``tokenized_requests``, the default, with the served model's
tokenizer through ``tokenizer_backend=huggingface``) in batches, as a list of token lists; Baton
sends one token list per request. Per-choice log-likelihoods agree within 1e-6 relative and the
predictions are the same on KMMLU- and KoBEST-COPA-shaped data, with a BOS-adding tokenizer: both
send no BOS by default (their numbers equal the local ``hf`` backend's with ``add_bos_token=False``
and not its default, which adds it). Every third KMMLU question is longer than the window given to
both (``max_length`` 128): both send its last 127 tokens (the server generates one more), which is
the row the ``hf`` backend runs with ``max_length`` 126.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backend_fixtures import serving, train_tiny_gpt2

from baton.evaluation import parity
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.openai import OpenAIBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task
from live_servers import free_port

BATON = Path(sys.executable).parent / "baton"
TASKS = ("kmmlu", "kobest_copa")
WINDOW = 128  # max_length given to both clients (the served model's own window is 1024)
RELATIVE = 1e-6
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, dict[str, Path]], Path]]:
    folder = tmp_path_factory.mktemp("openai-harness")
    files = parity.write_sample_data(folder / "data", rows=8, seed=3, long_every=3)
    train = parity.write_sample_data(folder / "train", rows=10, seed=99)
    texts = [
        item.prompt + item.choices[int(item.answer or 0)]
        for task in TASKS
        for item in load_task(task, data=train[task]).items()
    ]
    # A few steps, then position embeddings amplified: its choices vary from item to item.
    model = train_tiny_gpt2(folder / "model", texts, steps=4, position_scale=30.0, bos=True)
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    command = [str(BATON), "eval", "serve", "--model", str(model), "--served-name", "tiny", "--port", str(port)]
    with serving(
        command, env=environment, log=folder / "serve.log", port=port, name="baton eval serve", timeout=90
    ) as url:
        yield url, model, files, folder


def test_a_batch_of_token_prompts_gets_one_choice_each(served: tuple[str, Path, dict, Path]) -> None:
    url, _, _, _ = served
    body = {"model": "tiny", "prompt": [[5, 6, 7], [8, 9]], "max_tokens": 1, "echo": True, "logprobs": 1}
    answer = httpx.post(f"{url}/completions", json=body, timeout=30).json()
    assert [choice["index"] for choice in answer["choices"]] == [0, 1]
    assert [len(choice["logprobs"]["token_logprobs"]) for choice in answer["choices"]] == [4, 3]
    too_many = httpx.post(f"{url}/completions", json=body | {"prompt": [[5]] * 65}, timeout=30)
    assert too_many.status_code == 400 and "at most 64" in too_many.text


def test_openai_backend_equals_local_completions(
    served: tuple[str, Path, dict[str, dict[str, Path]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, model, files, folder = served
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder / "datasets-cache"))
    yamls = {f"api_{task}": parity.harness_task_yaml(task, files[task], name=f"api_{task}") for task in TASKS}
    model_args = {
        "model": "tiny",
        "base_url": f"{url}/completions",
        "tokenizer_backend": "huggingface",
        "tokenizer": str(model),
        "tokenized_requests": True,
        "max_length": WINDOW,
        "max_retries": 1,
    }
    harness = parity.run_harness(
        None,
        yamls,
        folder / "tasks",
        batch_size=4,
        device=None,
        model_args=model_args,
        harness_model="local-completions",
    )
    remote = OpenAIBackend("tiny", base_url=url, tokenizer=str(model), concurrency=2, max_length=WINDOW)
    with_bos = HuggingFaceBackend(str(model), batch_size=4, max_length=WINDOW - 2)
    without_bos = HuggingFaceBackend(str(model), batch_size=4, add_bos_token=False, max_length=WINDOW - 2)
    assert with_bos.add_bos_token is True  # the tokenizer adds a BOS by default
    for task in TASKS:
        loaded = load_task(task, data=files[task])
        ours = run(loaded, remote).to_json()
        if task == "kmmlu":  # some items are cut to the window (else the test would not show the cut agrees)
            assert any(len(remote._encode(item.prompt)) > WINDOW for item in loaded.items())
        docs = harness[f"api_{task}"]
        comparison = parity.compare(ours["items"], docs)
        assert comparison.max_relative_difference <= RELATIVE, (task, comparison)
        assert comparison.prediction_mismatches == [], (task, comparison)
        assert comparison.baton_acc == pytest.approx(comparison.harness_acc, abs=1e-12)
        assert comparison.distinct_predictions >= 2, (task, comparison)
        # No BOS from either: the numbers are the hf backend's without it, and not its default's.
        assert parity.compare(run(loaded, without_bos).to_json()["items"], docs).max_relative_difference <= RELATIVE
        assert parity.compare(run(loaded, with_bos).to_json()["items"], docs).max_relative_difference > 1e-3
    remote.close()
