"""Separation of derived from independent pairs: Baton's tests beside two naive baselines.

The pairs are those of the validation suite (``tests/provenance/test_derivation_validation.py``):
tiny Llama-style and GPT-2 models trained on the same data with different seeds (55 independent
pairs, plus two independently trained tiny VLMs), and 19 derived pairs made from them by further
training (fine-tuning, continued pretraining) or with ``baton.provenance.synthetic`` (pruning,
hidden-unit and residual permutations, rotations with folded norms, rescaling, merges,
upcycling, BF16/FP8 round trips, a merged adapter). The trained models are cached where the
test suite caches them (``.pytest_cache/d/baton-provenance-models-<hash of fixture_models.py>``);
a clean checkout trains them first (a minute or two on two cores).

For each pair:

- **Baton**: ``compare(model, reference).score()``, i.e. -log10 of the overall p-value, capped at 300;
- **raw cosine, whole vectors**: cosine of all parameters flattened, over the tensors that have the
  same name and shape in both (undefined when none do, e.g. GPT-2 against Llama);
- **raw cosine, norm gains**: cosine of the concatenated norm gains (1-D ``*norm*``/``ln_*`` weights).

Separation of a method = (weakest derived score) - (strongest independent score), in the method's
own units: positive means a threshold exists that puts every derived pair above every
independent one. AUC (the share of (derived, independent) pairs ordered correctly, ties half) is
the scale-free version.

    .venv/bin/python bench/provenance_separation.py
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as common
import numpy as np

TESTS = common.REPO_ROOT / "tests" / "provenance"
sys.path.insert(0, str(TESTS))

import fixture_models  # noqa: E402  (tests/provenance)

from baton.provenance.compare import compare  # noqa: E402
from baton.provenance.source import ArraySource  # noqa: E402

StateDict = dict[str, np.ndarray]
ALPHA = 0.01


def load_models(cache_root: Path) -> dict[str, StateDict]:
    """The suite's trained models, from the test suite's cache (trained and stored there when absent)."""
    key = hashlib.sha256(Path(fixture_models.__file__).read_bytes()).hexdigest()[:16]
    folder = cache_root / f"baton-provenance-models-{key}"
    if not (folder / "complete").exists():
        print(f"training the suite's models into {folder} ...", file=sys.stderr)
        started = time.perf_counter()
        cache_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".models-", dir=cache_root))
        for name, state in fixture_models.generate().items():
            np.savez(staging / f"{name}.npz", **state)
        (staging / "complete").write_text("ok")
        if (folder / "complete").exists():  # made meanwhile (e.g. by a test run): keep that one
            shutil.rmtree(staging)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        print(f"trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    out: dict[str, StateDict] = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as archive:
            out[path.stem] = {name: archive[name] for name in archive.files}
    return out


# -- the three methods ------------------------------------------------------------------------------


def baton_score(model: StateDict, reference: StateDict) -> float:
    vocabulary = fixture_models.VOCABULARY
    result = compare(
        ArraySource(model, label="model", vocabulary=vocabulary),
        ArraySource(reference, label="reference", vocabulary=vocabulary),
        alpha=ALPHA,
    )
    return result.score()


def _cosine(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    if not pairs:
        return None
    dot = norm_a = norm_b = 0.0
    for a, b in pairs:
        a64, b64 = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
        dot += float(a64 @ b64)
        norm_a += float(a64 @ a64)
        norm_b += float(b64 @ b64)
    return dot / float(np.sqrt(norm_a * norm_b)) if norm_a and norm_b else None


def whole_vector_cosine(model: StateDict, reference: StateDict) -> float | None:
    shared = [n for n in model if n in reference and np.shape(model[n]) == np.shape(reference[n])]
    return _cosine([(model[n], reference[n]) for n in shared])


def is_norm_gain(name: str, value: np.ndarray) -> bool:
    module = name.rsplit(".", 1)[0].rsplit(".", 1)[-1]
    return np.ndim(value) == 1 and name.endswith(".weight") and ("norm" in module or module.startswith("ln_"))


def norm_gain_cosine(model: StateDict, reference: StateDict) -> float | None:
    shared = [
        n
        for n in model
        if is_norm_gain(n, model[n]) and n in reference and np.shape(model[n]) == np.shape(reference[n])
    ]
    return _cosine([(model[n], reference[n]) for n in shared])


METHODS: dict[str, Callable[[StateDict, StateDict], float | None]] = {
    "baton": baton_score,
    "raw_cosine_whole": whole_vector_cosine,
    "raw_cosine_norm_gains": norm_gain_cosine,
}
TITLES = {
    "baton": "Baton (-log10 p)",
    "raw_cosine_whole": "raw cosine, whole vectors",
    "raw_cosine_norm_gains": "raw cosine, norm gains",
}


def auc(derived: list[float], independent: list[float]) -> float:
    wins = sum(1.0 if d > i else 0.5 if d == i else 0.0 for d in derived for i in independent)
    return wins / (len(derived) * len(independent))


def fmt(value: float | None, method: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if method == "baton" else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cache-dir",
        default=str(common.REPO_ROOT / ".pytest_cache" / "d"),
        help="where the trained models are cached (default: the test suite's pytest cache)",
    )
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()

    import test_derivation_validation as suite  # the suite's pairs, so both always agree

    models = load_models(Path(args.cache_dir))
    independent_pairs = [(a, b, models[a], models[b]) for a, b in itertools.combinations(suite.INDEPENDENT, 2)]
    independent_pairs.append(("vlm_b", "vlm_a", models["vlm_b"], models["vlm_a"]))
    derived_pairs = [(case, "", m, r) for case, (m, r, _) in suite.derived_cases(models).items()]

    loads = [common.load_average()]
    scores: dict[str, dict[str, list[float | None]]] = {"derived": {}, "independent": {}}
    seconds: dict[str, list[float]] = {method: [] for method in METHODS}
    labels: dict[str, list[str]] = {"derived": [], "independent": []}
    for kind, pairs in (("derived", derived_pairs), ("independent", independent_pairs)):
        for first, second, model, reference in pairs:
            labels[kind].append(first if kind == "derived" else f"{first} vs {second}")
            for method, function in METHODS.items():
                started = time.perf_counter()
                value = function(model, reference)
                seconds[method].append(time.perf_counter() - started)
                scores[kind].setdefault(method, []).append(value)
        print(f"{kind}: {len(pairs)} pairs done", file=sys.stderr)
    loads.append(common.load_average())

    summary: dict[str, dict[str, Any]] = {}
    rows = []
    for method in METHODS:
        derived = [v for v in scores["derived"][method] if v is not None]
        independent = [v for v in scores["independent"][method] if v is not None]
        weakest, strongest = min(derived), max(independent)
        gap = weakest - strongest
        above = sum(v > strongest for v in derived)
        summary[method] = {
            "weakest_derived": weakest,
            "strongest_independent": strongest,
            "separation": gap,
            "separates": gap > 0,
            "derived_above_strongest_independent": above,
            "derived_defined": len(derived),
            "independent_defined": len(independent),
            "auc": auc(derived, independent),
            "median_seconds_per_pair": common.median(seconds[method]),
        }
        rows.append([
            TITLES[method], fmt(weakest, method), fmt(strongest, method), fmt(gap, method),
            "yes" if gap > 0 else "**no**", f"{above}/{len(derived)}", f"{summary[method]['auc']:.3f}",
            f"{len(independent)}/{len(scores['independent'][method])}",
            f"{common.median(seconds[method]) * 1000:.1f}",
        ])  # fmt: skip

    print()
    print(
        f"{len(derived_pairs)} derived and {len(independent_pairs)} independent pairs "
        f"(tiny models of the validation suite); alpha {ALPHA}."
    )
    print()
    print(common.markdown_table(
        ["method", "weakest derived", "strongest independent", "separation", "separates",
         "derived above strongest independent", "AUC", "independent pairs where defined", "ms per pair (median)"],
        rows,
    ))  # fmt: skip
    print()
    detail = []
    for index, case in enumerate(labels["derived"]):
        cells = [case]
        for method in METHODS:
            value = scores["derived"][method][index]
            strongest = summary[method]["strongest_independent"]
            mark = "" if value is None or value > strongest else " ✗"
            cells.append(fmt(value, method) + mark)
        detail.append(cells)
    print("Derived pairs (✗: not above the strongest independent pair of that method):")
    print()
    print(common.markdown_table(["derived pair", *(TITLES[m] for m in METHODS)], detail))
    print()
    strongest_rows = []
    for method in METHODS:
        values = scores["independent"][method]
        defined = [(v, labels["independent"][i]) for i, v in enumerate(values) if v is not None]
        top_value, top_label = max(defined)
        median_value = common.median([v for v, _ in defined])
        strongest_rows.append([TITLES[method], fmt(median_value, method), f"{fmt(top_value, method)} ({top_label})"])
    print("Independent pairs:")
    print()
    print(common.markdown_table(["method", "median", "strongest (pair)"], strongest_rows))
    print()
    print(f"load average: {loads[0]} (start) .. {loads[-1]} (end)")
    if not args.no_json:
        path = common.write_results(
            "provenance_separation",
            {
                "labels": labels,
                "scores": scores,
                "seconds": seconds,
                "summary": summary,
                "load_averages": loads,
            },
        )
        print(f"\nraw numbers: {path.relative_to(common.REPO_ROOT)}")


if __name__ == "__main__":
    main()
