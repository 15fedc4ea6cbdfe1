"""Provenance reads the variants the commons produces (issue #19) and finds them derived from their base.

Every file here is made by the real tools from a tiny Llama: torchao weight-only int8 and int4
through transformers' ``TorchAoConfig`` and ``save_pretrained``, an ONNX export with
``torch.onnx.export(dynamo=True)`` and onnxruntime's ``quantize_dynamic``.
"""

from __future__ import annotations

import ast
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from test_service import head, make_model

from baton.core import events, jobs
from baton.core.errors import BadRequestError, IntegrityError, NotSupportedError
from baton.core.runtime import Runtime
from baton.provenance import onnx_reader, service
from baton.provenance.compare import compare
from baton.provenance.onnx_reader import OnnxCheckpoint
from baton.provenance.reader import LocalCheckpoint, SafetensorsCheckpoint, open_local

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("torchao")
pytest.importorskip("onnxruntime")

VOCAB, WIDTH = 128, 64


def tiny_llama(seed: int) -> Any:
    """A random tiny Llama whose norm gains differ from 1, as after training (all-ones gains would
    be the same in every model, and the ONNX exporter stores equal constants once)."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=WIDTH,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1 + 0.1 * torch.randn_like(parameter))
    return model


def quantize_torchao(base: Path, out: Path, bits: int) -> dict[str, np.ndarray]:
    """Weight-only int8 or int4 (one value per int8, groups of 32) as the commons makes them; returns
    torchao's own dequantization of every parameter."""
    from torchao.quantization import Int8WeightOnlyConfig, IntxWeightOnlyConfig
    from torchao.quantization.granularity import PerGroup

    method = (
        Int8WeightOnlyConfig() if bits == 8 else IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32))
    )
    model = transformers.AutoModelForCausalLM.from_pretrained(
        base, quantization_config=transformers.TorchAoConfig(method), device_map="cpu"
    )
    model.save_pretrained(out, safe_serialization=True)
    return {
        name: (parameter.dequantize() if hasattr(parameter, "dequantize") else parameter).detach().float().numpy()
        for name, parameter in model.named_parameters()
    }


