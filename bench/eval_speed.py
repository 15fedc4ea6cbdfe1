"""Evaluation speed: Baton's ``hf`` backend against lm-evaluation-harness's ``hf`` model.

Same model, same local data, same batch size, empty caches, in one process, runs interleaved:
for each task (KMMLU-, KoBEST-COPA- and CLIcK-shaped sample files from
``baton.evaluation.parity.write_sample_data``) it times Baton (``load_task`` + ``run``) and the
harness (``simple_evaluate`` with the harness's own task definitions over the same files, its
model object built once, as Baton's backend is), and reports items per second (median of
``--runs``) and the ratio. It also checks that both gave the same per-choice log-likelihoods
(within 1e-4) on every run, so the speed compared is for the same answers.

The model is a randomly initialised GPT-2 (``--size small``: 4 layers x 256; ``--size 0.5b``: a
Qwen2-shaped ~0.5B model for a GPU) with a byte-level BPE tokenizer trained on the sample data:
speed does not depend on what the weights learnt.

    .venv/bin/python bench/eval_speed.py --rows 200 --runs 5 --batch-size 16
    .venv/bin/python bench/eval_speed.py --size 0.5b --device cuda --rows 500 --runs 3 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TASKS = ("kmmlu", "kobest_copa", "click")


def make_model(folder: Path, texts: list[str], size: str, vocab: int = 32000) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    # The embedding has ``vocab`` rows (as a real Korean model's 30k-150k), the tokenizer uses the first ones.
    common = {
        "vocab_size": max(vocab, len(tokenizer)),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    model: Any
    if size == "small":
        model = GPT2LMHeadModel(GPT2Config(n_positions=1024, n_embd=256, n_layer=4, n_head=8, **common))
    else:  # Qwen2.5-0.5B's shape, with this small vocabulary
        config = Qwen2Config(
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            tie_word_embeddings=True,
            **common,
        )
        model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200, help="items per task")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--long-every", type=int, default=4, help="every Nth KMMLU question / CLIcK paragraph is 40-800 words (0: none)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", choices=["small", "0.5b"], default="small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vocab", type=int, default=32000, help="rows of the model's embedding (output classes)")
    parser.add_argument("--no-json", action="store_true")
    arguments = parser.parse_args()

    import lm_eval
    import torch
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from baton.evaluation import parity
    from baton.evaluation.backends.hf import HuggingFaceBackend
    from baton.evaluation.runner import run
    from baton.evaluation.tasks import load_task

    work = Path(tempfile.mkdtemp(prefix="baton-eval-speed-"))
    os.environ["HF_DATASETS_CACHE"] = str(work / "datasets-cache")
    files = parity.write_sample_data(work / "data", rows=arguments.rows, seed=1, long_every=arguments.long_every)
    model_path = make_model(work / "model", parity.sample_texts(files), arguments.size, arguments.vocab)
    dtype = "float32" if arguments.device == "cpu" else "bfloat16"
    baton_backend = HuggingFaceBackend(
        str(model_path), batch_size=arguments.batch_size, device=arguments.device, dtype=dtype
    )
    harness_model = HFLM(
        pretrained=str(model_path), dtype=dtype, device=arguments.device, batch_size=arguments.batch_size
    )
    task_folder = work / "harness-tasks"
    task_folder.mkdir()
    for task in TASKS:
        (task_folder / f"speed_{task}.yaml").write_text(
            parity.harness_task_yaml(task, files[task], name=f"speed_{task}"), encoding="utf-8"
        )
    manager = TaskManager(include_path=str(task_folder), include_defaults=False)

    def sync() -> None:
        if arguments.device.startswith("cuda"):
            torch.cuda.synchronize()

    # Model time: the seconds inside each side's scoring call (tokenizing, forward passes,
    # log-softmax, picking the scores), without loading the task, the data or the model; and the
    # token positions each side ran through the model (padded batches: rows x width).
    counters = {"baton": {"seconds": 0.0, "padded": 0}, "harness": {"seconds": 0.0, "padded": 0}}

    def timed(side: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sync()
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                sync()
                counters[side]["seconds"] += time.perf_counter() - started

        return wrapper

    baton_backend.answer = timed("baton", baton_backend.answer)  # type: ignore[method-assign]
    harness_model.loglikelihood = timed("harness", harness_model.loglikelihood)  # type: ignore[method-assign]
    harness_call = harness_model._model_call

    def counted_call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        counters["harness"]["padded"] += int(inputs.numel())
        return harness_call(inputs, *args, **kwargs)

    harness_model._model_call = counted_call  # type: ignore[method-assign]

    timings: dict[str, dict[str, list[float]]] = {task: {"baton": [], "harness": []} for task in TASKS}
    model_times: dict[str, dict[str, list[float]]] = {task: {"baton": [], "harness": []} for task in TASKS}
    positions: dict[str, dict[str, int]] = {}
    worst: dict[str, float] = dict.fromkeys(TASKS, 0.0)
    worst_relative: dict[str, float] = dict.fromkeys(TASKS, 0.0)
    for run_index in range(arguments.runs):
        for task in TASKS:
            order = ("baton", "harness") if run_index % 2 == 0 else ("harness", "baton")
            outputs: dict[str, Any] = {}
            for side in order:
                counters[side]["seconds"], counters[side]["padded"] = 0.0, 0
                sync()
                started = time.perf_counter()
                if side == "baton":
                    outputs[side] = run(load_task(task, data=files[task]), baton_backend).to_json()
                else:
                    outputs[side] = lm_eval.simple_evaluate(
                        model=harness_model,
                        tasks=[f"speed_{task}"],
                        task_manager=manager,
                        log_samples=True,
                        bootstrap_iters=0,
                        verbosity="ERROR",
                    )
                sync()
                timings[task][side].append(time.perf_counter() - started)
                model_times[task][side].append(counters[side]["seconds"])
            compute = outputs["baton"]["manifest"]["compute"]
            positions[task] = {
                "baton": compute["token_positions"],
                "baton_padded": compute["padded_positions"],
                "baton_rows": compute["rows"],
                "harness_padded": counters["harness"]["padded"],
            }
            docs = sorted(outputs["harness"]["samples"][f"speed_{task}"], key=lambda entry: int(entry["doc_id"]))
            for item, doc in zip(outputs["baton"]["items"], docs, strict=True):
                theirs = [float(r[0][0] if isinstance(r[0], list | tuple) else r[0]) for r in doc["filtered_resps"]]
                worst[task] = max(
                    worst[task], *(abs(a - b) for a, b in zip(item["loglikelihoods"], theirs, strict=True))
                )
                worst_relative[task] = max(
                    worst_relative[task],
                    *(abs(a - b) / abs(b) for a, b in zip(item["loglikelihoods"], theirs, strict=True) if b),
                )
        print(f"run {run_index + 1}/{arguments.runs} done", file=sys.stderr, flush=True)

    rows = []
    for task in TASKS:
        baton_seconds = statistics.median(timings[task]["baton"])
        harness_seconds = statistics.median(timings[task]["harness"])
        baton_model = statistics.median(model_times[task]["baton"])
        harness_model_seconds = statistics.median(model_times[task]["harness"])
        rows.append(
            {
                "task": task,
                "items": arguments.rows,
                "baton_items_per_second": arguments.rows / baton_seconds,
                "harness_items_per_second": arguments.rows / harness_seconds,
                "ratio": harness_seconds / baton_seconds,
                "baton_model_seconds": baton_model,
                "harness_model_seconds": harness_model_seconds,
                "model_ratio": harness_model_seconds / baton_model,
                "positions": positions[task],
                "baton_model_seconds_runs": model_times[task]["baton"],
                "harness_model_seconds_runs": model_times[task]["harness"],
                "max_loglikelihood_difference": worst[task],
                "max_relative_difference": worst_relative[task],
                "baton_seconds": timings[task]["baton"],
                "harness_seconds": timings[task]["harness"],
            }
        )
    total_baton = sum(statistics.median(timings[t]["baton"]) for t in TASKS)
    total_harness = sum(statistics.median(timings[t]["harness"]) for t in TASKS)
    device = torch.cuda.get_device_name() if arguments.device.startswith("cuda") else platform.processor() or "cpu"
    print(
        f"\nmodel {arguments.size} (vocabulary {arguments.vocab}) on {arguments.device} ({device}), "
        f"torch threads {torch.get_num_threads()}, "
        f"batch size {arguments.batch_size}, {arguments.rows} items per task, median of {arguments.runs} runs\n"
    )
    print(
        "| task | model s Baton | model s lm-eval | model speed-up | end-to-end s Baton | end-to-end s lm-eval "
        "| end-to-end speed-up | positions Baton (padded) | positions lm-eval (padded) | max rel. Δ |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        counts = row["positions"]
        print(
            f"| {row['task']} | {row['baton_model_seconds']:.3f} | {row['harness_model_seconds']:.3f} | "
            f"{row['model_ratio']:.2f}x | {statistics.median(row['baton_seconds']):.3f} | "
            f"{statistics.median(row['harness_seconds']):.3f} | {row['ratio']:.2f}x | "
            f"{counts['baton']:,} ({counts['baton_padded']:,}) | ({counts['harness_padded']:,}) | "
            f"{row['max_relative_difference']:.1e} |"
        )
    model_baton = sum(row["baton_model_seconds"] for row in rows)
    model_harness = sum(row["harness_model_seconds"] for row in rows)
    print(
        f"| all | {model_baton:.3f} | {model_harness:.3f} | {model_harness / model_baton:.2f}x | {total_baton:.3f} | "
        f"{total_harness:.3f} | {total_harness / total_baton:.2f}x | | | |"
    )
    if not arguments.no_json:
        results = Path(__file__).parent / "results"
        results.mkdir(exist_ok=True)
        target = results / f"eval_speed_{arguments.size}_{arguments.device.replace(':', '')}.json"
        payload = {"arguments": vars(arguments), "device": device, "rows": rows}
        target.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
