"""Each produced format, from a tiny Llama, loads back with its own runtime and computes what the base does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from variant_fixtures import make_tiny_gpt2

from baton.variants import produce
from baton.variants.produce import VariantProductionError

IDS = [[1, 20, 33, 47, 52, 60, 71, 8], [1, 90, 91, 92, 93, 94, 95, 96]]


@pytest.fixture
def llama(tiny_llama: Path) -> Path:
    return tiny_llama


@pytest.fixture
def onnx_fp32(tiny_llama_onnx: Path) -> Path:
    return tiny_llama_onnx


def base_logits(folder: Path) -> np.ndarray:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS)).logits.numpy()


def onnx_logits(folder: Path, ids: list[list[int]] = IDS) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    array = np.array(ids, dtype=np.int64)
    feed = {"input_ids": array, "attention_mask": np.ones_like(array)}
    assert "logit_positions" in {item.name for item in session.get_inputs()}  # a Llama takes logits_to_keep
    feed["logit_positions"] = np.arange(array.shape[1], dtype=np.int64)
    (logits,) = session.run(["logits"], feed)
    return np.asarray(logits)


def test_onnx_export_returns_only_the_asked_positions(onnx_fp32: Path, llama: Path) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_fp32 / "model.onnx"), providers=["CPUExecutionProvider"])
    array = np.array(IDS, dtype=np.int64)
    positions = np.array([len(IDS[0]) - 2, len(IDS[0]) - 1], dtype=np.int64)
    feed = {"input_ids": array, "attention_mask": np.ones_like(array), "logit_positions": positions}
    (logits,) = session.run(["logits"], feed)
    assert logits.shape[:2] == (len(IDS), 2)
    assert np.abs(logits - base_logits(llama)[:, positions]).max() < 1e-4


def test_onnx_export_computes_the_base_s_logits_with_parameter_names(llama: Path, onnx_fp32: Path) -> None:
    import onnx

    assert {"model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in onnx_fp32.iterdir()
    }
    assert not (onnx_fp32 / "README.md").exists()
    assert np.abs(onnx_logits(onnx_fp32) - base_logits(llama)).max() < 1e-4
    # Other batch sizes and lengths than the export's example run too (dynamic shapes).
    vocab = json.loads((llama / "config.json").read_text())["vocab_size"]
    assert onnx_logits(onnx_fp32, [[1, 5, 6]]).shape == (1, 3, vocab)
    names = {init.name for init in onnx.load(str(onnx_fp32 / "model.onnx")).graph.initializer}
    for layer in range(2):
        for module in ("self_attn.q_proj", "self_attn.o_proj", "mlp.down_proj"):
            assert f"model.layers.{layer}.{module}.weight.T" in names
    assert "model.embed_tokens.weight" in names
    assert not any(name.startswith("m.") for name in names)
    with safe_open(str(llama / "model.safetensors"), "pt") as base:
        q_proj = base.get_tensor("model.layers.0.self_attn.q_proj.weight")
    graph_q = next(
        onnx.numpy_helper.to_array(init)
        for init in onnx.load(str(onnx_fp32 / "model.onnx")).graph.initializer
        if init.name == "model.layers.0.self_attn.q_proj.weight.T"
    )
    assert np.array_equal(graph_q, q_proj.numpy().T)


def test_onnx_int8_is_quantized_and_close(llama: Path, onnx_fp32: Path, tmp_path: Path) -> None:
    import onnx

    out = produce.quantize_onnx_int8(onnx_fp32, tmp_path / "int8")
    graph = onnx.load(str(out / "model.onnx")).graph
    quantized = {init.name for init in graph.initializer if init.name.endswith("_quantized")}
    assert "model.layers.0.mlp.up_proj.weight.T_quantized" in quantized
    assert (out / "model.onnx").stat().st_size < 0.6 * (onnx_fp32 / "model.onnx").stat().st_size
    assert (out / "config.json").read_bytes() == (llama / "config.json").read_bytes()
    quantized, base = onnx_logits(out), base_logits(llama)
    assert 0 < np.abs(quantized - base).max() < 0.3
    assert (quantized.argmax(-1) == base.argmax(-1)).mean() >= 0.8


def test_onnx_int8_refuses_a_folder_without_a_graph(llama: Path, tmp_path: Path) -> None:
    with pytest.raises(VariantProductionError, match=r"has no model\.onnx"):
        produce.quantize_onnx_int8(llama, tmp_path / "out")


@pytest.mark.parametrize(
    ("bits", "tensor_type", "block"), [(8, "Int8Tensor", None), (4, "IntxUnpackedToInt8Tensor", 32)]
)
def test_weight_only_loads_back_with_transformers(
    llama: Path, tmp_path: Path, bits: int, tensor_type: str, block: int | None
) -> None:
    from transformers import AutoModelForCausalLM

    out = produce.quantize_weight_only(llama, tmp_path / f"int{bits}", bits)
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "torchao"
    assert (out / "tokenizer.json").is_file() and not (out / "README.md").exists()
    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        keys = set(handle.keys())
        metadata = handle.metadata()
        qdata = handle.get_tensor("model.layers.0.mlp.up_proj._weight_qdata")
    assert qdata.dtype == torch.int8
    assert "model.layers.1.self_attn.k_proj._weight_scale" in keys
    assert "model.layers.0.mlp.up_proj.weight" not in keys
    described = json.loads(metadata["model.layers.0.mlp.up_proj.weight"])
    assert described["_type"] == tensor_type
    if block is not None:
        assert described["_data"]["block_size"] == [1, block]
    loaded = AutoModelForCausalLM.from_pretrained(out, device_map="cpu").eval()
    assert type(loaded.model.layers[0].mlp.up_proj.weight).__name__ == tensor_type
    with torch.no_grad():
        logits = loaded(input_ids=torch.tensor(IDS)).logits.float().numpy()
    base = base_logits(llama)
    assert 0 < np.abs(logits - base).max() < (0.1 if bits == 8 else 1.0)
    assert (logits.argmax(-1) == base.argmax(-1)).mean() >= (0.9 if bits == 8 else 0.6)


def test_weight_only_refuses_a_model_without_linear_layers(tmp_path: Path) -> None:
    gpt2 = make_tiny_gpt2(tmp_path / "gpt2")
    with pytest.raises(VariantProductionError, match=r"torchao quantized nothing.*Conv1D") as raised:
        produce.quantize_weight_only(gpt2, tmp_path / "int8", 8)
    assert "nn.Linear" in raised.value.hint
    assert not (tmp_path / "int8").exists()


def test_weight_only_refuses_other_bit_widths(llama: Path, tmp_path: Path) -> None:
    with pytest.raises(VariantProductionError, match="bits 8 or 4, not 3"):
        produce.quantize_weight_only(llama, tmp_path / "int3", 3)
