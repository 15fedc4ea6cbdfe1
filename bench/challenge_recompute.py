"""Recompute every decision of a 4-stage challenge from its ledger (target: under 10 s with 100,000 votes).

The ledger is built the way the service builds it (``ledger.make_event`` for every input and
``recompute.compute_decision`` for every decision, on the shipped four-stage example: 5 teams,
one admitted by repechage into stage 2, narrowing 5 -> 4 -> 3 -> 2), with one blind battle per
vote, benchmark scores, three expert reviews per team, gate rulings, seeds, appeals, finality.
A few voters vote against the consensus on purpose (their votes must be detected and excluded).

Timed, median of ``--runs``: ``verify_bundle`` on the exported JSON-lines bundle, which parses
every line, checks the hash chain and the published head, replays the inputs and recomputes
every decision, comparing each with the recorded one. Reported beside it, the share of that time
spent on the chain alone (parsing and hashing, i.e. ``recompute_decisions=False``).

    .venv/bin/python bench/challenge_recompute.py --votes 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from baton.challenge import ledger, recompute
from baton.challenge.spec import example_path, load_spec_file

RESULTS = Path(__file__).parent / "results"


class Builder:
    """Appends events like the service does, keeping the replayed state alongside."""

    def __init__(self) -> None:
        self.events: list[ledger.Event] = []
        self.state = recompute.State()
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def add(self, kind: str, payload: dict[str, Any]) -> ledger.Event:
        self.moment += timedelta(seconds=1)
        event = ledger.make_event(self.events[-1] if self.events else None, kind, self.moment.isoformat(), payload)
        self.events.append(event)
        recompute.apply(self.state, event)
        return event


def build(votes: int, seed: int, prompts: int = 1000) -> tuple[list[ledger.Event], int]:
    rng = np.random.default_rng(seed)
    spec = load_spec_file(example_path("four-stage"))
    b = Builder()
    b.add("challenge.defined", {"spec": spec.to_json(), "spec_sha256": spec.sha256(), "version": spec.version})
    strength = {f"team-{c}": 1000 + 60 * i for i, c in enumerate("abcdef")}
    for team in ["team-a", "team-b", "team-c", "team-d", "team-e"]:
        b.add(
            "team.entered",
            {
                "team": team,
                "name": team.upper(),
                "organizations": [f"org-{team}"],
                "members": [f"m-{team}"],
                "target_models": ["ref/target"],
                "stage": "stage-1",
                "repechage": False,
                "release_plan": {"repos": []},
            },
        )
    voters = [f"voter-{k:04d}" for k in range(500)]
    contrarians = set(voters[:3])
    per_stage = votes // len(spec.stages)
    battle_counter = 0
    for stage in spec.stages:
        if stage.repechage:
            b.add(
                "team.entered",
                {
                    "team": "team-f",
                    "name": "TEAM-F",
                    "organizations": ["org-team-f"],
                    "members": ["m-team-f"],
                    "target_models": [],
                    "stage": stage.id,
                    "repechage": True,
                    "release_plan": {"repos": []},
                },
            )
        teams = recompute.participants(b.state, stage.id)
        for team in teams:
            model = f"org-{team}/model"
            revision = f"{abs(hash((team, stage.id))) % 16**40:040x}"
            b.add(
                "submission.made",
                {
                    "stage": stage.id,
                    "team": team,
                    "repo_type": "model",
                    "repo": model,
                    "revision": revision,
                    "submitted_at": b.moment.isoformat(),
                    "by": f"m-{team}",
                },
            )
            for task in ("kmmlu", "mmlu"):
                score = float(np.clip(0.3 + (strength[team] - 1000) / 800 + rng.normal(0, 0.02), 0, 1))
                b.add(
                    "score.recorded",
                    {
                        "stage": stage.id,
                        "task": task,
                        "model": f"{model}@{revision}",
                        "score": round(score, 4),
                        "stderr": 0.012,
                        "n": 1000,
                        "source": {},
                    },
                )
            for reviewer in range(3):
                value = float(np.clip(5 + (strength[team] - 1000) / 60 + rng.normal(0, 1), 0, 10))
                b.add(
                    "review.recorded",
                    {
                        "stage": stage.id,
                        "criterion": "expert-review",
                        "team": team,
                        "reviewer": f"reviewer-{reviewer}",
                        "comment": "",
                        "scores": {"technical-report": round(value, 1), "training-logs": 6.0},
                    },
                )
            b.add(
                "gate.checked",
                {
                    "stage": stage.id,
                    "gate": "independence",
                    "team": team,
                    "model": f"{model}@{revision}",
                    "outcome": "pass",
                    "reason": "independent",
                    "evidence": {},
                },
            )
        for _ in range(per_stage):
            i, j = rng.choice(len(teams), size=2, replace=False)
            team_a, team_b = teams[int(i)], teams[int(j)]
            battle_counter += 1
            battle = f"{battle_counter:016x}"
            # One answer per (prompt, model), as when answers are generated once per prompt and paired.
            prompt = int(rng.integers(prompts))
            b.add(
                "battle.created",
                {
                    "stage": stage.id,
                    "criterion": "user-evaluation",
                    "battle": battle,
                    "prompt": f"prompt {prompt}",
                    "team_a": team_a,
                    "team_b": team_b,
                    "answer_a": f"{team_a[-1]}'s answer to prompt {prompt}: ...",
                    "answer_b": f"{team_b[-1]}'s answer to prompt {prompt}: ...",
                },
            )
            voter = voters[int(rng.integers(len(voters)))]
            p = 1 / (1 + 10 ** ((strength[team_b] - strength[team_a]) / 400))
            roll = rng.random()
            choice = "tie" if roll < 0.1 else ("a" if rng.random() < p else "b")
            if voter in contrarians and choice != "tie":
                choice = "b" if strength[team_a] > strength[team_b] else "a"
            b.add("vote.recorded", {"stage": stage.id, "battle": battle, "voter": voter, "choice": choice})
        stage_seed = int(rng.integers(2**31))
        b.add("seed.drawn", {"stage": stage.id, "seed": stage_seed, "source": "drawn"})
        last = b.events[-1]
        record = recompute.compute_decision(
            b.state, stage.id, seed=stage_seed, decided_at=b.moment.isoformat(), head=last.hash, head_seq=last.seq
        )
        b.add("decision.made", {"stage": stage.id, "record": record})
        b.add(
            "appeal.filed",
            {"appeal": stage.id, "stage": stage.id, "team": record["eliminated"][0], "by": "x", "text": "We contest."},
        )
        b.add("appeal.answered", {"appeal": stage.id, "stage": stage.id, "answer": "Rejected.", "upheld": False})
        b.moment += timedelta(days=11)
        b.add(
            "decision.final",
            {
                "stage": stage.id,
                "final_at": b.moment.isoformat(),
                "exits": [{"team": t, "reason": "eliminated"} for t in record["eliminated"]],
            },
        )
    b.add("challenge.ended", {"stage": spec.stages[-1].id, "at": b.moment.isoformat()})
    return b.events, battle_counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    events, battles = build(args.votes, args.seed)
    built = time.perf_counter() - started
    bundle = ledger.export_bundle("sovereign-ai-four-stage", events)
    head = events[-1].hash
    full: list[float] = []
    full_cpu: list[float] = []
    chain: list[float] = []
    report = None
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        report = ledger.verify_bundle(bundle, head)
        full.append(time.perf_counter() - t0)
        full_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        ledger.verify_bundle(bundle, head, recompute_decisions=False)
        chain.append(time.perf_counter() - t0)
    assert report is not None
    if not report.ok:
        raise SystemExit("verification failed: " + "; ".join(str(p) for p in report.problems[:5]))
    decisions = [e.payload["record"] for e in events if e.kind == "decision.made"]
    flagged = sorted({v for d in decisions for a in d["arena"].values() for v in a["contrarian_voters"]})
    median_full, median_chain = statistics.median(full), statistics.median(chain)
    print(
        f"ledger: {len(events):,} events ({args.votes:,} votes, {battles:,} battles), "
        f"{len(bundle) / 2**20:.1f} MiB bundle, built in {built:.1f} s"
    )
    print(f"decisions recomputed: {report.decisions_checked}; contrarian voters flagged: {', '.join(flagged)}")
    print("| step | median of runs (s) | runs |")
    print("| --- | --- | --- |")
    print(
        f"| verify bundle: chain + head + recompute every decision | **{median_full:.2f}** | "
        f"{', '.join(f'{t:.2f}' for t in full)} |"
    )
    print(
        f"| same, CPU time of this process | {statistics.median(full_cpu):.2f} | "
        f"{', '.join(f'{t:.2f}' for t in full_cpu)} |"
    )
    print(f"| of which chain only (parse + hash) | {median_chain:.2f} | {', '.join(f'{t:.2f}' for t in chain)} |")
    print(f"| target | < 10 | {'met' if median_full < 10 else 'NOT met'} |")
    if not args.no_json:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "challenge_recompute.json").write_text(
            json.dumps(
                {
                    "votes": args.votes,
                    "events": len(events),
                    "bundle_bytes": len(bundle),
                    "verify_seconds": full,
                    "verify_cpu_seconds": full_cpu,
                    "chain_seconds": chain,
                    "decisions": report.decisions_checked,
                    "contrarians": flagged,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
