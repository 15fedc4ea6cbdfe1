"""The Ray executor on a local Ray runtime: replicas in separate processes share every batch, and the
results (and the cache identity) are those of one backend in this process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from backend_fixtures import make_tiny_gpt2
from test_runner import write_multiple_choice_task

from baton.core import jobs
from baton.core.runtime import Runtime
from baton.evaluation import service
from baton.evaluation.backends.dummy import DummyBackend
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.cache import ResultCache, backend_identity
from baton.evaluation.ray_executor import RayBackend
from baton.evaluation.runner import run
from baton.evaluation.tasks import load_task

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def comparable(payload: dict[str, object]) -> dict[str, object]:
    return {"metrics": payload["metrics"], "items": payload["items"]}


def test_ray_replicas_give_the_single_process_results(local_ray: None, tmp_path: Path) -> None:
    task = load_task(write_multiple_choice_task(tmp_path))
    sharded = RayBackend("dummy", "m", workers=2)
    try:
        with ResultCache(tmp_path / "cache.sqlite") as cache:
            spread = run(task, sharded, cache=cache, batch_size=8).to_json()
            stats = sharded.stats()
            # Both replicas, in their own processes, answered part of every batch.
            assert len({entry["pid"] for entry in stats}) == 2 and os.getpid() not in {e["pid"] for e in stats}
            assert sorted(entry["answered"] for entry in stats) == [12, 12]
            # One identity with the backend it replicates: a single-process rerun computes nothing.
            single = DummyBackend("m")
            assert backend_identity(sharded) == backend_identity(single)
            again = run(task, single, cache=cache)
            assert single.calls == 0
        assert comparable(again.to_json()) == comparable(spread)
        assert comparable(spread) == comparable(run(task, DummyBackend("m")).to_json())
    finally:
        sharded.close()


def test_ray_replicas_of_the_hf_backend(local_ray: None, tmp_path: Path) -> None:
    model = make_tiny_gpt2(tmp_path / "gpt2")
    task = load_task(write_multiple_choice_task(tmp_path))
    sharded = RayBackend("hf", str(model), workers=2, options={"batch_size": 2})
    try:
        spread = run(task, sharded, batch_size=12).to_json()
    finally:
        sharded.close()
    local = run(task, HuggingFaceBackend(str(model))).to_json()
    assert [item["prediction"] for item in spread["items"]] == [item["prediction"] for item in local["items"]]
    for ours, theirs in zip(spread["items"], local["items"], strict=True):
        assert ours["loglikelihoods"] == pytest.approx(theirs["loglikelihoods"], abs=1e-5)
    assert spread["manifest"]["backend"]["executor"] == "ray"


def test_a_task_s_add_bos_token_reaches_the_replicas(local_ray: None, tmp_path: Path) -> None:
    """A task YAML's ``add_bos_token`` is applied on every replica, as on a local backend: the same
    log-likelihoods and manifest (source ``task``), and the cache identity follows the choice."""
    model = make_tiny_gpt2(tmp_path / "gpt2")  # GPT-2 style: no BOS unless asked
    path = write_multiple_choice_task(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "add_bos_token: true\n", encoding="utf-8")
    task = load_task(path)
    sharded = RayBackend("hf", str(model), workers=2, options={"batch_size": 2})
    try:
        before = backend_identity(sharded)
        spread = run(task, sharded, batch_size=12).to_json()
        after = backend_identity(sharded)
    finally:
        sharded.close()
    local = run(task, HuggingFaceBackend(str(model))).to_json()
    without = run(load_task(write_multiple_choice_task(tmp_path)), HuggingFaceBackend(str(model))).to_json()
    backend = spread["manifest"]["backend"]
    assert (backend["add_bos_token"], backend["add_bos_token_source"]) == (True, "task")
    assert backend["executor"] == "ray" and before != after
    for ours, theirs, plain in zip(spread["items"], local["items"], without["items"], strict=True):
        assert ours["loglikelihoods"] == pytest.approx(theirs["loglikelihoods"], abs=1e-5)
        assert ours["loglikelihoods"] != pytest.approx(plain["loglikelihoods"], abs=1e-3)  # the BOS mattered
    # The replicas' compute, summed, is in the manifest as for a local run (a context whose choices
    # a shard boundary splits runs on both replicas, so it can be more, never less).
    assert spread["manifest"]["compute"]["token_positions"] >= local["manifest"]["compute"]["token_positions"] > 0


def test_a_queued_run_scaled_out_on_ray(local_ray: None, runtime: Runtime, tmp_path: Path) -> None:
    task_path = write_multiple_choice_task(tmp_path)
    with runtime.database.session(write=True) as session:
        run_id = service.submit_run(
            session,
            runtime,
            None,
            service.RunSubmission(model="m", task=str(task_path), backend="dummy", ray_workers=2, local=True),
        ).id
    worker = jobs.Worker(runtime, kinds=["evaluation.run"], worker_id="ray-driver")
    assert worker.run_once() is not None
    with runtime.database.session() as session:
        stored = service.get_run(session, None, run_id, system=True)
        results = service.results_json(session, stored)
        assert stored.status == "succeeded", stored.error
    assert results["manifest"]["backend"]["workers"] == 2
    reference = run(load_task(task_path), DummyBackend("m")).to_json()
    assert comparable(results) == comparable(reference)
