"""Validation of the derivation engine on tiny trained models (issue 3's required results).

The models are trained by ``fixture_models.generate()`` (about 30 s on one core) and cached under
pytest's cache directory, keyed by a hash of the training script; a clean checkout regenerates
them. Derivatives that need no training come from ``baton.provenance.synthetic``.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path

import fixture_models
import numpy as np
import pytest
from scipy import stats

from baton.provenance import synthetic
from baton.provenance.compare import compare
from baton.provenance.source import ArraySource
from baton.provenance.verdict import RELATIONS, STATUSES, ComparisonResult

pytestmark = pytest.mark.integration

ALPHA = 0.01
StateDicts = dict[str, dict[str, np.ndarray]]


@pytest.fixture(scope="session")
def models(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StateDicts:
    script = Path(fixture_models.__file__).read_bytes()
    key = hashlib.sha256(script).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = Path(cache.mkdir(f"baton-provenance-models-{key}")) if cache else tmp_path_factory.mktemp("models")
    done = folder / "complete"
    if not done.exists():
        for name, state in fixture_models.generate().items():
            np.savez(folder / f"{name}.npz", **state)
        done.write_text("ok")
    out: StateDicts = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as archive:
            out[path.stem] = {name: archive[name] for name in archive.files}
    return out


def source(state: dict[str, np.ndarray], label: str) -> ArraySource:
    return ArraySource(state, label=label, vocabulary=fixture_models.VOCABULARY)


def run(model: dict[str, np.ndarray], reference: dict[str, np.ndarray], label: str = "model") -> ComparisonResult:
    result = compare(source(model, label), source(reference, "reference"), alpha=ALPHA)
    assert result.verdict in STATUSES
    assert result.relation is None or result.relation in RELATIONS
    assert all(c.status in STATUSES for c in result.components)
    return result


INDEPENDENT = [f"llama{seed}" for seed in range(8)] + [f"gpt2_{seed}" for seed in range(3)]


@pytest.fixture(scope="session")
def independent_results(models: StateDicts) -> list[tuple[str, str, ComparisonResult]]:
    out = []
    for first, second in itertools.combinations(INDEPENDENT, 2):
        out.append((first, second, run(models[first], models[second], first)))
    out.append(("vlm_b", "vlm_a", run(models["vlm_b"], models["vlm_a"], "vlm_b")))
    return out


def test_independent_pairs_are_independent(independent_results: list[tuple[str, str, ComparisonResult]]) -> None:
    assert len(independent_results) >= 45
    wrong = [(a, b, r.verdict, r.p_value) for a, b, r in independent_results if r.verdict != "independent"]
    assert not wrong, wrong
    for _, _, result in independent_results:
        assert result.relation is None
        assert not [c.name for c in result.components if c.status in ("derived", "copied")]


def test_independent_p_values_are_uniform(independent_results: list[tuple[str, str, ComparisonResult]]) -> None:
    p_values = [r.p_value for _, _, r in independent_results]
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # The per-layer MLP tests too (before any correction).
    layer_p = [e.p_value for _, _, r in independent_results for e in r.evidence if e.test == "mlp_unit_matching"]
    assert stats.kstest(layer_p, "uniform").pvalue > 0.001


def test_layernorm_trap(models: StateDicts) -> None:
    # Two independent models whose norm gains both started at ones: raw cosine near 1, no relation.
    result = run(models["llama2"], models["llama3"], "llama2")
    assert result.verdict == "independent"
    gains = [n for n in result.norms if n.tensor.endswith("input_layernorm.weight")]
    assert gains
    for evidence in gains:
        assert evidence.raw_cosine > 0.95
        assert abs(evidence.raw_cosine - evidence.shuffled_raw_cosine) < 0.02  # the shuffle says the same
        assert abs(evidence.pearson) < 0.5
    # ... while a fine-tune of the source keeps a high centered correlation.
    derived = run(models["llama1_finetune"], models["llama1"], "finetune")
    assert min(n.pearson for n in derived.norms) > 0.8


def test_config_likeness_is_context_only(models: StateDicts) -> None:
    config = {"model_type": "llama", "hidden_size": 48, "num_hidden_layers": 3, "intermediate_size": 128}
    a = ArraySource(models["llama4"], label="a", config=config, vocabulary=fixture_models.VOCABULARY)
    b = ArraySource(models["llama5"], label="b", config=config, vocabulary=fixture_models.VOCABULARY)
    result = compare(a, b, alpha=ALPHA)
    assert result.config_likeness["likeness"] == 1.0
    assert result.config_likeness["evidence"] is False
    assert result.verdict == "independent"


def derived_cases(
    models: StateDicts,
) -> dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray], set[str | None]]]:
    base, tied, gpt2 = models["llama1"], models["llama0"], models["gpt2_0"]
    merged = synthetic.merge([models["llama1_finetune"], models["llama1_finetune_b"]])
    return {
        "finetune": (models["llama1_finetune"], base, {"finetune"}),
        "finetune_tied": (models["llama0_finetune"], tied, {"finetune"}),
        "finetune_gpt2": (models["gpt2_0_finetune"], gpt2, {"finetune"}),
        "continued_pretraining_large_lr": (models["llama1_continued"], base, {"finetune"}),
        "layer_pruning": (synthetic.prune_layers(base, [1]), base, {"pruned"}),
        "mlp_width_pruning": (synthetic.prune_mlp_width(models["llama1_finetune"], 0.75), base, {"pruned"}),
        "hidden_unit_permutation": (synthetic.permute_hidden_units(base, seed=1), base, {"finetune"}),
        "hidden_unit_permutation_gpt2": (synthetic.permute_hidden_units(gpt2, seed=1), gpt2, {"finetune"}),
        "residual_rotation_folded_norms": (synthetic.rotate_residual(base, seed=3), base, {"finetune"}),
        "residual_rotation_tied": (synthetic.rotate_residual(tied, seed=3), tied, {"finetune"}),
        "rotation_permutation_finetune": (
            synthetic.permute_hidden_units(synthetic.rotate_residual(models["llama1_finetune"], seed=4), seed=2),
            base,
            {"finetune"},
        ),
        "residual_signed_permutation_gpt2": (synthetic.permute_residual(gpt2, seed=5), gpt2, {"finetune"}),
        "rescaling": (synthetic.rescale(base, seed=1), base, {"finetune"}),
        "merge_vs_base": (merged, base, {"finetune", "merge"}),
        "merge_vs_parent": (merged, models["llama1_finetune"], {"finetune", "merge"}),
        "moe_upcycling": (synthetic.upcycle(base, experts=4, noise=0.05), base, {"upcycled"}),
        "bf16_round_trip": (synthetic.quantize_round_trip(base, "bf16"), base, {"quantized"}),
        "fp8_round_trip": (synthetic.quantize_round_trip(base, "fp8_e4m3"), base, {"quantized"}),
        "merged_adapter": (synthetic.add_low_rank_adapter(base, rank=2), base, {"adapter"}),
    }


CASES = [
    "finetune", "finetune_tied", "finetune_gpt2", "continued_pretraining_large_lr", "layer_pruning",
    "mlp_width_pruning", "hidden_unit_permutation", "hidden_unit_permutation_gpt2",
    "residual_rotation_folded_norms", "residual_rotation_tied", "rotation_permutation_finetune",
    "residual_signed_permutation_gpt2", "rescaling", "merge_vs_base", "merge_vs_parent", "moe_upcycling",
    "bf16_round_trip", "fp8_round_trip", "merged_adapter",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_derived_pairs_are_derived(models: StateDicts, case: str) -> None:
    model, reference, relations = derived_cases(models)[case]
    result = run(model, reference, case)
    assert result.verdict in ("derived", "copied"), (result.verdict, result.p_value)
    assert result.p_value <= ALPHA
    assert result.relation in relations, result.relation
    blocks = [c for c in result.components if c.name.startswith(("model.layers.", "transformer.h."))]
    assert blocks and all(c.status in ("derived", "copied") for c in blocks), [(c.name, c.status) for c in blocks]
    assert all(c.source is not None for c in blocks)


def test_layer_pruning_finds_the_kept_layers(models: StateDicts) -> None:
    result = run(synthetic.prune_layers(models["llama1_finetune"], [1]), models["llama1"])
    assert result.layer_alignment == [("model.layers.0", "model.layers.0"), ("model.layers.1", "model.layers.2")]
    assert result.component("model.layers.1").source == "model.layers.2"
    assert result.relation == "pruned"


def test_copied_vision_encoder_is_localized(models: StateDicts) -> None:
    result = run(models["vlm_copied_tower"], models["vlm_a"], "vlm_copied_tower")
    assert result.verdict == "copied"
    assert result.relation == "copied_component"
    tower = result.component("model.vision_encoder")
    assert (tower.status, tower.source) == ("copied", "vision_tower")
    # The language model was trained independently: its blocks stay independent.
    blocks = [c for c in result.components if c.name.startswith("language_model.model.layers.")]
    assert blocks and all(c.status == "independent" for c in blocks)
    document = result.to_json()
    names = {c["name"]: c for c in document["components"]}
    assert names["model.vision_encoder"]["status"] == "copied"


def test_separation_and_runtime(
    models: StateDicts, independent_results: list[tuple[str, str, ComparisonResult]]
) -> None:
    started = time.perf_counter()
    derived_scores = [run(m, r, case).score() for case, (m, r, _) in derived_cases(models).items()]
    elapsed = time.perf_counter() - started
    independent_scores = [r.score() for _, _, r in independent_results]
    # Scores are -log10 p: the weakest derived pair must clear the strongest independent one.
    assert min(derived_scores) > max(independent_scores)
    assert min(derived_scores) > -np.log10(ALPHA)
    assert elapsed / len(derived_scores) < 10.0
