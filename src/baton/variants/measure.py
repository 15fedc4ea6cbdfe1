"""Efficiency measured the same way for everyone: a variant against its base on the same items.

Job ``variants.measure`` (payload ``{"repo_pk": int, "commit": str}``) reads the variant's card at
that commit (``base_model`` and ``variant: {kind, method, runtime}``), takes the base's head, and
evaluates both on the same items of one task: the setting ``variants_eval_task`` (a built-in task
name or a task YAML file, whose data may sit in hub dataset repos) limited to its first
``variants_eval_limit`` items. Both go through the evaluation runner's own request batching
(``runner.answer_all``) and the task's own scoring, with the backends everyone uses: the base on
``hf`` (transformers), the variant on its runtime's backend (transformers → ``hf``, onnxruntime →
``onnxruntime``, a plug-in's ``backend(folder)``), each with the tokenizer's own BOS policy unless
the task says otherwise.

Each model runs in a fresh child process, one after the other, so one model's memory never counts
towards another's: peak memory is that process's peak resident size (``VmHWM``; not
``ru_maxrss``, which Linux carries over from the parent; read in the child at the end, in bytes),
and the manifest also gives its resident size before the model was loaded
(Python, torch and the runtime imported). Throughput is scored tokens per second
(context and continuation tokens of each distinct request, counted with the model's tokenizer, the
same count for base and variant) and items per second over the whole batched scoring; latency is
the median and 95th percentile of single requests sent one at a time (batch of 1), after one
warm-up request.

The manifest (table ``variant_measurements``): task, hash of the items, item count, both
accuracies, the paired difference variant − base with a 95 % paired-bootstrap interval
(``evaluation.metrics.paired_difference``), file sizes (bytes of the weight files of each commit),
peak memory, throughput, latency, runtime name and version, machine (CPU model, logical cores, OS,
Python) and timestamps.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.core.database import utcnow
from baton.core.errors import BadRequestError, BatonError, NotFoundError
from baton.core.runtime import Runtime
from baton.evaluation.metrics import paired_difference
from baton.evaluation.runner import prompt_hash
from baton.evaluation.types import Item, Request, Response
from baton.hub import cards, commits, repos
from baton.hub.models import Commit, Repo
from baton.variants.models import VariantMeasurement

JOB_KIND = "variants.measure"
# Weight files counted in a model's size: safetensors and pickles, GGUF, ONNX graphs and their external data.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".onnx.data", ".onnx_data")
BUILTIN_BACKENDS = {"transformers": "hf", "onnxruntime": "onnxruntime"}
RUNTIME_PACKAGES = {"transformers": "transformers", "onnxruntime": "onnxruntime"}
LATENCY_REQUESTS = 32  # single requests timed for the latency
MAX_CARD_BYTES = 1 << 20
BOOTSTRAP_SEED = 2026


class VariantMeasureError(BadRequestError):
    code = "VariantMeasureError"
    default_hint = (
        "A variant's README.md must declare base_model (a model repo in this hub) and "
        "variant: {kind, method, runtime}; see docs/variants.md."
    )


@dataclass(frozen=True)
class Subject:
    """One model to measure: which repo and commit, its snapshot on disk, and how to run it."""

    repo_id: str
    commit: str
    folder: Path
    runtime: str
    file_size: int


# --------------------------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """The machine a measurement ran on: CPU model, logical cores, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


# --------------------------------------------------------------------------------------------- the child


