"""Latency of metadata calls under 50 concurrent clients, on SQLite and on PostgreSQL.

The repo looks like a real model repo: a model card, configs and tokenizer files at the top,
and about 200 files in a few folders (checkpoints with small LFS weights, evaluation outputs,
ONNX exports), written in three commits. Two calls are measured, each as the official client
sends it:

- ``model_info``: ``GET /api/models/<id>`` (what ``HfApi.model_info`` sends);
- tree listing: ``GET /api/models/<id>/tree/main?recursive=true`` (what
  ``HfApi.list_repo_tree(recursive=True)`` sends; one page, since the repo has < 1000 entries).

``--clients`` asyncio tasks, each with its own ``httpx.AsyncClient`` (its own connection) and
the user's token, send ``--requests`` calls one after another; all run at once. The latency
of each call is recorded; p50/p99 are nearest-rank percentiles, repeated ``--runs`` times and
the median taken. Before each concurrent pass, one client alone sends 50 calls: its p50 is the
time to serve one call when nothing else is waiting.

    .venv/bin/python bench/metadata_latency.py --clients 50 --requests 40 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    DEFAULT_POSTGRES_URL,
    MIB,
    baton_server,
    load_average,
    markdown_table,
    median,
    package_versions,
    percentile,
    postgres_schema,
    write_results,
    write_safetensors_file,
)
from huggingface_hub import CommitOperationAdd, HfApi

REPO = "bench-metadata"
CARD = """---
license: apache-2.0
language:
- ko
- en
library_name: transformers
pipeline_tag: text-generation
base_model: team-a/foundation-7b
tags:
- baton-benchmark
- korean
---

# bench-metadata

A stand-in for a team's model repo: a card, configs, tokenizer files, checkpoints,
evaluation outputs and ONNX exports.
"""


def build_repo(folder: Path) -> list[list[Path]]:
    """Write the repo's files; return them grouped into the commits that add them."""
    first: list[Path] = []
    (folder / "README.md").write_text(CARD)
    for name, content in {
        "config.json": {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32},
        "generation_config.json": {"temperature": 0.7, "top_p": 0.9},
        "tokenizer_config.json": {"model_max_length": 8192, "padding_side": "left"},
        "special_tokens_map.json": {"bos_token": "<s>", "eos_token": "</s>"},
    }.items():
        (folder / name).write_text(json.dumps(content, indent=2))
    (folder / "tokenizer.json").write_text(json.dumps({"vocab": {f"tok{i}": i for i in range(20000)}}))
    first += sorted(folder.iterdir())
    second: list[Path] = []
    for step in range(10):  # 10 checkpoints x 9 files = 90 files, 10 of them LFS
        checkpoint = folder / "checkpoints" / f"step-{(step + 1) * 1000:06d}"
        checkpoint.mkdir(parents=True)
        write_safetensors_file(checkpoint / "model.safetensors", MIB, tensor_bytes=MIB // 4)
        for index in range(8):
            path = checkpoint / f"state-{index}.json"
            path.write_text(json.dumps({"step": step, "shard": index, "loss": 2.0 - step * 0.1}))
        second += sorted(checkpoint.iterdir())
    third: list[Path] = []
    for task in range(8):  # 8 tasks x 10 files = 80 files
        results = folder / "eval" / f"task-{task:02d}"
        results.mkdir(parents=True)
        for index in range(10):
            path = results / f"results-{index:02d}.json"
            path.write_text(json.dumps({"task": task, "sample": index, "score": 0.5 + index / 100}))
            third.append(path)
    onnx = folder / "onnx"
    onnx.mkdir()
    for index in range(25):  # 25 files
        path = onnx / f"model-part-{index:02d}.onnx_data.json"
        path.write_text(json.dumps({"part": index}))
        third.append(path)
    return [first, second, third]


def create_repo(url: str, token: str, user: str, folder: Path) -> tuple[str, int]:
    api = HfApi(endpoint=url, token=token)
    repo_id = f"{user}/{REPO}"
    api.create_repo(repo_id)
    for number, group in enumerate(build_repo(folder), start=1):
        operations = [
            CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
            for path in group
        ]
        api.create_commit(repo_id, operations=operations, commit_message=f"Add files, part {number}")
    files = len(api.model_info(repo_id).siblings or [])
    return repo_id, files


async def hammer(url: str, token: str, path: str, clients: int, requests: int) -> tuple[list[float], float]:
    """``clients`` concurrent clients each sending ``requests`` GETs; latencies (s) and wall time."""
    headers = {"authorization": f"Bearer {token}"}
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as session:
            for _ in range(requests):
                start = time.perf_counter()
                response = await session.get(path)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - start


def measure(url: str, token: str, repo_id: str, clients: int, requests: int) -> dict[str, dict[str, float]]:
    calls = {
        "model_info": f"/api/models/{repo_id}",
        "tree (recursive)": f"/api/models/{repo_id}/tree/main?recursive=true",
    }
    found: dict[str, dict[str, float]] = {}
    for label, path in calls.items():
        asyncio.run(hammer(url, token, path, min(clients, 10), 5))  # warm-up: connections, caches
        alone, _ = asyncio.run(hammer(url, token, path, 1, 50))  # one client: the time to serve one call
        latencies, wall = asyncio.run(hammer(url, token, path, clients, requests))
        found[label] = {
            "single_client_p50_ms": percentile(alone, 0.50) * 1000,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies) * 1000,
            "requests_per_s": len(latencies) / wall,
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--requests", type=int, default=40, help="requests per client per call (default 40)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL server (a fresh schema)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    file_count = 0
    for database in databases:
        if database not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown database {database!r}; use sqlite or postgresql")
        with contextlib.ExitStack() as stack:
            work = Path(tempfile.mkdtemp(prefix="bench-metadata-"))
            stack.callback(shutil.rmtree, work, ignore_errors=True)
            database_url = stack.enter_context(postgres_schema(args.postgres_url)) if database == "postgresql" else None
            server = stack.enter_context(baton_server(database_url=database_url))
            repo_id, file_count = create_repo(server.url, server.token, server.user, work)
            results[database] = [
                measure(server.url, server.token, repo_id, args.clients, args.requests) for _ in range(args.runs)
            ]

    rows = []
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for database, runs in results.items():
        for call in runs[0]:
            values = {key: median([run[call][key] for run in runs]) for key in runs[0][call]}
            summary.setdefault(database, {})[call] = values
            rows.append(
                [
                    database,
                    call,
                    f"{values['single_client_p50_ms']:.1f}",
                    f"{values['p50_ms']:.1f}",
                    f"{values['p99_ms']:.1f}",
                    f"{values['max_ms']:.1f}",
                    f"{values['requests_per_s']:.0f}",
                ]
            )
    print(
        f"{args.clients} concurrent clients x {args.requests} requests, repo of {file_count} files; "
        f"medians of {args.runs} runs (lower latency is better)"
    )
    print()
    print(markdown_table(["database", "call", "1 client p50 ms", "p50 ms", "p99 ms", "max ms", "requests/s"], rows))
    if not args.no_json:
        path = write_results(
            "metadata_latency",
            {
                "clients": args.clients,
                "requests_per_client": args.requests,
                "runs": args.runs,
                "files_in_repo": file_count,
                "per_run": results,
                "median": summary,
                "versions": package_versions("httpx", "uvicorn", "starlette", "sqlalchemy", "psycopg"),
            },
        )
        print(f"results written to {path}")
    print(f"load average at the end: {load_average()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
