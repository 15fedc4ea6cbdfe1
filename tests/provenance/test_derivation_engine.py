"""Fast checks of the derivation engine's parts (no training; random arrays)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baton.core import multiple_testing
from baton.core.errors import BadRequestError, NotSupportedError
from baton.core.multiple_testing import holm_sidak
from baton.provenance import statistics, synthetic
from baton.provenance.alignment import monotone_layer_alignment, procrustes
from baton.provenance.compare import compare
from baton.provenance.layout import analyse, tower_root
from baton.provenance.source import ArraySource


def random_llama(seed: int, layers: int = 3, width: int = 24, mlp: int = 48, vocab: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.normal(size=(vocab, width)).astype(np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}"
        state[f"{p}.input_layernorm.weight"] = (1 + 0.1 * rng.normal(size=width)).astype(np.float32)
        for name, shape in (
            ("q_proj", (width, width)),
            ("k_proj", (width, width)),
            ("v_proj", (width, width)),
            ("o_proj", (width, width)),
        ):
            state[f"{p}.self_attn.{name}.weight"] = rng.normal(size=shape).astype(np.float32)
        state[f"{p}.post_attention_layernorm.weight"] = (1 + 0.1 * rng.normal(size=width)).astype(np.float32)
        state[f"{p}.mlp.gate_proj.weight"] = rng.normal(size=(mlp, width)).astype(np.float32)
        state[f"{p}.mlp.up_proj.weight"] = rng.normal(size=(mlp, width)).astype(np.float32)
        state[f"{p}.mlp.down_proj.weight"] = rng.normal(size=(width, mlp)).astype(np.float32)
    state["model.norm.weight"] = (1 + 0.1 * rng.normal(size=width)).astype(np.float32)
    state["lm_head.weight"] = rng.normal(size=(vocab, width)).astype(np.float32)
    return state


def test_layout_recognises_families() -> None:
    names = [
        "transformer.wte.weight", "transformer.h.0.attn.c_attn.weight", "transformer.h.0.mlp.c_proj.weight",
        "transformer.h.0.attn.c_proj.weight", "transformer.ln_f.weight",
        "model.layers.3.block_sparse_moe.experts.2.w1.weight", "model.layers.3.block_sparse_moe.gate.weight",
        "vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight", "lm_head.weight",
    ]  # fmt: skip
    layout = analyse(names)
    gpt2 = next(b for b in layout.blocks if b.name == "transformer.h.0")
    assert gpt2.conv1d and gpt2.roles == {
        "qkv": "transformer.h.0.attn.c_attn.weight",
        "down": "transformer.h.0.mlp.c_proj.weight",
        "o": "transformer.h.0.attn.c_proj.weight",
    }
    moe = next(b for b in layout.blocks if b.name == "model.layers.3")
    assert moe.experts == {2: {"gate": "model.layers.3.block_sparse_moe.experts.2.w1.weight"}}
    assert moe.router == "model.layers.3.block_sparse_moe.gate.weight"
    vision = next(b for b in layout.blocks if b.tower)
    assert vision.component == "vision_tower" and vision.roles == {
        "up": "vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight"
    }
    assert layout.token_embedding == "transformer.wte.weight" and layout.lm_head == "lm_head.weight"
    assert layout.component_of["lm_head.weight"] == "lm_head"
    assert tower_root("model.visual.blocks.0.attn.qkv.weight") == "model.visual"


def test_unbiased_cka_is_invariant_and_near_zero_for_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20))
    rotation = statistics.random_rotation(20, rng)
    assert statistics.unbiased_cka(x, 3.0 * x @ rotation) == pytest.approx(1.0)
    values = [statistics.unbiased_cka(x, rng.normal(size=(64, 20))) for _ in range(20)]
    assert abs(float(np.mean(values))) < 0.05


def test_procrustes_recovers_rotation() -> None:
    rng = np.random.default_rng(1)
    anchors = rng.normal(size=(100, 16))
    rotation = statistics.random_rotation(16, rng)
    alignment = procrustes([anchors], [anchors @ rotation], "test")
    assert alignment.fit == pytest.approx(1.0)
    assert np.allclose((anchors @ rotation) @ alignment.matrix, anchors)


def test_monotone_layer_alignment_finds_kept_layers() -> None:
    similarity = np.full((3, 5), 0.1)
    for i, j in [(0, 0), (1, 2), (2, 4)]:
        similarity[i, j] = 0.9
    assert monotone_layer_alignment(similarity) == [(0, 0), (1, 2), (2, 4)]
    assert monotone_layer_alignment(similarity.T) == [(0, 0), (2, 1), (4, 2)]


def test_vector_comparison_shows_the_layernorm_trap() -> None:
    rng = np.random.default_rng(2)
    comparison = statistics.compare_vectors(1 + 0.05 * rng.normal(size=512), 1 + 0.05 * rng.normal(size=512), rng)
    assert comparison.raw_cosine > 0.99
    assert abs(comparison.raw_cosine - comparison.shuffled_raw_cosine) < 0.005
    assert abs(comparison.pearson) < 0.2 and comparison.outcome.p_value > 0.001


def test_corrections() -> None:
    assert multiple_testing.sidak([0.01]) == pytest.approx(0.01)
    assert multiple_testing.sidak([0.01, 0.5]) == pytest.approx(1 - 0.99**2)
    adjusted = holm_sidak([0.001, 0.04, 0.5])
    assert adjusted[0] == pytest.approx(1 - 0.999**3)
    assert adjusted[1] == pytest.approx(1 - 0.96**2)
    assert adjusted[2] == pytest.approx(0.5)
    assert statistics.bonferroni_over_references(0.004, 5) == pytest.approx(0.02)


def test_compare_rotated_permuted_copy_and_json_shape() -> None:
    base = random_llama(0)
    disguised = synthetic.permute_hidden_units(synthetic.rotate_residual(base, seed=1), seed=2)
    result = compare(ArraySource(disguised, label="a"), ArraySource(base, label="b"), null_draws=20)
    assert result.verdict == "derived" and result.relation == "finetune"
    assert "residual_rotation" in result.transformations
    document = json.loads(json.dumps(result.to_json()))
    assert {"verdict", "relation", "p_value", "alpha", "correction", "components", "evidence", "norms"} <= set(document)
    assert {"name", "status", "source", "p_value", "test", "statistics"} <= set(document["components"][0])
    assert document["config_likeness"]["evidence"] is False


def test_compare_exact_copy_under_another_prefix() -> None:
    base = random_llama(0)
    moved = synthetic.rename_prefix(base, "model", "backbone.model")
    result = compare(ArraySource(moved, label="a"), ArraySource(base, label="b"), null_draws=20)
    assert result.verdict == "copied" and result.relation is None
    assert result.component("backbone.model.layers.1").source == "model.layers.1"


def test_compare_refuses_bad_alpha() -> None:
    base = ArraySource(random_llama(0))
    with pytest.raises(BadRequestError):
        compare(base, base, alpha=0.0)


def test_rotation_of_layernorm_model_is_refused() -> None:
    state = {
        "transformer.h.0.ln_1.weight": np.ones(4, np.float32),
        "transformer.h.0.ln_1.bias": np.zeros(4, np.float32),
        "transformer.h.0.attn.c_attn.weight": np.ones((4, 12), np.float32),
        "transformer.h.0.attn.c_proj.weight": np.ones((4, 4), np.float32),
    }
    with pytest.raises(NotSupportedError):
        synthetic.rotate_residual(state, seed=0)
