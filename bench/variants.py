"""Variants (issue 19): speed and memory of int8 ONNX against fp32 transformers, accuracy retained, wall time.

Three parts (``--only speed|accuracy|all``; ``all`` also runs the wall-time part):

- **speed**: a randomly initialised Llama of GPT-2-small shape (12 layers, hidden 768, 12 heads,
  intermediate 2048, vocabulary 50257, tied embeddings, about 124M parameters; speed does not depend
  on what the weights learnt) is exported to ONNX and quantized with onnxruntime's dynamic int8.
  The fp32 model on ``transformers`` (Baton's ``hf`` backend) and the int8 graph on ``onnxruntime``
  (Baton's ``onnxruntime`` backend) score the same multiple-choice items in the same run, runs
  interleaved, each model in a fresh child process (``baton.variants.measure.measure_in_child``,
  the same code as the ``variants.measure`` job) so each peak memory (``VmHWM`` of its child)
  is its own. Reports scored tokens/s and items/s (medians of ``--runs``), the ratio, latency of
  single requests, peak memory. Target: ratio >= 1.5.
- **accuracy**: a small Llama is trained here on a generated 4-choice pattern-completion task (a
  sequence repeating with period 2 to 5, which letter comes next), to at least 20 points above chance
  (25 %); then it and its int8 ONNX variant answer ``--accuracy-items`` held-out items, and the paired
  difference int8 - fp32 per item with its 95 % paired-bootstrap interval is reported. Target: the
  interval inside +-1 point.
- **wall**: producing every variant of the GPT-2-small-shaped model (ONNX fp32 export, ONNX dynamic
  int8, torchao int8 and int4) and evaluating each and the base on ``--wall-items`` items, end to end.
  Target: within 15 minutes on 2 cores.

    .venv/bin/python bench/variants.py --only all --runs 5 --threads 2
    .venv/bin/python bench/variants.py --only speed --items 50 --runs 1 --layers 2 --hidden 64 --vocab 1000  # smoke
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from _common import machine_summary, markdown_table, package_versions, write_results

LETTERS = "abcdefghij"
MIB = 1024 * 1024


# --------------------------------------------------------------------------------------------- models and items


def word_tokenizer(words: list[str]) -> Any:
    """A word-level tokenizer over ``words`` (split on whitespace), with an end-of-text token as BOS/EOS."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": 0} | {word: index + 1 for index, word in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )


