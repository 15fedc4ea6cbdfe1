"""Server time of the models and datasets listing, search and repo pages, with 10,000 repos, on
SQLite and on PostgreSQL (issue 15).

The target: with 10,000 repos and 1,000 commits in one repo, the list, search and repo pages
answer in p95 < 100 ms measured inside the server, on both databases; each page's peer is its
JSON API call in the same run (a page should cost at most 2x its data).

Data (written through the services into the server's own database, while it runs):

- ``--repos`` repos (80% models, 20% datasets) in 24 organizations and one user, 5% private; cards
  mixing Korean and English text (200 distinct bodies), licenses, pipeline tags, languages, tags,
  a base model for a third of the models (lineage), training datasets for some; random
  downloads. The bulk path inserts the repo rows and their search terms directly
  (``baton.hub.search.index_repo``, each distinct card tokenized once) instead of committing a
  README to each repo, which would take most of the run;
- a challenge with 8 teams (organizations org-00..org-07), half of them advanced to stage 2;
  finished evaluation runs for 3,000 models; release items (released, held) for 300 repos;
- one repo, ``org-00/long-history``, with ``--commits`` real commits (``commits.commit_files``);
- on PostgreSQL, ``VACUUM ANALYZE`` after the load, as autovacuum would do shortly after it (a
  first run without it measured plans made without statistics: nested loops over the term index
  instead of hash joins, up to 50x slower).

Measured with ``Server-Timing`` (``BATON_SERVER_TIMING=1``: the time from the request's arrival
to its response headers, inside the server), one client, sequential requests, anonymous unless
said: the listing's JSON data (``/api/web/models``, ``/api/web/datasets``) without a search, with
Korean and English searches, with filters and sorts, deep pages; the Hugging Face API
(``/api/models?search=``, ``filter=``); the long repo's ``model_info`` and commit list. HTML
pages (``/models``, ``/datasets``, ``/{org}/{name}``) are measured beside their JSON peer when
they answer 200, and listed as skipped otherwise. The pages take ``q=`` as their JSON peer does;
the header's search box sends ``search=``, measured once beside ``q=``. p50/p95 are
nearest-rank over ``--requests`` calls after 5 warm-up calls, median over ``--runs`` runs.

    .venv/bin/python bench/web_listing.py --repos 10000 --commits 1000 --requests 40 --runs 3

While working on a few calls: ``--only TEXT`` (repeatable) measures the calls whose label contains
TEXT, and fewer ``--commits`` (the long repo's commits take most of the load) make the load shorter,
e.g. ``--databases postgresql --commits 10 --only search --requests 20 --runs 2``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import time
from typing import Any
from urllib.parse import quote

os.environ["BATON_SERVER_TIMING"] = "1"  # before the server starts: it reads the environment

import httpx
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

from baton.accounts import service as accounts
from baton.challenge import service as challenge_service
from baton.challenge.models import Challenge, Decision
from baton.commons.models import ReleaseItem
from baton.core.settings import Settings
from baton.domains import open_runtime
from baton.evaluation.models import EvaluationRun
from baton.hub import cards, commits, repos, search
from baton.hub.models import LineageEdge, Repo

ORGS = [f"org-{i:02d}" for i in range(24)]
TEAMS = ORGS[:8]
LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", "llama3", "openrail", "gpl-3.0", "other"]
PIPELINES = ["text-generation", "text-classification", "translation", "summarization", "feature-extraction"]
TASKS = ["question-answering", "text-classification", "translation", "summarization"]
RELATIONS = ["finetune", "quantized", "adapter", "merge"]
TAGS = ["korean", "llama", "instruction-tuned", "chat", "rlhf", "legal", "medical", "code", "math", "news"]
WORDS = ["hangul", "sejong", "baram", "haneul", "nuri", "gaon", "dasom", "saebit", "mir", "bora"]
KINDS = ["lm", "chat", "instruct", "embed", "mt", "sum", "qa", "code"]
KOREAN = [
    "이 모델은 한국어 대규모 언어모델을 기반으로 미세조정했습니다.",
    "법률 문서와 판례를 요약하도록 학습한 모델입니다.",
    "의료 상담 대화 데이터로 지시 따르기를 학습했습니다.",
    "뉴스 기사 분류와 감성 분석에 쓰입니다.",
    "수학 문제 풀이와 코드 생성 능력을 평가했습니다.",
    "한국어와 영어 번역 품질을 높이기 위해 병렬 말뭉치를 사용했습니다.",
    "양자화된 가중치로 적은 메모리에서 추론할 수 있습니다.",
    "공개 벤치마크 KMMLU와 KoBEST에서 평가한 결과를 싣습니다.",
]
ENGLISH = [
    "An instruction-tuned model for Korean and English chat.",
    "Trained on legal documents and court decisions to write summaries.",
    "Quantized weights for inference on a single GPU with little memory.",
    "Evaluated on public benchmarks; see the results table below.",
    "A sentence embedding model for retrieval and clustering.",
    "Fine-tuned with reinforcement learning from human feedback.",
    "Translation between Korean and English, trained on parallel corpora.",
    "Solves math word problems and writes Python code.",
]
SPEC = """\
challenge: bench-listing
title: Listing benchmark
timezone: Asia/Seoul
stages:
  - id: stage-1
    title: Stage 1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 8
    advance: 4
    criteria: [{id: bench, kind: benchmark, weight: 100, normalization: raw, tasks: [t1]}]
  - id: stage-2
    title: Stage 2
    deadline: 2026-04-10T18:00:00+09:00
    teams: 4
    advance: 2
    criteria: [{id: bench, kind: benchmark, weight: 100, normalization: raw, tasks: [t1]}]
