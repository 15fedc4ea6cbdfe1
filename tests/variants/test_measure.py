"""variants.measure end to end: a tiny Llama and its torchao int8 variant in the hub, measured on the same items."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from baton.accounts import service as accounts
from baton.core import jobs
from baton.core.runtime import Runtime
from baton.evaluation.metrics import paired_difference
from baton.hub import repos
from baton.variants import measure
from baton.variants.models import VariantMeasurement

pytest.importorskip("torchao")
from measure_fixtures import commit_model, make_int8, make_tiny_llama, write_task

INT8_CARD = {
    "license": "apache-2.0",
    "base_model": "lab/tiny-llama",
    "base_model_relation": "quantized",
    "variant": {"kind": "quantized", "method": "torchao-int8-weight-only", "runtime": "transformers", "bits": 8},
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("variants")
    base = make_tiny_llama(root / "base")
    return base, make_int8(base, root / "int8")


@pytest.fixture
def measured_runtime(runtime: Runtime, users: dict[str, str], tmp_path: Path) -> Runtime:
    runtime.settings.variants_eval_task = str(write_task(tmp_path / "task", rows=24))
    runtime.settings.variants_eval_limit = 20
    return runtime


def test_paired_difference_interval_holds_the_difference() -> None:
    base = [1, 0, 1, 1, 0, 1, 0, 0, 1, 1] * 10
    variant = [1, 0, 1, 0, 0, 1, 1, 0, 1, 1] * 10
    paired = paired_difference(base, variant, seed=1)
    assert paired.difference == pytest.approx(0.0)
    assert paired.low <= paired.difference <= paired.high
    assert paired.low < 0 < paired.high
    same = paired_difference(base, base)
    assert (same.low, same.high) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same items"):
        paired_difference([1], [1, 0])


def test_measure_int8_variant_end_to_end(measured_runtime: Runtime, models: tuple[Path, Path]) -> None:
    base, int8 = models
    commit_model(measured_runtime, "alice", "lab/tiny-llama", base, {"license": "apache-2.0"})
    repo_pk, oid = commit_model(measured_runtime, "alice", "lab/tiny-llama-int8", int8, INT8_CARD)

    row = measure.measure(measured_runtime, repo_pk, oid, in_child=False, threads=1)

    assert row.status == "ok", row.error
    assert (row.task, row.n_items, row.runtime, row.kind, row.method) == (
        "tiny_sums",
        20,
        "transformers",
        "quantized",
        "torchao-int8-weight-only",
    )
    assert row.base_repo == "lab/tiny-llama" and row.commit == oid
    # Sizes are the bytes of the committed weight files.
    assert row.file_size == (int8 / "model.safetensors").stat().st_size
    assert row.base_file_size == (base / "model.safetensors").stat().st_size
    assert row.file_size < row.base_file_size
    # Accuracies on the same items, the paired difference between them, its interval around it.
    assert row.base_accuracy is not None and row.variant_accuracy is not None and row.difference is not None
    assert 0.0 <= row.base_accuracy <= 1.0 and 0.0 <= row.variant_accuracy <= 1.0
    assert row.difference == pytest.approx(row.variant_accuracy - row.base_accuracy)
    assert row.difference_low is not None and row.difference_high is not None
    assert row.difference_low <= row.difference <= row.difference_high
    assert row.peak_memory is not None and row.peak_memory > 50 * 1024 * 1024  # python and torch at least
    assert row.tokens_per_second and row.tokens_per_second > 0 and row.items_per_second
    assert row.latency_median_ms is not None and row.latency_p95_ms is not None
    assert 0 < row.latency_median_ms <= row.latency_p95_ms
    assert row.runtime_version and row.runtime_version[0].isdigit()
    manifest = row.manifest
    assert manifest["task"]["items_hash"] == row.items_hash and len(row.items_hash or "") == 64
    assert manifest["machine"]["logical_cores"] >= 1 and manifest["machine"]["python"]
    assert manifest["base"]["scored_tokens"] == manifest["variant"]["scored_tokens"] > 0
    assert math.isclose(manifest["size_ratio"], row.file_size / row.base_file_size)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_measure_onnx_int8_variant_on_onnxruntime(
    measured_runtime: Runtime, models: tuple[Path, Path], tmp_path: Path
) -> None:
    from baton.variants import produce

    pytest.importorskip("onnxruntime")
    base, _int8 = models
    fp32 = produce.export_onnx(base, tmp_path / "onnx-fp32")
    onnx_int8 = produce.quantize_onnx_int8(fp32, tmp_path / "onnx-int8")
    card = INT8_CARD | {"variant": {"kind": "onnx", "method": "onnxruntime-dynamic-int8", "runtime": "onnxruntime"}}
    commit_model(measured_runtime, "alice", "lab/tiny-llama", base, {"license": "apache-2.0"})
    repo_pk, oid = commit_model(measured_runtime, "alice", "lab/tiny-llama-onnx-int8", onnx_int8, card)

    row = measure.measure(measured_runtime, repo_pk, oid, in_child=False, threads=1)

    assert row.status == "ok", row.error
    assert (row.runtime, row.kind, row.method) == ("onnxruntime", "onnx", "onnxruntime-dynamic-int8")
    import onnxruntime

    assert row.runtime_version == onnxruntime.__version__
    onnx_files = [path for path in onnx_int8.iterdir() if path.name.endswith(measure.WEIGHT_SUFFIXES)]
    assert row.file_size == sum(path.stat().st_size for path in onnx_files) > 0
    assert row.difference_low is not None and row.difference_high is not None and row.difference is not None
    assert row.difference_low <= row.difference <= row.difference_high
    assert row.manifest["variant"]["backend"]["backend"] == "onnxruntime"


def test_measure_job_records_a_variant_without_its_base_as_failed(
    measured_runtime: Runtime, models: tuple[Path, Path]
) -> None:
    base, int8 = models
    commit_model(measured_runtime, "alice", "lab/gone", base, {"license": "apache-2.0"})
    repo_pk, oid = commit_model(
        measured_runtime, "alice", "lab/orphan-int8", int8, INT8_CARD | {"base_model": "lab/gone"}
    )
    with measured_runtime.database.session(write=True) as session:  # the base is deleted after the variant landed
        alice = accounts.actor_for(accounts.get_account(session, "alice"))
        repos.delete_repo(session, alice, repos.parse_repo_id("model", "lab/gone"))
    with measured_runtime.database.session(write=True) as session:
        jobs.enqueue(session, measure.JOB_KIND, {"repo_pk": repo_pk, "commit": oid})
    assert jobs.Worker(measured_runtime, kinds=[measure.JOB_KIND]).run_once() is not None
    with measured_runtime.database.session() as session:
        failed = measure.latest(session, repo_pk)
        assert failed is not None and failed.status == "failed"
        assert failed.error and "lab/gone" in failed.error and "not a model repo" in failed.error
        assert failed.base_accuracy is None and failed.file_size is None


@pytest.mark.integration
def test_measure_job_runs_each_model_in_its_own_child(measured_runtime: Runtime, models: tuple[Path, Path]) -> None:
    base, int8 = models
    commit_model(measured_runtime, "alice", "lab/tiny-llama", base, {"license": "apache-2.0"})
    repo_pk, oid = commit_model(measured_runtime, "alice", "lab/tiny-llama-int8", int8, INT8_CARD)
    with measured_runtime.database.session(write=True) as session:
        jobs.enqueue(session, measure.JOB_KIND, {"repo_pk": repo_pk, "commit": oid})
    assert jobs.Worker(measured_runtime, kinds=[measure.JOB_KIND]).run_once() is not None
    with measured_runtime.database.session() as session:
        ok = measure.latest(session, repo_pk)
        assert ok is not None and ok.status == "ok", ok and ok.error
        # Each model ran in its own child process: its peak is its own, above what it started with.
        for side in ("base", "variant"):
            assert ok.manifest[side]["peak_memory_bytes"] > ok.manifest[side]["rss_before_load_bytes"]
        assert session.query(VariantMeasurement).count() == 1
