"""Talent matching: Baton's deferred acceptance vs the `matching` package on the same instance.

Generates one hospitals/residents instance shaped like a talent pool after a stage of the
challenge: ``--people`` applicants (10,000) and ``--openings`` openings (1,000), each person
ranking ``--length`` (20) openings drawn with a popularity skew (a few labs are wanted by many),
each opening ranking every person who ranked it by a noisy common quality score plus its own
taste, capacities uniform in 1..``--max-capacity`` (20). Then, ``--runs`` times, alternating
the order:

* Baton: ``baton.talent.matching.deferred_acceptance`` from the plain dicts (building its
  indices, proposing, and checking every blocking pair, as it always does);
* peer: ``matching.games.HospitalResident.solve(optimal="resident")`` of the ``matching``
  package (1.4), on a game built once with ``create_from_dictionaries`` and deep-copied fresh
  before each run (building and copying are timed separately and NOT counted in the peer's
  time, which favours the peer: its constructor alone checks its inputs in O(openings x people)).

Each run checks that both matchings are the same and that Baton's has no blocking pair (also
re-checked from scratch with ``find_blocking_pairs``, and with the peer's ``check_stability`` on
the first run). Prints a markdown table and writes JSON to ``bench/results/``.

    nice -n 10 .venv/bin/python bench/talent_matching.py --runs 5
"""

from __future__ import annotations

import argparse
import bisect
import copy
import gc
import json
import platform
import random
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from baton.talent.matching import deferred_acceptance, find_blocking_pairs