def export_onnx(model: Any, out: Path) -> Path:
    """The commons' ONNX export (design for #19), test-local until ``baton.variants.produce`` lands:
    logits of ``use_cache=False``, dynamic batch and sequence, Linear weights renamed from the
    exporter's ``val_N`` to ``<module>.weight.T`` by the MatMul nodes' name scopes."""
    import onnx

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.m = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    ids = torch.randint(0, VOCAB, (1, 8))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dims = {0: batch, 1: sequence}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    torch.onnx.export(
        Logits(model).eval(),
        (ids, torch.ones_like(ids)),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_shapes={"input_ids": dims, "attention_mask": dims},
        dynamo=True,
    )
    graph = onnx.load(str(path))
    initializers = {item.name: item for item in graph.graph.initializer}
    rename: dict[str, str] = {}
    for node in graph.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initializers:
            continue
        scopes = [ast.literal_eval(p.value) for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"]
        if scopes and len(scopes[0]) >= 2 and str(scopes[0][-2]).startswith("m."):
            rename[node.input[1]] = str(scopes[0][-2]).removeprefix("m.") + ".weight.T"
    for name in initializers:
        if name.startswith("m."):
            rename.setdefault(name, name.removeprefix("m."))
    for item in graph.graph.initializer:
        item.name = rename.get(item.name, item.name)
    for node in graph.graph.node:
        for position, name in enumerate(node.input):
            node.input[position] = rename.get(name, name)
    onnx.save(graph, str(path))
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Folders: base, stranger (same shape, other seed), int8, int4, onnx (fp32), onnx-int8 (per
    channel), onnx-int8-tensor (per tensor)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = tmp_path_factory.mktemp("variants")
    kinds = ("base", "stranger", "int8", "int4", "onnx", "onnx-int8", "onnx-int8-tensor")
    folders = {name: root / name for name in kinds}
    base = tiny_llama(0)
    base.save_pretrained(folders["base"], safe_serialization=True)
    tiny_llama(1).save_pretrained(folders["stranger"], safe_serialization=True)
    dequantized = {
        "int8": quantize_torchao(folders["base"], folders["int8"], 8),
        "int4": quantize_torchao(folders["base"], folders["int4"], 4),
    }
    export_onnx(base, folders["onnx"])
    folders["onnx-int8"].mkdir()
    quantize_dynamic(
        folders["onnx"] / "model.onnx",
        folders["onnx-int8"] / "model.onnx",
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    folders["onnx-int8-tensor"].mkdir()  # one scale per tensor: quantize_dynamic's default
    quantize_dynamic(
        folders["onnx"] / "model.onnx", folders["onnx-int8-tensor"] / "model.onnx", weight_type=QuantType.QInt8
    )
    for name in ("onnx", "onnx-int8", "onnx-int8-tensor"):
        shutil.copy(folders["base"] / "config.json", folders[name] / "config.json")
    return {"folders": folders, "dequantized": dequantized}


# --- torchao weight-only safetensors --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["int8", "int4"])
def test_torchao_weights_read_as_torchao_dequantizes_them(made: dict[str, Any], kind: str) -> None:
    folder = made["folders"][kind]
    header = _header(folder / "model.safetensors")
    stored = [name for name in header if name.endswith("._weight_qdata")]
    assert len(stored) == 14  # seven Linear layers per block, two blocks: torchao really quantized them
    source = LocalCheckpoint(folder)
    base = LocalCheckpoint(made["folders"]["base"])
    assert sorted(source.names()) == sorted(base.names())  # the parts are presented as <prefix>.weight
    assert not any("_weight_" in name for name in source.names())
    expected = made["dequantized"][kind]
    assert set(expected) == set(source.names())
    for name, values in expected.items():
        read = source.read(name)
        assert read.dtype == np.float32 and read.shape == values.shape, name
        np.testing.assert_allclose(read, values, rtol=0, atol=1e-6, err_msg=name)
    weight = "model.layers.1.mlp.down_proj.weight"
    meta = source.meta(weight)
    assert (meta.dtype, meta.shape) == ("I8", (WIDTH, 128))
    array, digest = source.read_with_digest(weight)
    assert digest == source.digest(weight) and digest != base.digest(weight)
    # int8 keeps about 1/127 of a row's range per step; int4 groups of 32 about 1/7 of a group's.
    error = np.abs(array - base.read(weight)).max() / np.abs(base.read(weight)).max()
    assert error < (0.01 if kind == "int8" else 0.1)


def _header(path: Path) -> dict[str, Any]:
    blob = path.read_bytes()
    length = struct.unpack("<Q", blob[:8])[0]
    header: dict[str, Any] = json.loads(blob[8 : 8 + length])
    return header


def _rewrite(source: Path, target: Path, *, drop: str | None = None, metadata: dict[str, str] | None = None) -> None:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    target.mkdir(parents=True, exist_ok=True)
    with safe_open(str(source / "model.safetensors"), framework="numpy") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys() if name != drop}  # noqa: SIM118
        stored = dict(handle.metadata() or {})
    save_file(tensors, str(target / "model.safetensors"), metadata=stored | (metadata or {}))


def test_torchao_weights_with_bad_metadata_are_refused_naming_the_tensor(made: dict[str, Any], tmp_path: Path) -> None:
    folder = made["folders"]["int4"]
    prefix = "model.layers.0.mlp.up_proj"
    metadata = json.loads(_header(folder / "model.safetensors")["__metadata__"][f"{prefix}.weight"])

    _rewrite(folder, tmp_path / "no-scale", drop=f"{prefix}._weight_scale")
    with pytest.raises(IntegrityError, match=rf"{prefix}.weight.*no scale") as raised:
        LocalCheckpoint(tmp_path / "no-scale").read(f"{prefix}.weight")
    assert raised.value.code == "InvalidQuantization"

    wrong_blocks = metadata | {"_data": metadata["_data"] | {"block_size": [1, 48]}}
    _rewrite(folder, tmp_path / "blocks", metadata={f"{prefix}.weight": json.dumps(wrong_blocks)})
    with pytest.raises(IntegrityError, match=rf"{prefix}.weight.*cannot be cut into blocks of \[1, 48\]"):
        LocalCheckpoint(tmp_path / "blocks").read(f"{prefix}.weight")

    coarser = metadata | {"_data": metadata["_data"] | {"block_size": [1, 64]}}  # divides, but 2 scales per row
    _rewrite(folder, tmp_path / "coarse", metadata={f"{prefix}.weight": json.dumps(coarser)})
    with pytest.raises(IntegrityError, match=r"_weight_scale.*has shape \[128, 2\].*needs \[128, 1\]"):
        LocalCheckpoint(tmp_path / "coarse").read(f"{prefix}.weight")

    _rewrite(
        folder, tmp_path / "unknown", metadata={f"{prefix}.weight": json.dumps(metadata | {"_type": "Int4Tensor"})}
    )
    unknown = LocalCheckpoint(tmp_path / "unknown")
    with pytest.raises(NotSupportedError, match=rf"{prefix}.weight.*'Int4Tensor'") as refused:
        unknown.read(f"{prefix}.weight")
    assert refused.value.code == "UnsupportedQuantization"
    assert unknown.unsupported_tensors() == {f"{prefix}.weight": "stored as torchao 'Int4Tensor'"}  # scans: digests
    assert len(unknown.digest(f"{prefix}.weight")) == 64  # still indexed for exact copies
    unknown.read("model.layers.0.mlp.down_proj.weight")  # the other weights stay readable


# --- ONNX graphs ----------------------------------------------------------------------------------


def test_onnx_export_presents_the_parameters_under_their_names(made: dict[str, Any]) -> None:
    base = LocalCheckpoint(made["folders"]["base"])
    source = open_local(made["folders"]["onnx"])
    assert isinstance(source, OnnxCheckpoint)
    assert sorted(source.names()) == sorted(base.names())  # no val_N constants, no rotary buffer
    for name in base.names():
        np.testing.assert_array_equal(source.read(name), base.read(name), err_msg=name)
        # The fp32 export holds the base's values bit for bit, transposed or not: equal digests.
        assert source.digest(name) == base.digest(name), name
    assert source.meta("model.layers.0.mlp.up_proj.weight").shape == (128, WIDTH)  # stored [in, out]
    assert source.config()["hidden_size"] == WIDTH


def test_onnx_dynamic_int8_is_dequantized_per_channel(made: dict[str, Any]) -> None:
    import onnx
    from onnx import numpy_helper

    base = LocalCheckpoint(made["folders"]["base"])
    source = open_local(made["folders"]["onnx-int8"])
    assert sorted(source.names()) == sorted(base.names())
    graph = onnx.load(str(made["folders"]["onnx-int8"] / "model.onnx"))
    stored = {item.name: numpy_helper.to_array(item) for item in graph.graph.initializer}
    name = "model.layers.1.self_attn.o_proj.weight"
    quantized, scale, zero = (stored[f"{name}.T_{part}"] for part in ("quantized", "scale", "zero_point"))
    assert quantized.dtype == np.int8 and scale.shape == (WIDTH,)  # per output channel
    expected = ((quantized.astype(np.float32) - zero.astype(np.float32)) * scale).T
    np.testing.assert_allclose(source.read(name), expected, rtol=0, atol=1e-7)
    assert source.meta(name).dtype == "I8"
    for tensor in base.names():
        read, original = source.read(tensor), base.read(tensor)
        step = np.abs(original).max() / 127
        assert np.abs(read - original).max() <= step, tensor  # within one quantization step
    embedding = "model.embed_tokens.weight"
    assert stored[f"{embedding}_quantized"].dtype == np.uint8  # quantized with uint8, per tensor
    assert source.digest(embedding) != base.digest(embedding)


def _graph_copy(made: dict[str, Any], target: Path) -> Any:
    import onnx

    target.mkdir()
    return onnx.load(str(made["folders"]["onnx-int8"] / "model.onnx"))


def test_onnx_bad_graphs_get_clear_errors(made: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> None:
    import onnx

    folder = made["folders"]["onnx-int8"]
    size = (folder / "model.onnx").stat().st_size
    monkeypatch.setattr(onnx_reader, "MAX_ONNX_BYTES", 1000)
    with pytest.raises(BadRequestError, match=rf"{size} bytes, more than the 1000") as raised:
        open_local(folder)
    assert raised.value.code == "OnnxTooLarge"
    monkeypatch.undo()

    graph = _graph_copy(made, tmp_path / "scale")
    name = "model.layers.0.mlp.up_proj.weight.T"
    kept = [item for item in graph.graph.initializer if item.name != f"{name}_scale"]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    onnx.save(graph, str(tmp_path / "scale" / "model.onnx"))
    damaged = open_local(tmp_path / "scale")
    with pytest.raises(IntegrityError, match=rf"{name}_quantized.*has no '{name}_scale'"):
        damaged.read("model.layers.0.mlp.up_proj.weight")

    graph = _graph_copy(made, tmp_path / "escape")
    target = next(item for item in graph.graph.initializer if item.name == "model.norm.weight")
    target.ClearField("raw_data")
    target.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", str(4 * WIDTH))):
        entry = target.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "secret.bin").write_bytes(b"\0" * 4 * WIDTH)
    onnx.save(graph, str(tmp_path / "escape" / "model.onnx"))
    with pytest.raises(BadRequestError, match=r"'model.norm.weight' keeps its data in '../secret.bin'.*outside"):
        open_local(tmp_path / "escape")

    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "model.onnx").write_bytes(b"\xff\xff\xff not protobuf")
    with pytest.raises(BadRequestError, match="not a valid ONNX model"):
        open_local(tmp_path / "garbage")


