"""End to end on a live hub: a team uploads a tiny Llama with the HF client, the worker makes its three
variants, each variant's check runs, and the HF client downloads each variant, which loads and runs
with its own runtime (transformers for torchao, the onnxruntime backend for ONNX)."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
from sqlalchemy import select
from variant_fixtures import make_tiny_llama

from baton.core import events, jobs
from baton.core.runtime import Runtime
from baton.evaluation.backends.onnxruntime import OnnxRuntimeBackend
from baton.evaluation.types import Request
from baton.variants import checks, make
from baton.variants.models import VariantCheck
from live_servers import LiveServer

pytestmark = pytest.mark.integration

CARD = "---\nlicense: apache-2.0\nlanguage: [ko]\n---\n# Tiny Llama\n"


def test_the_worker_makes_variants_that_download_and_run(
    runtime: Runtime, live_server: LiveServer, users: dict[str, str], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    base = make_tiny_llama(tmp_path / "base", steps=10, hidden=32)
    (base / "README.md").write_text(CARD)
    api = huggingface_hub.HfApi(endpoint=live_server.url, token=users["bob"])
    api.create_repo("lab/tiny-llama")  # bob writes in the organization lab
    api.upload_folder(repo_id="lab/tiny-llama", folder_path=base, commit_message="base")

    job = make.enqueue_make(runtime, "lab/tiny-llama")
    jobs.Worker(runtime, kinds=[make.MAKE_JOB], poll_seconds=0).run(until_idle=True)
    with runtime.database.session() as session:
        done = session.get(jobs.Job, job.id)
        assert done is not None and done.result is not None, done and done.error
        statuses = {v["repo"]: v["status"] for v in done.result["variants"]}
    assert statuses == {f"lab/tiny-llama-{key}": "created" for key in ("onnx-int8", "int8", "int4")}
    events.drain(runtime)
    jobs.Worker(runtime, kinds=[checks.CHECK_JOB], poll_seconds=0).run(until_idle=True)
    with runtime.database.session() as session:
        recorded = {(row.runtime, row.status) for row in session.scalars(select(VariantCheck))}
    assert recorded == {("onnxruntime", "ok"), ("transformers", "ok")}

    ids = torch.tensor([[1, 40, 41, 42, 43]])
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(base).eval()(input_ids=ids).logits
    for key in ("int8", "int4"):
        folder = huggingface_hub.snapshot_download(
            f"lab/tiny-llama-{key}", endpoint=live_server.url, local_dir=tmp_path / key, token=users["carol"]
        )
        info = huggingface_hub.ModelCard.load(Path(folder) / "README.md").data.to_dict()
        assert info["base_model"] == "lab/tiny-llama" and info["license"] == "apache-2.0"
        model = AutoModelForCausalLM.from_pretrained(folder, device_map="cpu").eval()
        with torch.no_grad():
            assert (model(input_ids=ids).logits - expected).abs().max() < 0.5
    folder = huggingface_hub.snapshot_download(
        "lab/tiny-llama-onnx-int8", endpoint=live_server.url, local_dir=tmp_path / "onnx", token=users["carol"]
    )
    backend = OnnxRuntimeBackend(folder)
    scored = backend.answer([Request("loglikelihood", "The capital of France is", " Paris")])
    assert scored[0].loglikelihood is not None and np.isfinite(scored[0].loglikelihood)
    # Made once per base head: again, nothing changes.
    again = make.make_variants(runtime, "lab/tiny-llama")
    assert {v["status"] for v in again["variants"]} == {"unchanged"}
