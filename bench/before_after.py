"""Benchmarks before and after a change, on this machine, in the same session.

    .venv/bin/python bench/before_after.py BEFORE_COMMIT [--rounds 5] [--only upload,metadata,recompute]

Checks BEFORE_COMMIT out into a temporary git worktree, then, ``--rounds`` times, runs each
benchmark once on that tree and once on this working tree (alternating which goes first, so that a
drift in the machine's load falls on both), each with its own code on ``PYTHONPATH`` and its own
``bench/`` scripts. It reports the median of the rounds for each side and the ratio after/before
(for times, below 1.10 means within 10 %). The benchmarks are the ones a change to the domains'
wiring can move: an upload and commit through the HF client (every commit now stores an event),
metadata reads under 50 concurrent clients (the routers' order), and recomputing a challenge's
decisions from its ledger (the challenge service).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    arguments: tuple[str, ...]
    result: str  # the JSON file the script writes into its tree's bench/results (newest match)
    metrics: dict[str, Callable[[dict[str, Any]], float]]  # lower is better for every metric


BENCHMARKS = {
    "upload": Benchmark(
        "upload",
        "upload_vs_openssl.py",
        ("--files", "4", "--file-size", "64MiB", "--runs", "1"),
        "upload_vs_openssl-*.json",
        {"upload 256 MiB via HfApi.upload_folder, s": lambda data: float(data["seconds"]["baton"][0])},
    ),
    "metadata": Benchmark(
        "metadata",
        "metadata_latency.py",
        ("--clients", "50", "--requests", "20", "--runs", "1", "--databases", "sqlite"),
        "metadata_latency-*.json",
        {
            f"{call} p50 under 50 clients, ms": (
                lambda data, call=call: float(data["median"]["sqlite"][call]["p50_ms"])
            )
            for call in ("model_info", "tree (recursive)")
        },
    ),
    "recompute": Benchmark(
        "recompute",
        "challenge_recompute.py",
        ("--votes", "20000", "--runs", "1"),
        "challenge_recompute.json",
        {"verify and recompute a 20,000-vote ledger, s": lambda data: float(data["verify_seconds"][0])},
    ),
}


def run_once(tree: Path, benchmark: Benchmark) -> dict[str, float]:
    results = tree / "bench" / "results"
    if results.exists():
        for old in results.glob(benchmark.result):
            old.unlink()
    environment = dict(os.environ, PYTHONPATH=str(tree / "src"))
    completed = subprocess.run(
        [sys.executable, str(tree / "bench" / benchmark.script), *benchmark.arguments],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"{benchmark.script} failed in {tree}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    (path,) = sorted(results.glob(benchmark.result))[-1:]
    data = json.loads(path.read_text())
    return {metric: read(data) for metric, read in benchmark.metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="the commit before the change (e.g. a303ef4)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    chosen = [BENCHMARKS[name.strip()] for name in args.only.split(",") if name.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="baton-before-"))
    before = workdir / "before"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        for round_number in range(args.rounds):
            for benchmark in chosen:
                order = [("before", before), ("after", REPO)]
                if round_number % 2:
                    order.reverse()
                for side, tree in order:
                    for metric, value in run_once(tree, benchmark).items():
                        samples.setdefault(metric, {}).setdefault(side, []).append(value)
                    print(f"round {round_number + 1} {benchmark.name} {side} done", file=sys.stderr, flush=True)
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"| metric (lower is better) | before ({args.before}) | after | after / before | runs before | runs after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for metric, sides in samples.items():
        old, new = statistics.median(sides["before"]), statistics.median(sides["after"])
        print(
            f"| {metric} | {old:.3f} | {new:.3f} | {new / old:.2f} | "
            f"{', '.join(f'{v:.3f}' for v in sides['before'])} | {', '.join(f'{v:.3f}' for v in sides['after'])} |"
        )


if __name__ == "__main__":
    main()