def make_llama(
    folder: Path, tokenizer: Any, *, layers: int, hidden: int, heads: int, intermediate: int, vocab: int
) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=max(vocab, len(tokenizer)),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def parameter_count(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as handle:
            for name in handle.keys():  # noqa: SIM118  (safe_open is not iterable)
                total += _product(list(handle.get_slice(name).get_shape()))
    return total


def _product(shape: list[int]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def pattern_sequence(rng: random.Random, length: int) -> list[str]:
    period = rng.choice((2, 3, 4, 5))
    motif = rng.sample(LETTERS, period)
    return [motif[index % period] for index in range(length)]


def pattern_items(count: int, seed: int) -> tuple[list[Any], list[list[Any]]]:
    """``count`` 4-choice items: which letter continues the repeating sequence (chance 25 %)."""
    from baton.evaluation.types import Item, Request

    rng = random.Random(seed)
    items, requests = [], []
    for number in range(count):
        sequence = pattern_sequence(rng, rng.randint(6, 9) + 1)
        context, answer = " ".join(sequence[:-1]), sequence[-1]
        others = rng.sample([letter for letter in LETTERS if letter != answer], 3)
        choices = [answer, *others]
        rng.shuffle(choices)
        item = Item(str(number), context, tuple(f" {c}" for c in choices), choices.index(answer))
        items.append(item)
        requests.append([Request("loglikelihood", context, f" {c}") for c in choices])
    return items, requests


def accuracy_of(items: list[Any], requests: list[list[Any]], answers: list[Any]) -> list[bool]:
    correct, position = [], 0
    for item, asked in zip(items, requests, strict=True):
        scores = [answer.loglikelihood for answer in answers[position : position + len(asked)]]
        position += len(asked)
        correct.append(max(range(len(scores)), key=lambda index: (scores[index], -index)) == item.answer)
    return correct


def train_pattern_model(folder: Path, tokenizer: Any, *, steps: int, hidden: int, layers: int, seed: int) -> float:
    """Train a small Llama on repeating letter sequences; returns the final training loss."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    rng = random.Random(seed + 1)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 32),
        num_key_value_heads=max(1, hidden // 32),
        max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    loss_value = float("nan")
    model.train()
    for _step in range(steps):
        batch = [
            tokenizer(" ".join(pattern_sequence(rng, 12)), add_special_tokens=False)["input_ids"] for _ in range(32)
        ]
        ids = torch.tensor([[tokenizer.bos_token_id, *row] for row in batch])
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_value = float(loss.item())
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return loss_value


def folder_size(folder: Path) -> int:
    suffixes = (".safetensors", ".onnx", ".onnx.data", ".onnx_data", ".bin")
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and path.name.endswith(suffixes))


# --------------------------------------------------------------------------------------------- parts


def run_speed(arguments: argparse.Namespace, work: Path) -> dict[str, Any]:
    from baton.variants import measure, produce

    tokenizer = word_tokenizer(list(LETTERS))
    base = make_llama(
        work / "speed-fp32",
        tokenizer,
        layers=arguments.layers,
        hidden=arguments.hidden,
        heads=arguments.heads,
        intermediate=arguments.intermediate,
        vocab=arguments.vocab,
    )
    started = time.perf_counter()
    onnx_fp32 = produce.export_onnx(base, work / "speed-onnx-fp32")
    onnx_int8 = produce.quantize_onnx_int8(onnx_fp32, work / "speed-onnx-int8")
    produce_seconds = time.perf_counter() - started
    items, requests = pattern_items(arguments.items, seed=7)
    flat = [request for asked in requests for request in asked]
    sides = {"fp32 transformers": ("transformers", base), "int8 onnxruntime": ("onnxruntime", onnx_int8)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _run in range(arguments.runs):
        for name, (runtime_name, folder) in sides.items():  # interleaved: load drifts hit both alike
            result = measure.measure_in_child(
                runtime_name, str(folder), flat, batch_size=arguments.batch_size, threads=arguments.threads
            )
            runs[name].append(
                {
                    "tokens_per_second": result["tokens"] / result["scoring_seconds"],
                    "items_per_second": len(items) / result["scoring_seconds"],
                    "scoring_seconds": result["scoring_seconds"],
                    "latency_median_ms": statistics.median(result["latencies_ms"]),
                    "peak_rss_bytes": result["peak_rss_bytes"],
                    "rss_before_load_bytes": result["rss_before_load_bytes"],
                    "correct": sum(accuracy_of(items, requests, result["answers"])),
                }
            )
    summary = {
        name: {
            key: statistics.median(run[key] for run in values)
            for key in ("tokens_per_second", "items_per_second", "latency_median_ms", "peak_rss_bytes")
        }
        | {"runs": values}
        for name, values in runs.items()
    }
    ratio = summary["int8 onnxruntime"]["tokens_per_second"] / summary["fp32 transformers"]["tokens_per_second"]
    return {
        "shape": {
            "layers": arguments.layers,
            "hidden": arguments.hidden,
            "heads": arguments.heads,
            "intermediate": arguments.intermediate,
            "vocab": arguments.vocab,
            "parameters": parameter_count(base),
        },
        "items": len(items),
        "requests": len(flat),
        "produce_seconds": produce_seconds,
        "file_sizes": {"fp32 transformers": folder_size(base), "int8 onnxruntime": folder_size(onnx_int8)},
        "sides": summary,
        "speedup": ratio,
        "target": ">= 1.5",
        "met": ratio >= 1.5,
    }


def run_accuracy(arguments: argparse.Namespace, work: Path) -> dict[str, Any]:
    from baton.evaluation.metrics import paired_difference
    from baton.variants import measure, produce

    tokenizer = word_tokenizer(list(LETTERS))
    started = time.perf_counter()
    loss = train_pattern_model(
        work / "accuracy-fp32",
        tokenizer,
        steps=arguments.train_steps,
        hidden=arguments.train_hidden,
        layers=arguments.train_layers,
        seed=11,
    )
    train_seconds = time.perf_counter() - started
    base = work / "accuracy-fp32"
    onnx_int8 = produce.quantize_onnx_int8(produce.export_onnx(base, work / "accuracy-onnx"), work / "accuracy-int8")
    items, requests = pattern_items(arguments.accuracy_items, seed=2026)  # other seed than training's draws
    flat = [request for asked in requests for request in asked]
    fp32 = measure.measure_in_child(
        "transformers", str(base), flat, batch_size=arguments.batch_size, threads=arguments.threads, latency_requests=0
    )
    int8 = measure.measure_in_child(
        "onnxruntime",
        str(onnx_int8),
        flat,
        batch_size=arguments.batch_size,
        threads=arguments.threads,
        latency_requests=0,
    )
    base_correct = accuracy_of(items, requests, fp32["answers"])
    int8_correct = accuracy_of(items, requests, int8["answers"])
    paired = paired_difference(base_correct, int8_correct, seed=2026)
    return {
        "task": "4-choice pattern completion (period 2 to 5 over 10 letters), chance 0.25",
        "train": {"steps": arguments.train_steps, "seconds": train_seconds, "final_loss": loss},
        "items": len(items),
        "fp32_accuracy": paired.mean_a,
        "int8_accuracy": paired.mean_b,
        "above_chance_points": 100 * (paired.mean_a - 0.25),
        "paired_difference": paired.to_json(),
        "disagreements": sum(a != b for a, b in zip(base_correct, int8_correct, strict=True)),
        "targets": {
            "fp32 >= chance + 20 points": paired.mean_a >= 0.45,
            "interval inside +-1 point": (paired.low >= -0.01 and paired.high <= 0.01),
        },
    }


def run_wall(arguments: argparse.Namespace, work: Path) -> dict[str, Any]:
    from baton.variants import measure, produce

    tokenizer = word_tokenizer(list(LETTERS))
    started = time.perf_counter()
    base = make_llama(
        work / "wall-fp32",
        tokenizer,
        layers=arguments.layers,
        hidden=arguments.hidden,
        heads=arguments.heads,
        intermediate=arguments.intermediate,
        vocab=arguments.vocab,
    )
    steps: dict[str, float] = {}

    def step(name: str, function: Any) -> Any:
        begin = time.perf_counter()
        value = function()
        steps[name] = time.perf_counter() - begin
        return value

    onnx_fp32 = step("produce onnx-export", lambda: produce.export_onnx(base, work / "wall-onnx-fp32"))
    variants = {
        "onnx-fp32": ("onnxruntime", onnx_fp32),
        "onnx-int8": (
            "onnxruntime",
            step("produce onnx-int8", lambda: produce.quantize_onnx_int8(onnx_fp32, work / "wall-onnx-int8")),
        ),
        "int8": (
            "transformers",
            step("produce int8", lambda: produce.quantize_weight_only(base, work / "wall-int8", 8)),
        ),
        "int4": (
            "transformers",
            step("produce int4", lambda: produce.quantize_weight_only(base, work / "wall-int4", 4)),
        ),
    }
    items, requests = pattern_items(arguments.wall_items, seed=3)
    flat = [request for asked in requests for request in asked]
    for name, (runtime_name, folder) in {"base": ("transformers", base), **variants}.items():
        step(
            f"evaluate {name}",
            lambda runtime_name=runtime_name, folder=folder: measure.measure_in_child(
                runtime_name, str(folder), flat, batch_size=arguments.batch_size, threads=arguments.threads
            ),
        )
    total = time.perf_counter() - started
    return {
        "items": len(items),
        "steps_seconds": steps,
        "total_seconds": total,
        "target": "<= 900 s on 2 cores",
        "met": total <= 900,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["speed", "accuracy", "wall", "all"], default="all")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--items", type=int, default=200, help="items of the speed part")
    parser.add_argument("--accuracy-items", type=int, default=1000)
    parser.add_argument("--wall-items", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--train-hidden", type=int, default=64)
    parser.add_argument("--train-layers", type=int, default=2)
    parser.add_argument("--no-json", action="store_true")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="baton-bench-variants-"))
    results: dict[str, Any] = {
        "machine": machine_summary(),
        "packages": package_versions("torch", "transformers", "torchao", "onnx", "onnxruntime"),
        "arguments": vars(arguments),
    }
    parts = ("speed", "accuracy", "wall") if arguments.only == "all" else (arguments.only,)
    if "speed" in parts:
        speed = results["speed"] = run_speed(arguments, work)
        rows = [
            [
                name,
                f"{side['tokens_per_second']:.0f}",
                f"{side['items_per_second']:.1f}",
                f"{side['latency_median_ms']:.1f}",
                f"{side['peak_rss_bytes'] / MIB:.0f}",
                f"{speed['file_sizes'][name] / MIB:.1f}",
            ]
            for name, side in speed["sides"].items()
        ]
        print(
            f"\nSpeed: {speed['shape']['parameters'] / 1e6:.1f}M parameters, {speed['items']} items, "
            f"medians of {arguments.runs} runs, {arguments.threads} threads"
        )
        print(markdown_table(["side", "tokens/s", "items/s", "latency ms (median)", "peak RSS MiB", "file MiB"], rows))
        print(
            f"int8 ONNX / fp32 transformers: {speed['speedup']:.2f}x "
            f"(target >= 1.5: {'met' if speed['met'] else 'NOT met'})"
        )
    if "accuracy" in parts:
        accuracy = results["accuracy"] = run_accuracy(arguments, work)
        difference = accuracy["paired_difference"]
        low, high = difference["ci95"]
        print(
            f"\nAccuracy: fp32 {accuracy['fp32_accuracy']:.3f} "
            f"({accuracy['above_chance_points']:+.1f} points over chance), "
            f"int8 {accuracy['int8_accuracy']:.3f} on {accuracy['items']} items"
        )
        print(
            f"paired difference int8 - fp32: {100 * difference['difference']:+.2f} points, "
            f"95% interval [{100 * low:+.2f}, {100 * high:+.2f}]; {accuracy['disagreements']} items differ; "
            f"targets {accuracy['targets']}"
        )
    if "wall" in parts:
        wall = results["wall"] = run_wall(arguments, work)
        print(
            f"\nAll variants produced and evaluated on {wall['items']} items: {wall['total_seconds']:.0f} s "
            f"(target <= 900 s: {'met' if wall['met'] else 'NOT met'})"
        )
        print(
            markdown_table(
                ["step", "seconds"], [[name, f"{value:.1f}"] for name, value in wall["steps_seconds"].items()]
            )
        )
    if not arguments.no_json:
        print(f"\nwrote {write_results('variants', results)}")


if __name__ == "__main__":
    main()