def _backend(runtime_name: str, folder: str, options: dict[str, Any]) -> tuple[Any, str | None]:
    """The evaluation backend for ``runtime_name`` on ``folder``, and the runtime's version."""
    from importlib import metadata

    builtin = BUILTIN_BACKENDS.get(runtime_name)
    if builtin is not None:
        from baton.evaluation.backends import create_backend

        try:
            version: str | None = metadata.version(RUNTIME_PACKAGES[runtime_name])
        except metadata.PackageNotFoundError:
            version = None
        return create_backend(builtin, folder, **options), version
    try:  # a runtime plug-in (baton.variants.runtimes, entry point group baton.runtimes)
        from baton.variants import runtimes  # type: ignore[attr-defined,unused-ignore]
    except ImportError as error:
        raise VariantMeasureError(f"No backend for the runtime {runtime_name!r}: {error}") from error
    plugin = runtimes.get_runtime(runtime_name)
    return plugin.backend(Path(folder), **options), str(plugin.version())


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rss_now() -> int | None:
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _peak_rss() -> int | None:
    """This process's peak resident size since it started its program (``VmHWM``), where Linux says.

    Not ``ru_maxrss``: Linux carries that across ``fork`` and ``execve``, so a child spawned by a
    parent that once held 2.8 GB reports 2.8 GB whatever it loads itself (seen in bench/variants.py:
    every child of the benchmark reported the exporting parent's peak).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def measure_in_process(
    runtime_name: str,
    folder: str,
    requests: list[Request],
    *,
    task_settings: dict[str, Any] | None = None,
    batch_size: int = 8,
    threads: int | None = None,
    latency_requests: int = LATENCY_REQUESTS,
) -> dict[str, Any]:
    """Load one model and answer ``requests`` (batched as the runner does), timing it; in a child process.

    Returns the answers in the order of ``requests`` with the timings, token count and peak memory.
    """
    import resource

    import torch
    import transformers

    from baton.evaluation import runner

    if threads:
        torch.set_num_threads(threads)
    rss_before = _rss_now()
    started = time.perf_counter()
    options: dict[str, Any] = {"batch_size": batch_size}
    if threads and runtime_name == "onnxruntime":  # the same thread count as torch's
        options["threads"] = threads
    backend, version = _backend(runtime_name, folder, options)
    load_seconds = time.perf_counter() - started
    apply = getattr(backend, "apply_task_settings", None)
    if callable(apply) and task_settings:
        apply(task_settings)
    unique = list({request.key(): request for request in requests}.values())
    tokenizer: Any = transformers.AutoTokenizer.from_pretrained(folder)
    tokens = sum(len(tokenizer(request.context + request.continuation)["input_ids"]) for request in unique)

    started = time.perf_counter()
    answers, _computed = runner.answer_all(backend, unique, batch_size=64)
    scoring_seconds = time.perf_counter() - started

    latencies: list[float] = []
    timed = unique[: max(0, latency_requests)]
    if timed:
        backend.answer([timed[0]])  # warm-up
        for request in timed:
            begin = time.perf_counter()
            backend.answer([request])
            latencies.append((time.perf_counter() - begin) * 1000)
    peak = _peak_rss() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    described = backend.describe()
    return {
        "answers": [answers[request.key()] for request in requests],
        "runtime_version": version,
        "backend": {
            key: described.get(key)
            for key in ("backend", "dtype", "device", "batch_size", "add_bos_token", "add_bos_token_source")
        },
        "load_seconds": load_seconds,
        "scoring_seconds": scoring_seconds,
        "requests": len(unique),
        "tokens": tokens,
        "latencies_ms": latencies,
        "peak_rss_bytes": peak,
        "rss_before_load_bytes": rss_before,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def measure_in_child(runtime_name: str, folder: str, requests: list[Request], **options: Any) -> dict[str, Any]:
    """``measure_in_process`` in a fresh spawned process (its own memory peak, nothing shared)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        result: dict[str, Any] = pool.submit(measure_in_process, runtime_name, folder, requests, **options).result()
    return result


# --------------------------------------------------------------------------------------------- the parent


