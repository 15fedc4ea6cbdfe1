"""The ``openai`` backend against a real OpenAI-compatible server process on loopback.

The server is ``baton eval serve`` (Baton's own transformers backend behind the OpenAI routes),
started as a separate process: the backend's HTTP client, echo/logprobs parsing, concurrency,
retries and errors run against real HTTP. The numbers must equal the local ``hf`` backend's on
the same weights. (vLLM and llama.cpp servers are not installed here; see docs/evaluation.md.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from backend_fixtures import make_tiny_gpt2, serving
from test_runner import write_multiple_choice_task

from baton.core import jobs
from baton.core.runtime import Runtime
from baton.evaluation import service
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.openai import BackendUnreachableError, OpenAIBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task
from baton.evaluation.types import Request
from live_servers import free_port

BATON = Path(sys.executable).parent / "baton"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gpt2(tmp_path_factory.mktemp("served") / "gpt2", positions=256)


@pytest.fixture(scope="module")
def server(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    command = [str(BATON), "eval", "serve", "--model", str(model), "--served-name", "tiny", "--port", str(port)]
    with serving(command, env=environment, log=log, port=port, name="baton eval serve", timeout=90) as url:
        yield url


def test_models_route_names_the_served_model(server: str) -> None:
    assert [entry["id"] for entry in httpx.get(f"{server}/models").json()["data"]] == ["tiny"]


def test_loglikelihoods_and_generations_equal_the_local_backend(server: str, model: Path) -> None:
    remote = OpenAIBackend("tiny", base_url=server, tokenizer=str(model), concurrency=4, max_length=200)
    local = HuggingFaceBackend(str(model))
    requests = [
        Request("loglikelihood", "The capital of France is", " Paris"),
        Request("loglikelihood", "질문: 대한민국의 수도는 어디입니까?\n답변:", " 서울"),
        Request("loglikelihood", "Question: what is two plus two? Answer: ", "four"),
        Request("loglikelihood", "", " The quick brown fox"),
        Request("loglikelihood_rolling", "The quick brown fox jumps over the lazy dog. 하늘은 파랗고 바다는 넓다."),
        Request("generate", "질문: 대한민국의 수도는", max_new_tokens=8),
        Request("generate", "The capital of", until=("\n", "."), max_new_tokens=10),
    ]
    theirs, ours = remote.answer(requests), local.answer(requests)
    for request, served, direct in zip(requests, theirs, ours, strict=True):
        if request.kind == "generate":
            assert served.text == direct.text, request
        else:
            assert served.loglikelihood == pytest.approx(direct.loglikelihood, abs=1e-4), request
        if request.kind == "loglikelihood":
            assert served.is_greedy is direct.is_greedy, request
    assert theirs[4].token_count == ours[4].token_count
    remote.close()


def test_a_task_gives_the_same_results_through_the_server(server: str, model: Path, tmp_path: Path) -> None:
    task = load_task(write_multiple_choice_task(tmp_path))
    remote = OpenAIBackend("tiny", base_url=server, tokenizer=str(model), max_length=200)
    served = run(task, remote).to_json()
    direct = run(task, HuggingFaceBackend(str(model))).to_json()
    assert [item["prediction"] for item in served["items"]] == [item["prediction"] for item in direct["items"]]
    for ours, theirs in zip(served["items"], direct["items"], strict=True):
        assert ours["loglikelihoods"] == pytest.approx(theirs["loglikelihoods"], abs=1e-4)
    assert served["metrics"]["acc"]["value"] == direct["metrics"]["acc"]["value"]
    assert served["manifest"]["backend"]["base_url"] == server
    by_letter = run(task, remote, by_generation=True).to_json()  # the letter read from generated text
    assert len(by_letter["items"]) == len(direct["items"])


def test_errors_name_the_server_and_what_to_fix(server: str, model: Path) -> None:
    wrong_name = OpenAIBackend("other", base_url=server, max_retries=0)
    with pytest.raises(BackendUnreachableError, match="404") as refused:
        wrong_name.answer([Request("generate", "hello", max_new_tokens=2)])
    assert "other" in refused.value.message
    no_chat = OpenAIBackend("tiny", base_url=server, chat=True, max_retries=0)
    with pytest.raises(BackendUnreachableError, match="no chat template"):
        no_chat.answer([Request("generate", "hello", max_new_tokens=2)])
    closed = f"http://127.0.0.1:{free_port()}/v1"
    unreachable = OpenAIBackend("tiny", base_url=closed, max_retries=1, timeout_seconds=2)
    with pytest.raises(BackendUnreachableError, match=r"after 2 tries") as gone:
        unreachable.answer([Request("generate", "hello", max_new_tokens=2)])
    assert closed in gone.value.message


def test_a_private_task_runs_on_a_registered_endpoint_through_a_job(
    server: str, model: Path, runtime: Runtime, tmp_path: Path
) -> None:
    task_path = write_multiple_choice_task(tmp_path)
    task_path.write_text(task_path.read_text(encoding="utf-8") + "private: true\n", encoding="utf-8")
    with runtime.database.session(write=True) as session:
        service.register_endpoint(session, name="pinned-tiny", base_url=server, model="tiny", tokenizer=str(model))
        run_id = service.submit_run(
            session,
            runtime,
            None,
            service.RunSubmission(
                model="tiny",
                task=str(task_path),
                backend="openai",
                endpoint="pinned-tiny",
                options={"max_length": 200},
                local=True,
            ),
        ).id
    assert jobs.Worker(runtime, kinds=["evaluation.run"], worker_id="w").run_once() is not None
    with runtime.database.session() as session:
        stored = service.get_run(session, None, run_id, system=True)
        results = service.results_json(session, stored)
        assert stored.status == "succeeded", stored.error
    assert results["manifest"]["backend"]["endpoint"] == "pinned-tiny"
    assert all(set(item) == {"item_id", "correct"} for item in results["items"])
    direct = run(load_task(task_path), HuggingFaceBackend(str(model)), item_id_key=service.item_id_key(runtime))
    assert results["items"] == direct.items and results["metrics"] == direct.metrics