def test_onnx_external_data_inside_the_folder_is_read_by_range(made: dict[str, Any], tmp_path: Path) -> None:
    import onnx

    graph = onnx.load(str(made["folders"]["onnx"] / "model.onnx"))
    folder = tmp_path / "external"
    folder.mkdir()
    onnx.save(
        graph, str(folder / "model.onnx"), save_as_external_data=True, location="model.onnx.data", size_threshold=0
    )
    assert (folder / "model.onnx").stat().st_size < (folder / "model.onnx.data").stat().st_size
    source = open_local(folder)
    base = LocalCheckpoint(made["folders"]["base"])
    for name in base.names():
        assert source.digest(name) == base.digest(name), name


# --- the lineage verdict --------------------------------------------------------------------------

EXPECTED = {
    "int8": "derived",
    "int4": "derived",
    "onnx": "copied",
    "onnx-int8": "derived",
    "onnx-int8-tensor": "derived",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_variant_is_derived_from_its_base_and_not_from_a_stranger(made: dict[str, Any], kind: str) -> None:
    folders = made["folders"]
    variant = open_local(folders[kind])
    assert isinstance(variant, OnnxCheckpoint if kind.startswith("onnx") else SafetensorsCheckpoint)
    result = compare(variant, open_local(folders["base"])).to_json()
    assert result["verdict"] == EXPECTED[kind], result["explanation"]
    # An fp32 export is the base's weights unchanged (every tensor bit for bit); the others are
    # recognised as quantized from the stored types.
    assert result["relation"] == (None if kind == "onnx" else "quantized")
    stranger = compare(variant, open_local(folders["stranger"])).to_json()
    assert stranger["verdict"] == "independent", stranger["explanation"]


def test_the_commons_own_variants_are_derived_from_their_base(made: dict[str, Any], tmp_path: Path) -> None:
    """The same through ``baton.variants.produce`` (what the make job publishes), once it is there."""
    produce = pytest.importorskip("baton.variants.produce")
    base = made["folders"]["base"]
    fp32 = produce.export_onnx(base, tmp_path / "onnx")
    variants = {
        "onnx": fp32,
        "onnx-int8": produce.quantize_onnx_int8(fp32, tmp_path / "onnx-int8"),
        "int8": produce.quantize_weight_only(base, tmp_path / "int8", 8),
        "int4": produce.quantize_weight_only(base, tmp_path / "int4", 4),
    }
    for kind, folder in variants.items():
        variant = open_local(folder)
        result = compare(variant, open_local(base)).to_json()
        assert result["verdict"] == EXPECTED[kind], (kind, result["explanation"])
        assert sorted(variant.names()) == sorted(LocalCheckpoint(base).names()), kind


# --- in the hub -----------------------------------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def test_a_commit_of_model_onnx_queues_a_scan_that_confirms_the_declared_base(
    made: dict[str, Any], runtime: Runtime, users: Any
) -> None:
    folders = made["folders"]
    base = make_model(runtime, "bob", "tiny-llama", _files(folders["base"]))
    service.fingerprint_revision(runtime, base, head(runtime, base))
    card = {"base_model": "bob/tiny-llama", "base_model_relation": "quantized", "license": "mit"}
    variant = make_model(runtime, "bob", "tiny-llama-onnx-int8", _files(folders["onnx-int8"]), card=card)
    events.drain(runtime)  # the commit reaches provenance: model.onnx is weights
    with runtime.database.session() as session:
        queued = [job for job in jobs.list_jobs(session, kind=service.SCAN_JOB) if job.payload["repo_id"] == variant.id]
    assert [job.payload["commit"] for job in queued] == [head(runtime, variant)]
    # A *.data file beside no ONNX graph is not weights: nothing is queued for it.
    other = make_model(runtime, "bob", "notes", {"train.data": b"\0" * 64})
    events.drain(runtime)
    with runtime.database.session() as session:
        assert not [job for job in jobs.list_jobs(session, kind=service.SCAN_JOB) if job.payload["repo_id"] == other.id]
    summary = service.scan_job(runtime, queued[0].payload)
    assert [check["message"] for check in summary["declared_checks"]] == [
        "declared quantized of bob/tiny-llama: confirmed"
    ]
    assert summary["status"] == "checked"
    # The hub's limit on the graph it parses comes from the settings.
    runtime.settings.provenance_max_onnx_bytes = 1000
    with pytest.raises(BadRequestError, match="more than the 1000 this reader parses") as raised:
        service.checkpoint_at(runtime, variant, head(runtime, variant))
    assert raised.value.code == "OnnxTooLarge"


