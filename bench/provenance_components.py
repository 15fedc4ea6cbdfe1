"""Candidates per component at hub scale: the component index beside brute-force comparison.

Builds a migrated SQLite hub with ``--models`` fingerprinted models of 5 indexed components
each (token and position embeddings, two GPT-2 blocks of width 16/24/32/48, a CLIP-style vision
tower of width 32): 10,000 models, 50,000 components by default. The first ``--real`` models
are real tiny checkpoints whose prints come from ``components.component_prints``; the others
are synthetic prints (each a real print of the same signature plus Gaussian noise of the spread
measured between the real independent models), because printing 10,000 real checkpoints takes
minutes on two cores and says nothing about the query.

The query is the issue's case: a team model whose vision tower is a real model's tower with its
hidden units permuted and every tensor changed by 5 % (relative L2), beside a GPT-2 of width 24.
Its prints are computed by the real code and stored; then, in the same run:

- **index**: ``service.candidates_for`` (the scan's whole candidate step: latest fingerprints,
  digests, the component index from the database, widths) and, within it, the component part
  alone (``stored_prints`` + ``component_index`` + ``nearest``). Time: median of ``--runs``
  untraced runs; memory: the tracemalloc peak of one more, traced run, and the process RSS.
  The foreign model must be among the candidates, with reason ``component``.
- **brute force**: the real comparison (``compare``) of the query's tower with every tower of
  the same signature. ``--brute`` of them are timed (real towers) and the time is scaled to the
  whole set; memory is the tracemalloc peak of the first three comparisons.

    .venv/bin/python bench/provenance_components.py --models 10000 --real 200 --runs 5 --brute 20
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import _common as common
import numpy as np
from sqlalchemy import insert, select

from baton.accounts import service as accounts
from baton.core.database import Database
from baton.demo.challenge_demo import gpt2_state, vision_tower_state
from baton.domains import migrate
from baton.hub.models import Repo
from baton.provenance import components, service, synthetic
from baton.provenance.compare import compare
from baton.provenance.models import ComponentPrint, ModelFingerprint
from baton.provenance.source import ArraySource

WIDTHS = (16, 24, 32, 48)
TIME_TARGET = 5.0
MEMORY_TARGET = 1 << 30


def model_state(seed: int) -> dict[str, np.ndarray]:
    return gpt2_state(seed, WIDTHS[seed % len(WIDTHS)]) | vision_tower_state(seed)


def disguised(tower: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in synthetic.permute_hidden_units(tower, seed=seed).items():
        noise = rng.standard_normal(value.shape).astype(np.float32)
        out[name] = (value + noise * (0.05 * float(np.linalg.norm(value)) / float(np.linalg.norm(noise)))).astype(
            np.float32
        )
    return out


def build_hub(url: str, models: int, real: int) -> tuple[Database, dict[int, dict[str, np.ndarray]], int]:
    """The hub's tables, filled; returns the database, the real models' towers and the owner id."""
    database = Database(url)
    migrate(database.engine)
    with database.session(write=True) as session:
        owner = accounts.create_user(session, "bench").id
    started = time.perf_counter()
    real_prints: list[list[components.ComponentPrint]] = []
    towers: dict[int, dict[str, np.ndarray]] = {}
    for seed in range(real):
        state = model_state(seed)
        towers[seed] = {name: value for name, value in state.items() if name.startswith("vision_tower.")}
        real_prints.append(components.component_prints(ArraySource(state)))
    print(f"printed {real} real models in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    # Spread between independent real prints, per signature: the synthetic prints' noise.
    by_signature: dict[str, list[np.ndarray]] = {}
    for prints in real_prints:
        for item in prints:
            by_signature.setdefault(item.signature, []).append(item.vector)
    spread = {signature: np.std(np.stack(vectors), axis=0) for signature, vectors in by_signature.items()}
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    with database.session(write=True) as session:
        session.execute(
            insert(Repo),
            [
                {"repo_type": "model", "namespace": "bench", "name": f"model-{number}", "owner_id": owner}
                for number in range(models)
            ],
        )
        repo_ids = list(session.scalars(select(Repo.id).order_by(Repo.id)))
        session.execute(
            insert(ModelFingerprint),
            [
                {
                    "repo_id": repo_id,
                    "commit_oid": f"{number:040x}",
                    "tensor_count": 40,
                    "parameter_count": 0,
                    "signature": {"hidden_size": WIDTHS[(number % real) % len(WIDTHS)]},
                }
                for number, repo_id in enumerate(repo_ids)
            ],
        )
        fingerprint_ids = list(session.scalars(select(ModelFingerprint.id).order_by(ModelFingerprint.id)))
        rows: list[dict[str, Any]] = []
        for number, fingerprint_id in enumerate(fingerprint_ids):
            template = real_prints[number % real]
            for item in template:
                vector = item.vector
                if number >= real:
                    noise = rng.standard_normal(vector.size).astype(np.float32) * spread[item.signature]
                    vector = (vector + noise).astype(np.float32)
                rows.append(
                    {
                        "fingerprint_id": fingerprint_id,
                        "component": item.component,
                        "kind": item.kind,
                        "signature": item.signature,
                        "vector": vector.astype("<f4").tobytes(),
                    }
                )
            if len(rows) >= 20000:
                session.execute(insert(ComponentPrint), rows)
                rows = []
        if rows:
            session.execute(insert(ComponentPrint), rows)
    print(f"stored {models} fingerprints in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return database, towers, owner


def add_query(database: Database, owner: int, state: dict[str, np.ndarray]) -> tuple[Repo, ModelFingerprint]:
    """The team model, printed by the real code and stored as fingerprinting would."""
    prints = components.component_prints(ArraySource(state))
    with database.session(write=True) as session:
        repo = Repo(repo_type="model", namespace="team", name="query", owner_id=owner)
        session.add(repo)
        session.flush()
        fingerprint = ModelFingerprint(
            repo_id=repo.id,
            commit_oid="f" * 40,
            tensor_count=len(state),
            parameter_count=0,
            signature={"hidden_size": 24},
        )
        session.add(fingerprint)
        session.flush()
        session.add_all(service._print_rows(fingerprint.id, prints))
        session.flush()
        session.expunge_all()
        return repo, fingerprint


def timed(function: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def traced_peak(function: Any) -> int:
    """Peak of Python allocations (numpy's included) while ``function`` runs; not timed (tracing is slow)."""
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=10000)
    parser.add_argument("--real", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--brute", type=int, default=20, help="towers compared for real by brute force")
    parser.add_argument("--foreign", type=int, default=123, help="the real model whose tower is copied")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-components-"))
    database, towers, owner = build_hub(f"sqlite:///{folder / 'hub.db'}", arguments.models, arguments.real)
    query_state = gpt2_state(999_999, 24) | disguised(towers[arguments.foreign], seed=5)
    repo, fingerprint = add_query(database, owner, query_state)
    with database.session() as session:
        foreign_id = session.scalars(select(Repo.id).order_by(Repo.id)).all()[arguments.foreign]
        query_prints = service.stored_prints(session, fingerprint)
        counts = {  # indexed components of the query's signatures, the query's own left out
            item.component: len(
                session.scalars(
                    select(ComponentPrint.id).where(
                        ComponentPrint.signature == item.signature, ComponentPrint.fingerprint_id != fingerprint.id
                    )
                ).all()
            )
            for item in query_prints
        }
        total = len(session.scalars(select(ComponentPrint.id)).all()) - len(query_prints)

    def whole() -> list[service.Candidate]:
        with database.session() as session:
            return service.candidates_for(session, repo, fingerprint)

    def component_part() -> list[components.Neighbour]:
        with database.session() as session:
            latest = {fp.id for fp in session.scalars(select(ModelFingerprint))}
            prints = service.stored_prints(session, fingerprint)
            index = service.component_index(session, (item.signature for item in prints), latest)
            return index.nearest(prints, exclude={fingerprint.id})

    index_runs: list[float] = []
    part_runs: list[float] = []
    found: list[service.Candidate] = []
    gc.collect()
    rss_before = common.read_status_kib(os.getpid(), "VmRSS") * 1024
    with common.RssSampler(os.getpid(), interval=0.01) as sampler:
        for _ in range(arguments.runs):
            seconds, found = timed(whole)
            index_runs.append(seconds)
            seconds, _ = timed(component_part)
            part_runs.append(seconds)
    index_peak = traced_peak(whole)
    part_peak = traced_peak(component_part)
    reasons = {candidate.repo.id: candidate.reason for candidate in found}
    recall = reasons.get(foreign_id) == "component"

    # Brute force: the real comparison of the query's tower with towers of the same signature.
    query_tower = {name: value for name, value in query_state.items() if name.startswith("vision_tower.")}
    brute_times: list[float] = []
    brute_peak = 0
    others = [seed for seed in range(arguments.real) if seed != arguments.foreign]
    sample = [arguments.foreign, *others[: arguments.brute - 1]]
    derived_found = False
    for seed in sample:
        seconds, result = timed(lambda seed=seed: compare(ArraySource(query_tower), ArraySource(towers[seed])))
        brute_times.append(seconds)
        if seed == arguments.foreign:
            derived_found = result.verdict == "derived"
        if len(brute_times) <= 3:
            brute_peak = max(
                brute_peak, traced_peak(lambda seed=seed: compare(ArraySource(query_tower), ArraySource(towers[seed])))
            )
    per_pair = statistics.median(brute_times)
    brute_total = per_pair * counts["vision_tower"]

    index_seconds = statistics.median(index_runs)
    part_seconds = statistics.median(part_runs)
    rows = [
        [
            "index: scan's candidate step (candidates_for)",
            f"{index_seconds:.2f} s",
            f"{index_peak / common.MIB:.0f} MiB",
        ],
        ["index: component search alone", f"{part_seconds:.2f} s", f"{part_peak / common.MIB:.0f} MiB"],
        [
            f"brute force: compare() of the tower with {counts['vision_tower']} towers (scaled from {len(sample)})",
            f"{brute_total:.0f} s ({per_pair * 1000:.0f} ms/pair)",
            f"{brute_peak / common.MIB:.0f} MiB",
        ],
    ]
    print(common.markdown_table(["path", f"time (median of {arguments.runs})", "peak (tracemalloc)"], rows))
    print(
        f"\nprocess RSS: {rss_before / common.MIB:.0f} MiB before the index runs (the hub was just built in this"
        f" process), peak {sampler.peak / common.MIB:.0f} MiB during them"
        f"\nindex: {arguments.models} models, {total} components; same signature as the query: {counts}"
        f"\nforeign model among the candidates by 'component': {recall}; brute force finds it derived: {derived_found}"
        f"\nspeed-up of the candidate step over brute force on the tower alone: {brute_total / index_seconds:.0f}x"
        f"\ntargets: <= {TIME_TARGET} s and <= 1 GiB: "
        f"{'met' if index_seconds <= TIME_TARGET and index_peak <= MEMORY_TARGET else 'NOT met'}"
    )
    if not arguments.no_json:
        common.write_results(
            "provenance_components",
            {
                "models": arguments.models,
                "components": total,
                "real": arguments.real,
                "index_seconds": index_runs,
                "index_peak_bytes": index_peak,
                "component_part_seconds": part_runs,
                "component_part_peak_bytes": part_peak,
                "brute_pair_seconds": brute_times,
                "brute_peak_bytes": brute_peak,
                "brute_towers": counts["vision_tower"],
                "recall": recall,
                "rss_before_bytes": rss_before,
                "rss_peak_bytes": sampler.peak,
            },
        )
    database.dispose()


if __name__ == "__main__":
    main()
