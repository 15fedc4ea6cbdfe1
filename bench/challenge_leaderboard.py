"""Server time of a stage's public standings with 1,000,000 arena votes and 50 teams, on SQLite and
PostgreSQL, beside recomputing them on request (issue 18).

The target: the stage's standings page (``/challenges/{c}/stages/{s}``) answers in p95 < 100 ms
measured inside the server (``Server-Timing``, ``BATON_SERVER_TIMING=1``) on both databases. The page
reads the stage's stored snapshot (``baton.challenge.standings``); the peer is what a page that
recomputed on every request would do: replay the ledger and run the decision's code
(``standings.live``), timed in this process against the same database (no route recomputes on
request, on purpose: one anonymous request would cost seconds of the server's time). The snapshot's
refresh (the periodic job's work: one replay and one computation) costs the same as the peer, once
a minute at most.

Data, written into the server's own database while it runs:

- a challenge (through the service) with one stage of ``--teams`` teams, a benchmark criterion of
  two tasks and a blind arena criterion, each team's submission and scores;
- ``--battles`` sealed battles and ``--votes`` votes among them (pairs drawn at random, as in
  ``_arena.py``), appended to the hash-chained ledger in bulk: each event made by
  ``ledger.make_event`` (so the chain verifies) and inserted in batches of 20,000 rows;
- on PostgreSQL, ``VACUUM ANALYZE`` after the load;
- the snapshot computed once (``standings.refresh``), timed.

Pages are measured anonymous, sequentially, after 5 warm-up calls: p50/p95 nearest-rank over
``--requests`` calls, medians over ``--runs`` runs; the peer's time is the median over ``--runs``
calls.

    .venv/bin/python bench/challenge_leaderboard.py --votes 1000000 --teams 50 --requests 40 --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from typing import Any

os.environ["BATON_SERVER_TIMING"] = "1"  # before the server starts: it reads the environment

import httpx
import numpy as np
from _common import (
    DEFAULT_POSTGRES_URL,
    baton_server,
    load_average,
    markdown_table,
    median,
    package_versions,
    percentile,
    postgres_schema,
    write_results,
)
from sqlalchemy import insert, text

from baton.accounts import service as accounts
from baton.challenge import ledger, standings
from baton.challenge import service as challenge_service
from baton.challenge.models import Challenge, LedgerEntry
from baton.core import sealing
from baton.core.settings import Settings
from baton.domains import open_runtime

SLUG = "bench-board"
STAGE = "stage-1"
BATCH = 20_000


def spec(teams: int) -> str:
    return "\n".join(
        [
            f"challenge: {SLUG}",
            "title: Leaderboard benchmark",
            "title_ko: 순위표 벤치마크",
            "timezone: Asia/Seoul",
            "stages:",
            f"  - id: {STAGE}",
            "    title: Stage 1",
            "    deadline: 2030-01-10T18:00:00+09:00",
            f"    teams: {teams}",
            f"    advance: {teams // 2}",
            "    criteria:",
            "      - {id: bench, kind: benchmark, weight: 60, normalization: raw, tasks: [t1, t2]}",
            "      - {id: arena, kind: arena, weight: 40, bootstrap_rounds: 20, max_votes_per_voter: 100000}",
            "",
        ]
    )


class Appender:
    """Appends events to the challenge's ledger in bulk, chained as the service chains them."""

    def __init__(self, session: Any, challenge: Challenge) -> None:
        self.session, self.challenge = session, challenge
        self.previous: ledger.Event | None = ledger.Event(challenge.last_seq, "", "", {}, "", challenge.head_hash)
        self.rows: list[dict[str, Any]] = []
        self.moment = time.time()

    def add(self, kind: str, payload: dict[str, Any], recorded_at: str) -> None:
        event = ledger.make_event(self.previous, kind, recorded_at, payload)
        self.rows.append(
            {
                "challenge_id": self.challenge.id,
                "seq": event.seq,
                "kind": event.kind,
                "payload": ledger.canonical_json(event.payload),
                "recorded_at": event.recorded_at,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
        )
        self.previous = event
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.session.execute(insert(LedgerEntry), self.rows)
            self.rows = []
        assert self.previous is not None
        self.challenge.last_seq = self.previous.seq
        self.challenge.head_hash = self.previous.hash


def seed(settings: Settings, teams: int, battles: int, votes: int) -> dict[str, Any]:
    started = time.perf_counter()
    rng = np.random.default_rng(2026)
    runtime = open_runtime(settings)
    try:
        with runtime.database.session(write=True) as session:
            admin = accounts.create_user(session, "bench-operator", is_admin=True)
            operator = accounts.actor_for(admin)
            challenge_service.create_challenge(session, spec(teams), operator=operator)
            names = [f"team-{k:02d}" for k in range(teams)]
            for name in names:
                accounts.create_organization(session, f"org-{name}", creator=admin)
                challenge_service.enter_team(
                    session,
                    SLUG,
                    challenge_service.TeamEntry(team=name, name=f"Team {name[-2:]}", organizations=[f"org-{name}"]),
                    operator=operator,
                )
        with runtime.database.session(write=True) as session:
            challenge = session.query(Challenge).filter_by(slug=SLUG).one()
            salt = challenge.salt
            appender = Appender(session, challenge)
            stamp = "2029-12-01T00:00:00+00:00"
            strength = rng.normal(0.0, 1.0, teams)
            for index, name in enumerate(names):
                revision = f"{index:040x}"
                appender.add(
                    "submission.made",
                    {
                        "stage": STAGE,
                        "team": name,
                        "repo": f"org-{name}/model",
                        "repo_type": "model",
                        "revision": revision,
                        "submitted_at": stamp,
                    },
                    stamp,
                )
                for task in ("t1", "t2"):
                    score = float(np.clip(0.5 + 0.1 * strength[index] + rng.normal(0, 0.02), 0, 1))
                    appender.add(
                        "score.recorded",
                        {
                            "stage": STAGE,
                            "task": task,
                            "model": f"org-{name}/model@{revision}",
                            "score": score,
                            "stderr": 0.01,
                            "n": 500,
                            "source": {},
                            "operator": "bench-operator",
                        },
                        stamp,
                    )
            a = rng.integers(0, teams, battles)
            b = (a + rng.integers(1, teams, battles)) % teams
            for index in range(battles):
                value = {
                    "answer_a": f"answer {index}a",
                    "answer_b": f"answer {index}b",
                    "team_a": names[a[index]],
                    "team_b": names[b[index]],
                }
                appender.add(
                    "battle.created",
                    {
                        "stage": STAGE,
                        "criterion": "arena",
                        "battle": f"b{index:07d}",
                        "prompt": f"prompt {index % 997}",
                        "commitment": sealing.commitment(value, salt),
                    },
                    stamp,
                )
            chosen = rng.integers(0, battles, votes)
            choice = rng.choice(np.array(["a", "b", "tie", "both_bad"]), votes, p=[0.42, 0.38, 0.15, 0.05])
            voter = rng.integers(0, 20_000, votes)
            for index in range(votes):
                appender.add(
                    "vote.recorded",
                    {
                        "stage": STAGE,
                        "battle": f"b{chosen[index]:07d}",
                        "voter": f"voter-{voter[index]:010x}",
                        "choice": str(choice[index]),
                    },
                    stamp,
                )
            appender.flush()
            events = challenge.last_seq
        if settings.database_url:
            with runtime.database.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        assert standings.refresh_challenge(runtime, SLUG, force=True)[1] == [STAGE]  # as the job does it
        refresh_s = time.perf_counter() - started
    finally:
        runtime.close()
    return {
        "events": events,
        "votes": votes,
        "battles": battles,
        "teams": teams,
        "seed_s": loaded,
        "refresh_s": refresh_s,
    }


def server_ms(response: httpx.Response) -> float:
    for part in response.headers.get("server-timing", "").split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:])
    raise RuntimeError(f"no Server-Timing in the answer to {response.request.url} (is BATON_SERVER_TIMING set?)")