@pytest.mark.integration
def test_pushed_with_huggingface_hub_the_int8_variant_is_confirmed(
    made: dict[str, Any], runtime: Runtime, users: Any, live_server: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    api = HfApi(endpoint=live_server.url, token=users["bob"])
    folders = made["folders"]
    api.create_repo("bob/tiny-llama")
    api.upload_folder(folder_path=folders["base"], repo_id="bob/tiny-llama")
    variant = tmp_path / "variant"
    shutil.copytree(folders["int8"], variant)
    (variant / "README.md").write_text(
        "---\nbase_model: bob/tiny-llama\nbase_model_relation: quantized\nlicense: mit\n---\n# int8\n"
    )
    api.create_repo("bob/tiny-llama-int8")
    api.upload_folder(folder_path=variant, repo_id="bob/tiny-llama-int8")
    events.drain(runtime)
    with runtime.database.session() as session:
        queued = sorted(jobs.list_jobs(session, kind=service.SCAN_JOB), key=lambda job: job.id)
    assert len(queued) == 2  # one per repo: each push carried weights
    for job in queued:  # the base first, as a worker would run them
        service.scan_job(runtime, job.payload)
    listing = httpx.get(f"{live_server.url}/api/models/bob/tiny-llama-int8/provenance").json()
    checks = listing["summary"]["declared_checks"]
    assert [check["message"] for check in checks] == ["declared quantized of bob/tiny-llama: confirmed"]
    assert checks[0]["verdict"] == "derived" and checks[0]["relation"] == "quantized"


def gptq_layout(base: Path, out: Path) -> None:
    """The tensor names and dtypes of a GPTQ checkpoint (int4 packed in int32 ``qweight``, ``qzeros``,
    ``scales``, ``g_idx``) in place of each Linear weight, the rest copied from the base. No GPTQ
    quantizer runs here (none works on CPU); the values are placeholders, which is all a reader that
    refuses the format by its layout needs."""
    from safetensors.numpy import load_file, save_file

    tensors: dict[str, np.ndarray] = {}
    for name, value in load_file(str(base / "model.safetensors")).items():
        if name.endswith("_proj.weight"):
            prefix = name.removesuffix(".weight")
            rows, columns = value.shape
            tensors[f"{prefix}.qweight"] = np.arange(columns // 8 * rows, dtype=np.int32).reshape(columns // 8, rows)
            tensors[f"{prefix}.qzeros"] = np.zeros((1, rows // 8), np.int32)
            tensors[f"{prefix}.scales"] = np.ones((1, rows), np.float16)
            tensors[f"{prefix}.g_idx"] = np.zeros(columns, np.int32)
        else:
            tensors[name] = value
    out.mkdir()
    save_file(tensors, str(out / "model.safetensors"))
    shutil.copy(base / "config.json", out / "config.json")


def test_a_format_provenance_cannot_read_gets_exact_copies_only(
    made: dict[str, Any], runtime: Runtime, users: Any, tmp_path: Path, client: Any
) -> None:
    folders = made["folders"]
    gptq_layout(folders["base"], tmp_path / "gptq")
    base = make_model(runtime, "bob", "tiny-llama", _files(folders["base"]))
    stranger = make_model(runtime, "carol", "other-llama", _files(folders["stranger"]))
    for repo in (base, stranger):
        service.fingerprint_revision(runtime, repo, head(runtime, repo))
    card = {"base_model": "bob/tiny-llama", "base_model_relation": "quantized", "license": "mit"}
    variant = make_model(runtime, "bob", "tiny-llama-gptq", _files(tmp_path / "gptq"), card=card)
    summary = service.scan_revision(runtime, variant.id, head(runtime, variant))  # fingerprinting does not fail
    (check,) = summary["declared_checks"]
    # The embeddings and lm_head are the base's, bit for bit: that much is proven, nothing more.
    assert check["message"] == "declared quantized of bob/tiny-llama: confirmed"
    assert (check["verdict"], check["relation"]) == ("derived", "copied_component")
    with runtime.database.session() as session:
        reports = {
            report.reference.split("@")[0]: report.report
            for report in service._reports_at(session, variant.id, head(runtime, variant))
        }
    assert "model.layers.0.mlp.down_proj.qweight" in reports["bob/tiny-llama"]["unreadable"]
    statuses = {c["name"]: c["status"] for c in reports["bob/tiny-llama"]["components"]}
    assert statuses["model.embed_tokens"] == statuses["lm_head"] == "copied"
    assert statuses["model.layers.0"] == "inconclusive"
    explanation = reports["bob/tiny-llama"]["explanation"]["en"]
    assert "Only exact copies could be looked for: 56 of this model's tensors" in explanation
    assert "stored as GPTQ/AWQ" in explanation
    # The report page draws such a report, and whoever cannot read the reference gets no tensor names.
    report_id = next(check["report_id"] for check in summary["declared_checks"])
    page = client.get(f"/api/provenance/reports/{report_id}.html")
    assert page.status_code == 200 and "Provenance report" in page.text
    assert "unreadable" in client.get(f"/api/provenance/reports/{report_id}").json()["result"]
    # Against an unrelated model nothing is bit-identical, and different bytes prove nothing either way.
    assert reports["carol/other-llama"]["verdict"] == "inconclusive"
    assert [flag["reference"].split("@")[0] for flag in summary["flags"]] == ["carol/other-llama"]


def test_the_weights_of_an_onnx_only_revision_are_its_graph_and_external_data() -> None:
    from baton.provenance import follow

    onnx_only = [("model.onnx", "a"), ("model.onnx.data", "b"), ("README.md", "c"), ("config.json", "d")]
    assert follow.weight_files(onnx_only) == [("model.onnx", "a"), ("model.onnx.data", "b")]
    both = [*onnx_only, ("model.safetensors", "e")]
    assert follow.weight_files(both) == [("model.safetensors", "e")]  # what the reader reads
    assert follow.weight_files([("onnx/model.onnx", "f")]) == []  # not at the top: not read
    assert service.has_weights(["model.onnx"]) and service.has_weights(["model.onnx.data"])
    assert not service.has_weights(["README.md", "config.json"])


def test_the_cli_compares_onnx_folders_and_unreadable_formats(made: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from baton.cli.main import app

    folders = made["folders"]
    runner = CliRunner()
    done = runner.invoke(app, ["provenance", "compare", str(folders["onnx-int8"]), str(folders["base"]), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert (result["verdict"], result["relation"]) == ("derived", "quantized")
    gptq_layout(folders["base"], tmp_path / "gptq")
    done = runner.invoke(app, ["provenance", "compare", str(tmp_path / "gptq"), str(folders["base"]), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["verdict"] == "derived" and "model.layers.0.mlp.down_proj.qweight" in result["unreadable"]


def test_int8_made_from_a_bf16_base_is_quantized_too(made: dict[str, Any], tmp_path: Path) -> None:
    """Most released bases are BF16: int8 weights are of lower precision still."""
    model = transformers.LlamaForCausalLM.from_pretrained(made["folders"]["base"]).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "base-bf16", safe_serialization=True)
    quantize_torchao(tmp_path / "base-bf16", tmp_path / "int8", 8)
    result = compare(open_local(tmp_path / "int8"), open_local(tmp_path / "base-bf16")).to_json()
    assert (result["verdict"], result["relation"]) == ("derived", "quantized")