def items_hash(items: list[Item]) -> str:
    """One hash for the items measured: their ids and prompts, in order."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.item_id}\0{prompt_hash(item)}\n".encode())
    return digest.hexdigest()


def weight_size(entries: list[commits.FileEntry]) -> int:
    return sum(entry.size for entry in entries if entry.path.endswith(WEIGHT_SUFFIXES))


def read_card(runtime: Runtime, session: Session, commit: Commit) -> cards.CardData:
    try:
        entry = commits.get_entry(session, commit, "README.md")
    except NotFoundError:
        raise VariantMeasureError(f"Commit {commit.oid} has no README.md, so it declares no base model.") from None
    if entry.size > MAX_CARD_BYTES:
        raise VariantMeasureError(f"README.md of commit {commit.oid} is larger than {MAX_CARD_BYTES} bytes.")
    content = b"".join(runtime.store.open_range(entry.sha256, 0, entry.size - 1)) if entry.size else b""
    return cards.parse_card(content.decode("utf-8", errors="replace"))


def snapshot(runtime: Runtime, entries: list[commits.FileEntry], oid: str) -> Path:
    """The files of commit ``oid`` in a folder (the evaluation's snapshot, made once per commit)."""
    from baton.evaluation.backends import models as backend_models

    return backend_models._snapshot(runtime, entries, oid)


def _subjects(runtime: Runtime, repo_pk: int, commit_oid: str) -> tuple[Subject, Subject, dict[str, Any]]:
    """The variant at ``commit_oid`` and its base's head, snapshotted, and the card's variant block."""
    with runtime.database.session() as session:
        repo = session.get(Repo, repo_pk)
        if repo is None or repo.repo_type != "model":
            raise NotFoundError(f"No model repo with id {repo_pk}", code="RepoNotFound")
        commit = commits.resolve_revision(session, repo, commit_oid)
        card = read_card(runtime, session, commit)
        declared = card.raw.get("variant")
        variant = declared if isinstance(declared, dict) else {}
        if len(card.base_models) != 1:
            raise VariantMeasureError(
                f"{repo.repo_id}@{commit.oid[:12]} declares {len(card.base_models)} base models; a variant has one."
            )
        base_id = card.base_models[0]
        base = repos.find_repo(session, repos.parse_repo_id("model", base_id))
        if base is None:
            raise VariantMeasureError(f"The base model {base_id} of {repo.repo_id} is not a model repo in this hub.")
        base_commit = commits.resolve_revision(session, base, None)
        entries = commits.tree_entries(session, commit.tree_id)
        base_entries = commits.tree_entries(session, base_commit.tree_id)
        runtime_name = str(variant.get("runtime") or "transformers")
        meta = {
            "repo_id": repo.repo_id,
            "base_pk": base.id,
            "kind": variant.get("kind"),
            "method": variant.get("method"),
            "bits": variant.get("bits"),
        }
        variant_oid, base_oid, variant_id, base_repo_id = commit.oid, base_commit.oid, repo.repo_id, base.repo_id
    if weight_size(entries) == 0:
        raise VariantMeasureError(f"{variant_id}@{variant_oid[:12]} holds no weight files to measure.")
    subject = Subject(
        variant_id, variant_oid, snapshot(runtime, entries, variant_oid), runtime_name, weight_size(entries)
    )
    base_subject = Subject(
        base_repo_id, base_oid, snapshot(runtime, base_entries, base_oid), "transformers", weight_size(base_entries)
    )
    return subject, base_subject, meta


def _load_task(runtime: Runtime) -> Any:
    from baton.evaluation.tasks import load_task

    return load_task(runtime.settings.variants_eval_task, runtime=runtime)


def _summary(result: dict[str, Any], items: int) -> dict[str, Any]:
    seconds = max(float(result["scoring_seconds"]), 1e-9)
    latencies = list(result["latencies_ms"])
    return {
        "peak_memory_bytes": result["peak_rss_bytes"],
        "rss_before_load_bytes": result["rss_before_load_bytes"],
        "load_seconds": round(float(result["load_seconds"]), 4),
        "scoring_seconds": round(float(result["scoring_seconds"]), 4),
        "requests": result["requests"],
        "scored_tokens": result["tokens"],
        "tokens_per_second": result["tokens"] / seconds,
        "items_per_second": items / seconds,
        "latency_ms": {
            "median": statistics.median(latencies) if latencies else None,
            "p95": _percentile(latencies, 0.95) if latencies else None,
            "requests": len(latencies),
            "batch_size": 1,
        },
        "backend": result["backend"],
        "runtime_version": result["runtime_version"],
        "threads": result["threads"],
        "torch": result["torch"],
    }


def _correct(task: Any, items: list[Item], item_requests: list[list[Request]], answers: list[Response]) -> list[bool]:
    found: list[bool] = []
    position = 0
    for item, requests in zip(items, item_requests, strict=True):
        responses = answers[position : position + len(requests)]
        position += len(requests)
        scored = task.score(item, responses)
        if scored.correct is None:
            raise VariantMeasureError(
                f"Task {task.name} does not score item {item.item_id} as right or wrong, so no accuracy can be kept.",
                hint="Set variants_eval_task to a multiple-choice task (e.g. kobest_copa or kmmlu).",
            )
        found.append(bool(scored.correct))
    return found


def measure(
    runtime: Runtime, repo_pk: int, commit_oid: str, *, in_child: bool = True, threads: int | None = None
) -> VariantMeasurement:
    """Measure the variant ``repo_pk`` at ``commit_oid`` against its base; the row written (ok or failed).

    A variant that cannot be measured (no card, no base, a runtime that fails to load it) gets a
    ``failed`` row whose ``error`` says why; other errors propagate (the job retries them).
    """
    started = utcnow()
    meta: dict[str, Any] = {}
    base_id, runtime_name = "", "transformers"
    try:
        variant, base, meta = _subjects(runtime, repo_pk, commit_oid)
        base_id, runtime_name = base.repo_id, variant.runtime
        task = _load_task(runtime)
        limit = runtime.settings.variants_eval_limit
        items = task.items(limit)
        item_requests = [task.requests(item) for item in items]
        flat = [request for requests in item_requests for request in requests]
        settings = task.backend_settings()
        run = measure_in_child if in_child else measure_in_process
        results = {}
        for name, subject in (("base", base), ("variant", variant)):
            results[name] = run(subject.runtime, str(subject.folder), flat, task_settings=settings, threads=threads)
        base_correct = _correct(task, items, item_requests, results["base"]["answers"])
        variant_correct = _correct(task, items, item_requests, results["variant"]["answers"])
    except BatonError as error:
        return _record_failure(runtime, repo_pk, commit_oid, base_id, runtime_name, meta, started, error)
    paired = paired_difference(base_correct, variant_correct, seed=BOOTSTRAP_SEED)
    hashed = items_hash(items)
    base_summary = _summary(results["base"], len(items))
    variant_summary = _summary(results["variant"], len(items))
    manifest = {
        "variant": {"repo": variant.repo_id, "commit": variant.commit, "file_size": variant.file_size}
        | {key: meta.get(key) for key in ("kind", "method", "bits")}
        | {"runtime": variant.runtime}
        | variant_summary,
        "base": {"repo": base.repo_id, "commit": base.commit, "file_size": base.file_size, "runtime": "transformers"}
        | base_summary,
        "task": {"name": task.name, "version": task.version, "source": task.source, "limit": limit}
        | {"items_hash": hashed, "n_items": len(items), "data_hash": task.data_hash},
        "accuracy": {"base": paired.mean_a, "variant": paired.mean_b},
        "accuracy_retained": paired.to_json() | {"seed": BOOTSTRAP_SEED, "of": "variant - base, per item"},
        "size_ratio": variant.file_size / base.file_size if base.file_size else None,
        "speedup": variant_summary["tokens_per_second"] / base_summary["tokens_per_second"]
        if base_summary["tokens_per_second"]
        else None,
        "peak_memory_method": "peak resident size (VmHWM) of a child process running only that model"
        if in_child
        else "peak resident size of the measuring process, which ran both models (an upper bound for each)",
        "machine": machine(),
    }
    row = VariantMeasurement(
        repo_pk=repo_pk,
        commit=variant.commit,
        base_repo_pk=meta.get("base_pk"),
        base_repo=base.repo_id,
        base_commit=base.commit,
        kind=_short(meta.get("kind"), 32),
        method=_short(meta.get("method"), 64),
        runtime=variant.runtime[:64],
        runtime_version=_short(variant_summary["runtime_version"], 64),
        status="ok",
        task=task.name[:200],
        items_hash=hashed,
        n_items=len(items),
        base_accuracy=paired.mean_a,
        variant_accuracy=paired.mean_b,
        difference=paired.difference,
        difference_low=paired.low,
        difference_high=paired.high,
        file_size=variant.file_size,
        base_file_size=base.file_size,
        peak_memory=variant_summary["peak_memory_bytes"],
        tokens_per_second=variant_summary["tokens_per_second"],
        items_per_second=variant_summary["items_per_second"],
        latency_median_ms=variant_summary["latency_ms"]["median"],
        latency_p95_ms=variant_summary["latency_ms"]["p95"],
        manifest=json.loads(json.dumps(manifest, default=str)),
        started_at=started,
        finished_at=utcnow(),
    )
    with runtime.database.session(write=True) as session:
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def _short(value: Any, length: int) -> str | None:
    return None if value is None else str(value)[:length]


def _record_failure(
    runtime: Runtime,
    repo_pk: int,
    commit_oid: str,
    base_id: str,
    runtime_name: str,
    meta: dict[str, Any],
    started: Any,
    error: BatonError,
) -> VariantMeasurement:
    message = str(error) + (f" {error.hint}" if getattr(error, "hint", None) else "")
    row = VariantMeasurement(
        repo_pk=repo_pk,
        commit=commit_oid[:40],
        base_repo_pk=meta.get("base_pk"),
        base_repo=base_id[:200],
        kind=_short(meta.get("kind"), 32),
        method=_short(meta.get("method"), 64),
        runtime=runtime_name[:64],
        status="failed",
        error=message[:4000],
        manifest={"machine": machine()},
        started_at=started,
        finished_at=utcnow(),
    )
    with runtime.database.session(write=True) as session:
        if session.get(Repo, repo_pk) is None:  # the repo is gone: nothing to record against
            raise error
        session.add(row)
        session.flush()
        session.expunge(row)
    return row


def measure_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Job ``variants.measure``: ``{"repo_pk": int, "commit": str}``."""
    repo_pk, commit_oid = payload.get("repo_pk"), payload.get("commit")
    if not isinstance(repo_pk, int) or not isinstance(commit_oid, str) or not commit_oid:
        raise VariantMeasureError("variants.measure needs a payload {'repo_pk': int, 'commit': str}.")
    row = measure(runtime, repo_pk, commit_oid)
    return {"measurement": row.id, "status": row.status, "error": row.error}


def latest(session: Session, repo_pk: int) -> VariantMeasurement | None:
    """The newest finished measurement of a variant repo (ok or failed)."""
    return session.scalars(
        select(VariantMeasurement)
        .where(VariantMeasurement.repo_pk == repo_pk)
        .order_by(VariantMeasurement.finished_at.desc(), VariantMeasurement.id.desc())
        .limit(1)
    ).first()