def measure(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    first = client.get(path)
    if first.status_code != 200:
        raise RuntimeError(f"GET {path} answered {first.status_code}: {first.text[:300]}")
    if 'data-source="snapshot"' not in first.text and path.endswith(STAGE):
        raise RuntimeError("the stage page does not show the snapshot")
    for _ in range(4):
        client.get(path)
    server: list[float] = []
    for _ in range(requests):
        server.append(server_ms(client.get(path)))
    return {"p50_ms": percentile(server, 0.50), "p95_ms": percentile(server, 0.95), "bytes": float(len(first.content))}


def peer_seconds(settings: Settings) -> float:
    """Recompute on request: replay the ledger and run the decision's code (``standings.live``)."""
    runtime = open_runtime(settings)
    try:
        started = time.perf_counter()
        with runtime.database.session() as session:
            challenge = session.query(Challenge).filter_by(slug=SLUG).one()
            board = standings.live(session, challenge, STAGE)
        elapsed = time.perf_counter() - started
        assert len(board["teams"]) > 0
        return elapsed
    finally:
        runtime.close()


PAGES = [
    ("standings page (ko)", f"/challenges/{SLUG}/stages/{STAGE}?lang=ko"),
    ("standings page (en)", f"/challenges/{SLUG}/stages/{STAGE}?lang=en"),
    ("challenge page", f"/challenges/{SLUG}?lang=ko"),
    ("challenges list", "/challenges?lang=ko"),
]


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_schema(args.postgres_url)) if database == "postgresql" else None
        server = stack.enter_context(baton_server(database_url=database_url))
        settings = Settings(data_dir=server.data_dir, database_url=database_url)
        data = seed(settings, args.teams, args.battles, args.votes)
        print(
            f"{database}: {data['events']:,} ledger events in {data['seed_s']:.0f} s; "
            f"snapshot computed in {data['refresh_s']:.1f} s",
            flush=True,
        )
        runs = []
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for _ in range(args.runs):
                run = {label: measure(client, path, args.requests) for label, path in PAGES}
                run["peer"] = {"seconds": peer_seconds(settings)}
                runs.append(run)
                print(
                    f"  {database}: page p95 {run[PAGES[0][0]]['p95_ms']:.1f} ms; "
                    f"recompute {run['peer']['seconds']:.1f} s",
                    flush=True,
                )
        return {"data": data, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=1_000_000, help="arena votes (default 1,000,000)")
    parser.add_argument("--teams", type=int, default=50, help="teams in the stage (default 50)")
    parser.add_argument("--battles", type=int, default=20_000, help="sealed battles (default 20,000)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page per run (default 40)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL server (a fresh schema)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    rows = []
    for database in [name.strip() for name in args.databases.split(",") if name.strip()]:
        if database not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown database {database!r}; use sqlite or postgresql")
        result = results[database] = run_database(database, args)
        for label, _path in PAGES:
            p50 = median([run[label]["p50_ms"] for run in result["runs"]])
            p95 = median([run[label]["p95_ms"] for run in result["runs"]])
            rows.append([database, label, f"{p50:.1f}", f"{p95:.1f}", "yes" if p95 < 100 else "NO"])
        peer = median([run["peer"]["seconds"] for run in result["runs"]])
        rows.append([database, "peer: recompute on request", f"{peer * 1000:.0f}", "-", "-"])
        rows.append([database, "snapshot refresh (the job)", f"{result['data']['refresh_s'] * 1000:.0f}", "-", "-"])
    print()
    print(
        f"{args.votes:,} votes, {args.teams} teams, {args.battles:,} battles; server time over {args.requests} "
        f"requests, medians of {args.runs} runs; load average {load_average()}"
    )
    print(markdown_table(["database", "what", "p50 ms", "p95 ms", "p95 < 100 ms"], rows))
    if not args.no_json:
        path = write_results(
            "challenge_leaderboard",
            {"args": vars(args), "results": results, "versions": package_versions("sqlalchemy", "psycopg")},
        )
        print(f"results: {path}")


if __name__ == "__main__":
    main()