"""


def bodies(rng: random.Random, count: int = 200) -> list[str]:
    out = []
    for index in range(count):
        lines = [f"# Model card {index}", ""]
        lines += [*rng.sample(KOREAN, 3), "", *rng.sample(ENGLISH, 3)]
        lines += ["", "## 사용법 / Usage", "", "```python", "from transformers import AutoModel", "```"] * 2
        out.append("\n".join(lines) + "\n")
    return out


def seed(settings: Settings, user: str, count: int, commit_count: int) -> dict[str, Any]:
    """Write the benchmark's data through the services into the server's database."""
    rng = random.Random(15)
    runtime = open_runtime(settings, run_migrations=False)
    started = time.perf_counter()
    try:
        with runtime.database.session(write=True) as session:
            owner = accounts.get_account(session, user)
            operator = accounts.create_user(session, "bench-operator", is_admin=True)
            for org in ORGS:
                accounts.create_organization(session, org, creator=owner)
            as_operator = accounts.actor_for(operator)
            challenge_service.create_challenge(session, SPEC, operator=as_operator)
            for number, org in enumerate(TEAMS):
                challenge_service.enter_team(
                    session,
                    "bench-listing",
                    challenge_service.TeamEntry(team=f"team-{number}", name=f"Team {number}", organizations=[org]),
                    operator=as_operator,
                )
            challenge = session.query(Challenge).filter_by(slug="bench-listing").one()
            now = challenge.created_at
            session.add(
                Decision(
                    challenge_id=challenge.id,
                    stage="stage-1",
                    seq=challenge.last_seq + 1,
                    record={"advance": [f"team-{n}" for n in range(4)]},
                    decided_at=now,
                    appeal_deadline=now,
                )
            )
        texts = bodies(rng)
        terms = [search.card_terms(text) for text in texts]
        models: list[str] = []
        datasets: list[str] = []
        made = 0
        while made < count:
            with runtime.database.session(write=True) as session:
                accounts_by_name = {name: accounts.get_account(session, name) for name in [*ORGS, user]}
                batch: list[tuple[Repo, int]] = []
                for index in range(made, min(count, made + 500)):
                    repo_type = "dataset" if index % 5 == 4 else "model"
                    namespace = ORGS[index % len(ORGS)] if index % 7 else user
                    name = f"{rng.choice(WORDS)}-{rng.choice(KINDS)}-{rng.choice([1, 3, 7, 13, 70])}b-{index}"
                    card: dict[str, Any] = {
                        "license": rng.choice(LICENSES),
                        "language": rng.sample(["ko", "en", "ja"], rng.randint(1, 2)),
                        "tags": rng.sample(TAGS, 3),
                    }
                    if repo_type == "model":
                        card["pipeline_tag"] = rng.choice(PIPELINES)
                        card["library_name"] = "transformers"
                        if models and rng.random() < 0.33:
                            card["base_model"] = rng.choice(models[-2000:])
                            card["base_model_relation"] = rng.choice(RELATIONS)
                        if datasets and rng.random() < 0.3:
                            card["datasets"] = [rng.choice(datasets)]
                    else:
                        card["task_categories"] = [rng.choice(TASKS)]
                    owner_account = accounts_by_name[namespace]
                    repo = Repo(
                        repo_type=repo_type,
                        namespace=namespace,
                        name=name,
                        owner_id=owner_account.id,
                        private=rng.random() < 0.05,
                        card_data=card,
                        downloads=int(rng.paretovariate(1.2) * 10),
                    )
                    session.add(repo)
                    batch.append((repo, rng.randrange(len(texts))))
                    (models if repo_type == "model" else datasets).append(f"{namespace}/{name}")
                session.flush()
                for repo, body in batch:
                    search.index_repo(session, repo, card=terms[body])
                    base = repo.card_data.get("base_model")
                    if base:
                        session.add(
                            LineageEdge(
                                child_repo_id=repo.id, base=base, relation=repo.card_data["base_model_relation"]
                            )
                        )
                made += len(batch)
        with runtime.database.session(write=True) as session:
            model_rows = session.query(Repo.id, Repo.namespace, Repo.name).filter(Repo.repo_type == "model").all()
            for _ in range(3000):
                _pk, namespace, name = rng.choice(model_rows)
                session.add(
                    EvaluationRun(
                        task="kmmlu",
                        task_name="kmmlu",
                        task_version="1",
                        model=f"{namespace}/{name}",
                        model_repo=f"{namespace}/{name}",
                        backend="dummy",
                        status="succeeded" if rng.random() < 0.9 else "failed",
                    )
                )
            team_rows = [row for row in model_rows if row[1] in TEAMS]
            for pk, namespace, name in rng.sample(team_rows, min(300, len(team_rows))):
                session.add(
                    ReleaseItem(
                        challenge="bench-listing",
                        team=f"team-{TEAMS.index(namespace)}",
                        stage="stage-1",
                        exit_reason="eliminated",
                        repo_type="model",
                        repo_name=f"{namespace}/{name}",
                        repo_pk=pk,
                        asset_kind="model",
                        access="public",
                        state=rng.choice(["released", "released", "held", "pending"]),
                    )
                )
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        with runtime.database.session(write=True) as session:
            actor = accounts.act_as(session, user)
            key = repos.parse_repo_id("model", "org-00/long-history")
            repo, _ = repos.create_repo(session, actor, key, private=False)
            commits.initial_commit(session, runtime.store, actor, repo)
            readme = cards.render_card(
                {"license": "apache-2.0", "pipeline_tag": "text-generation"}, texts[0] + "\n" + texts[1]
            )
            commits.commit_files(
                session, runtime.store, runtime.settings, actor, repo, {"README.md": readme.encode()}, title="card"
            )
        for start in range(0, commit_count, 100):
            with runtime.database.session(write=True) as session:
                actor = accounts.act_as(session, user)
                repo = repos.get_repo(session, actor, key)
                for number in range(start, min(commit_count, start + 100)):
                    commits.commit_files(
                        session,
                        runtime.store,
                        runtime.settings,
                        actor,
                        repo,
                        {f"logs/step-{number:04d}.json": f'{{"step": {number}}}'.encode()},
                        title=f"Training step {number}",
                    )
        committed = time.perf_counter() - started
        if runtime.database.engine.dialect.name == "postgresql":
            # What autovacuum does a little after any bulk load: without statistics the planner
            # guesses the term index's groups at one row and loops where it should hash.
            with runtime.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        return {"repos": count, "seed_s": seeded, "commits": commit_count, "commit_s": committed}
    finally:
        runtime.close()


LISTINGS = [  # (label, the listing page's path; its JSON peer is the same under /api/web)
    ("list models", "/models"),
    ("list models, page 100", "/models?page=100"),
    ("list datasets", "/datasets"),
    ("search ko '언어 모델'", "/models?q=" + quote("언어 모델")),
    ("search ko '법률 문서를 요약'", "/models?q=" + quote("법률 문서를 요약")),
    ("search en 'instruction tuned'", "/models?q=" + quote("instruction tuned")),
    ("search en 'hangul'", "/models?q=hangul"),
    ("search datasets 'translation'", "/datasets?q=translation"),
    ("filter license + sort derivatives", "/models?license=apache-2.0&sort=derivatives"),
    ("filter team + sort evaluations", "/models?team=org-03&sort=evaluations"),
    (
        "filter kind, stage, release + sort modified",
        "/models?kind=text-generation&stage=stage-2&release=released&sort=modified",
    ),
    ("search + filter + sort", "/models?q=" + quote("언어 모델") + "&license=mit&sort=downloads"),
]
LONG_REPO = "org-00/long-history"
HF_API = ["HF API search=", "HF API filter= sort="]


def url_pairs() -> list[tuple[str, str | None, str]]:
    """(label, HTML page or None, its JSON peer)."""
    pairs: list[tuple[str, str | None, str]] = [(label, page, "/api/web" + page) for label, page in LISTINGS]
    pairs += [
        # The header's search box sends search= (the page also counts the datasets that match).
        ("header search 'hangul'", "/models?search=hangul", "/api/web/models?q=hangul"),
        ("repo page (1,000 commits)", f"/{LONG_REPO}", f"/api/models/{LONG_REPO}"),
        ("repo commits (1,000 commits)", f"/{LONG_REPO}/commits/main", f"/api/models/{LONG_REPO}/commits/main"),
        (HF_API[0], None, "/api/models?search=hangul&limit=30"),
        (HF_API[1], None, "/api/models?filter=license:mit&sort=downloads&limit=30"),
    ]
    return pairs


SIGNED_IN = "list models, signed in"


def chosen(label: str, only: list[str]) -> bool:
    """Whether ``--only`` (parts of call labels; none: every call) picks the call ``label``."""
    return not only or any(part.lower() in label.lower() for part in only)


def server_ms(response: httpx.Response) -> float:
    header = response.headers.get("server-timing", "")
    for part in header.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:])
    raise RuntimeError(f"no Server-Timing in the answer to {response.request.url} (is BATON_SERVER_TIMING set?)")


def measure_url(client: httpx.Client, path: str, requests: int) -> dict[str, float] | None:
    """Server-side p50/p95 (ms) of ``path``, and the client's p50; None when it does not answer 200."""
    first = client.get(path)
    if first.status_code != 200:
        return None
    for _ in range(4):
        client.get(path)
    server: list[float] = []
    wall: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
        server.append(server_ms(response))
    return {
        "p50_ms": percentile(server, 0.50),
        "p95_ms": percentile(server, 0.95),
        "client_p50_ms": percentile(wall, 0.50),
        "bytes": float(len(first.content)),
    }


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_schema(args.postgres_url)) if database == "postgresql" else None
        server = stack.enter_context(baton_server(database_url=database_url))
        settings = Settings(data_dir=server.data_dir, database_url=database_url)
        data = seed(settings, server.user, args.repos, args.commits)
        print(
            f"{database}: seeded {data['repos']} repos in {data['seed_s']:.0f} s, {data['commits']} commits in "
            f"{data['commit_s']:.0f} s",
            flush=True,
        )
        runs: list[dict[str, dict[str, Any]]] = []
        with (
            httpx.Client(base_url=server.url, timeout=60) as anonymous,
            httpx.Client(
                base_url=server.url, timeout=60, headers={"authorization": f"Bearer {server.token}"}
            ) as signed_in,
        ):
            for _ in range(args.runs):
                run: dict[str, dict[str, Any]] = {}
                for label, page, peer in url_pairs():
                    if not chosen(label, args.only):
                        continue
                    run[label] = {
                        "page": measure_url(anonymous, page, args.requests) if page else None,
                        "json": measure_url(anonymous, peer, args.requests),
                    }
                if chosen(SIGNED_IN, args.only):
                    run[SIGNED_IN] = {
                        "page": measure_url(signed_in, "/models", args.requests),
                        "json": measure_url(signed_in, "/api/web/models", args.requests),
                    }
                runs.append(run)
        return {"data": data, "runs": runs}


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for label in runs[0]:
        entry: dict[str, Any] = {}
        for side in ("page", "json"):
            values = [run[label][side] for run in runs]
            if any(value is None for value in values):
                entry[side] = None
                continue
            entry[side] = {key: median([value[key] for value in values]) for key in values[0]}
        out[label] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=10_000, help="repos to create (default 10,000)")
    parser.add_argument("--commits", type=int, default=1000, help="commits in the long repo (default 1,000)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per URL per run (default 40)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL server (a fresh schema)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="measure only the calls whose label contains TEXT (repeatable; e.g. --only 'search ko')",
    )
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for database in [name.strip() for name in args.databases.split(",") if name.strip()]:
        if database not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown database {database!r}; use sqlite or postgresql")
        results[database] = run_database(database, args)
        for label, entry in summarize(results[database]["runs"]).items():  # as it comes: a long run can be cut
            peer = entry["json"]
            print(f"  {database} {label}: JSON p50 {peer['p50_ms']:.1f} ms, p95 {peer['p95_ms']:.1f} ms", flush=True)

    rows = []
    skipped: set[str] = set()
    summary = {database: summarize(result["runs"]) for database, result in results.items()}
    for database, calls in summary.items():
        for label, entry in calls.items():
            peer, page = entry["json"], entry["page"]
            if page is None and label not in HF_API:
                skipped.add(label)
            ratio = f"{page['p95_ms'] / peer['p95_ms']:.2f}" if page and peer else "-"
            rows.append(
                [
                    database,
                    label,
                    f"{peer['p50_ms']:.1f}" if peer else "-",
                    f"{peer['p95_ms']:.1f}" if peer else "-",
                    f"{page['p50_ms']:.1f}" if page else "skipped",
                    f"{page['p95_ms']:.1f}" if page else "skipped",
                    ratio,
                    "yes" if (peer and peer["p95_ms"] < 100) and (page is None or page["p95_ms"] < 100) else "NO",
                ]
            )
    print()
    print(
        f"{args.repos} repos, {args.commits} commits in one repo; server time (Server-Timing) over {args.requests} "
        f"sequential requests after 5 warm-up calls, medians of {args.runs} runs"
    )
    print()
    headers = [
        "database",
        "call",
        "JSON p50 ms",
        "JSON p95 ms",
        "page p50 ms",
        "page p95 ms",
        "page/JSON p95",
        "< 100 ms",
    ]
    print(markdown_table(headers, rows))
    if skipped:
        print()
        print("HTML pages not measured (they did not answer 200 on this branch): " + ", ".join(sorted(skipped)))
    if not args.no_json:
        path = write_results(
            "web_listing",
            {
                "repos": args.repos,
                "commits": args.commits,
                "requests": args.requests,
                "runs": args.runs,
                "per_database": results,
                "median": summary,
                "versions": package_versions("httpx", "uvicorn", "starlette", "sqlalchemy", "psycopg", "kiwipiepy"),
            },
        )
        print(f"results written to {path}")
    took = time.perf_counter() - started
    print(f"took {took:.0f} s; load average at the end: {load_average()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