def make_instance(
    people: int, openings: int, length: int, max_capacity: int, seed: int
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    rng = random.Random(seed)
    opening_ids = [f"opening-{j:05d}" for j in range(openings)]
    person_ids = [f"person-{i:06d}" for i in range(people)]
    # popularity: Zipf-like weights so that some openings are heavily oversubscribed
    weights = [1.0 / (1 + j) ** 0.6 for j in range(openings)]
    rng.shuffle(weights)
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    applicant_prefs: dict[str, list[str]] = {}
    for pid in person_ids:
        chosen: dict[int, None] = {}
        while len(chosen) < min(length, openings):
            chosen[_pick(rng, cumulative, total)] = None
        applicant_prefs[pid] = [opening_ids[j] for j in chosen]
    quality = {pid: rng.gauss(0, 1) for pid in person_ids}
    ranked_by: dict[str, list[str]] = {o: [] for o in opening_ids}
    for pid, prefs in applicant_prefs.items():
        for o in prefs:
            ranked_by[o].append(pid)
    opening_prefs = {
        o: sorted(who, key=lambda pid: -(quality[pid] + rng.gauss(0, 0.7))) for o, who in ranked_by.items()
    }
    capacities = {o: rng.randint(1, max_capacity) for o in opening_ids}
    return applicant_prefs, opening_prefs, capacities


def _pick(rng: random.Random, cumulative: list[float], total: float) -> int:
    return min(bisect.bisect_left(cumulative, rng.random() * total), len(cumulative) - 1)


def run_baton(
    applicant_prefs: dict[str, list[str]], opening_prefs: dict[str, list[str]], capacities: dict[str, int]
) -> tuple[float, dict[str, str]]:
    gc.collect()
    start = time.perf_counter()
    result = deferred_acceptance(applicant_prefs, opening_prefs, capacities)
    elapsed = time.perf_counter() - start
    if result.blocking_pairs:
        raise SystemExit(f"Baton's matching has {len(result.blocking_pairs)} blocking pairs")
    return elapsed, {a: o for a, o in result.assignment.items() if o is not None}


def deep(func: Any, *args: Any) -> tuple[float, Any]:
    """Run ``func(*args)`` timed, in a thread with a large stack and a raised recursion limit.

    The peer's constructor deep-copies a densely linked object graph (players holding lists of
    players), which recurses far deeper than Python's defaults allow at this size."""
    out: dict[str, Any] = {}

    def build() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            try:
                out["value"] = func(*args)
            except BaseException as exc:  # noqa: BLE001 - reported in the main thread
                out["error"] = exc
            out["elapsed"] = time.perf_counter() - start

    gc.collect()
    previous_limit = sys.getrecursionlimit()
    previous_stack = threading.stack_size(1 << 30)
    sys.setrecursionlimit(2_000_000)
    try:
        thread = threading.Thread(target=build)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(previous_stack)
        sys.setrecursionlimit(previous_limit)
    if "error" in out:
        raise SystemExit(f"{getattr(func, '__name__', func)} failed: {out['error']!r}")
    return out["elapsed"], out["value"]


def build_peer(
    applicant_prefs: dict[str, list[str]], opening_prefs: dict[str, list[str]], capacities: dict[str, int]
) -> tuple[float, Any]:
    from matching.games import HospitalResident

    return deep(HospitalResident.create_from_dictionaries, applicant_prefs, opening_prefs, capacities)


def run_peer(game: Any) -> tuple[float, dict[str, str]]:
    gc.collect()
    start = time.perf_counter()
    solution = game.solve(optimal="resident")
    elapsed = time.perf_counter() - start
    return elapsed, {r.name: h.name for h, residents in solution.items() for r in residents}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--openings", type=int, default=1_000)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--max-capacity", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    applicant_prefs, opening_prefs, capacities = make_instance(
        args.people, args.openings, args.length, args.max_capacity, args.seed
    )
    print(
        f"instance: {args.people} people x {args.openings} openings, lists of {args.length}, "
        f"capacities 1-{args.max_capacity} ({sum(capacities.values())} places), "
        f"generated in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )

    baton_times: list[float] = []
    peer_times: list[float] = []
    copy_times: list[float] = []
    # The peer's constructor checks its inputs in O(openings x people) time (minutes at full size),
    # so the game is built once and deep-copied fresh for each run (solve() consumes it).
    build_time, pristine = build_peer(applicant_prefs, opening_prefs, capacities)
    print(f"peer game built in {build_time:.1f}s", file=sys.stderr)
    reference: dict[str, str] | None = None
    for run in range(args.runs):
        copy_time, game = deep(copy.deepcopy, pristine)
        copy_times.append(copy_time)
        order = ["baton", "peer"] if run % 2 == 0 else ["peer", "baton"]
        for who in order:
            if who == "baton":
                elapsed, mine = run_baton(applicant_prefs, opening_prefs, capacities)
                baton_times.append(elapsed)
            else:
                elapsed, theirs = run_peer(game)
                peer_times.append(elapsed)
                if run == 0:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if not game.check_stability():
                            raise SystemExit("the peer's own stability check failed")
        if mine != theirs:
            differ = sum(1 for a in set(mine) | set(theirs) if mine.get(a) != theirs.get(a))
            raise SystemExit(f"run {run}: the matchings differ for {differ} people")
        if reference is None:
            reference = mine
            full = {a: mine.get(a) for a in applicant_prefs}
            if find_blocking_pairs(applicant_prefs, opening_prefs, capacities, full):
                raise SystemExit("from-scratch check found blocking pairs")
        elif mine != reference:
            raise SystemExit("Baton's matching changed between runs")
        print(f"run {run + 1}: baton {baton_times[-1]:.3f}s, peer solve {peer_times[-1]:.3f}s", file=sys.stderr)

    assert reference is not None
    baton_median = statistics.median(baton_times)
    peer_median = statistics.median(peer_times)
    matched = len(reference)
    print()
    print("| solver | median (s) | min (s) | runs | matched people |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| Baton `deferred_acceptance` (index + solve + blocking-pair check) | {baton_median:.3f} | "
        f"{min(baton_times):.3f} | {len(baton_times)} | {matched} |"
    )
    print(
        f"| `matching` 1.4 `HospitalResident.solve(optimal=\"resident\")` | {peer_median:.3f} | "
        f"{min(peer_times):.3f} | {len(peer_times)} | {len(theirs)} |"
    )
    print(f"| (not counted) `matching` `create_from_dictionaries` | {build_time:.3f} | {build_time:.3f} | 1 | |")
    print(
        f"| (not counted) deep copy of the peer's game before each run | {statistics.median(copy_times):.3f} | "
        f"{min(copy_times):.3f} | {len(copy_times)} | |"
    )
    print()
    speedup = peer_median / baton_median
    print(f"speed-up (peer solve / Baton, medians): {speedup:.1f}x; same matching in every run; 0 blocking pairs")
    if not args.no_json:
        out = Path(__file__).parent / "results"
        out.mkdir(exist_ok=True)
        path = out / f"talent_matching-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(
            json.dumps(
                {
                    "args": vars(args),
                    "machine": platform.platform(),
                    "python": sys.version.split()[0],
                    "places": sum(capacities.values()),
                    "matched": matched,
                    "baton_s": baton_times,
                    "peer_solve_s": peer_times,
                    "peer_build_s": build_time,
                    "peer_copy_s": copy_times,
                    "speedup_median": speedup,
                },
                indent=2,
            )
        )
        print(f"raw numbers: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
