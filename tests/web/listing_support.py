"""The listing tests' world: two challenge teams, repos of several kinds, licenses and owners (one
private), evaluation runs, release states and lineage. Used by the listing service's tests and the
listing pages' tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from baton.accounts import service as accounts
from baton.challenge import service as challenge_service
from baton.commons.models import ReleaseItem
from baton.core.runtime import Runtime
from baton.evaluation.models import EvaluationRun
from baton.hub import cards, commits, repos
from baton.hub.models import Repo

NOW = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
SPEC = """\
challenge: listing-test
title: Listing test
timezone: Asia/Seoul
stages:
  - id: stage-1
    title: Stage 1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 2
    advance: 1
    criteria: [{id: bench, kind: benchmark, weight: 100, normalization: raw, tasks: [t1]}]
  - id: stage-2
    title: Stage 2
    deadline: 2026-04-10T18:00:00+09:00
    teams: 1
    advance: 1
    criteria: [{id: bench, kind: benchmark, weight: 100, normalization: raw, tasks: [t1]}]
"""


def make(
    runtime: Runtime,
    repo_id: str,
    *,
    card: dict[str, Any] | None = None,
    body: str = "",
    repo_type: str = "model",
    private: bool = False,
    author: str = "bob",
    downloads: int = 0,
) -> None:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, author)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id(repo_type, repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        readme = cards.render_card(card or {}, body or f"# {repo_id}\n").encode()
        commits.commit_files(session, runtime.store, runtime.settings, user, repo, {"README.md": readme}, title="card")
        repo.downloads = downloads


def build_world(runtime: Runtime) -> Runtime:
    """Two challenge teams (org-a, org-b), lab's and bob's repos, a dataset and lineage (needs the
    ``users`` fixture's accounts)."""
    with runtime.database.session(write=True) as session:
        alice = accounts.get_account(session, "alice")
        for org in ("org-a", "org-b"):
            created = accounts.create_organization(session, org, creator=alice)
            accounts.set_membership(session, created, accounts.get_account(session, "carol"), "write")
        operator = accounts.act_as(session, "alice")
        challenge_service.create_challenge(session, SPEC, operator=operator, now=NOW)
        for slug, org in (("team-a", "org-a"), ("team-b", "org-b")):
            challenge_service.enter_team(
                session,
                "listing-test",
                challenge_service.TeamEntry(
                    team=slug, name=f"Team {slug[-1].upper()}", organizations=[org], members=["carol"]
                ),
                operator=operator,
                now=NOW,
            )
    make(
        runtime,
        "org-a/hangul-7b",
        card={"license": "apache-2.0", "pipeline_tag": "text-generation", "language": ["ko"]},
        body="한국어 언어모델을 처음부터 학습했습니다.\n",
        author="carol",
        downloads=50,
    )
    make(
        runtime,
        "org-b/hangul-7b-q4",
        card={
            "license": "apache-2.0",
            "pipeline_tag": "text-generation",
            "base_model": "org-a/hangul-7b",
            "base_model_relation": "quantized",
        },
        body="Quantized build of hangul-7b.\n",
        author="carol",
        downloads=500,
    )
    make(
        runtime,
        "lab/vision-base",
        card={"license": "mit", "pipeline_tag": "image-classification", "datasets": ["lab/photos"]},
        body="An image model.\n",
        author="alice",
        downloads=10,
    )
    make(
        runtime,
        "bob/chat-ft",
        card={"license": "mit", "base_model": "org-a/hangul-7b", "base_model_relation": "finetune"},
        body="대화 모델. Fine-tuned for chat.\n",
        downloads=5,
    )
    make(runtime, "lab/secret", card={"license": "mit"}, body="비밀 모델\n", private=True, author="alice")
    make(
        runtime,
        "lab/photos",
        repo_type="dataset",
        card={"license": "cc-by-4.0", "task_categories": ["image-classification"]},
        body="고양이 사진 모음\n",
        author="alice",
    )
    with runtime.database.session(write=True) as session:
        pks = {repo.repo_id: repo.id for repo in session.scalars(select(Repo))}
        for index in range(3):  # hangul-7b: 3 finished runs; q4: 1; a failed one counts for nothing
            session.add(_run("org-a/hangul-7b", "succeeded", index))
        session.add(_run("org-b/hangul-7b-q4", "succeeded", 9))
        session.add(_run("bob/chat-ft", "failed", 10))
        session.add(_release(pks["org-b/hangul-7b-q4"], "org-b/hangul-7b-q4", "released"))
        session.add(_release(pks["org-a/hangul-7b"], "org-a/hangul-7b", "held"))
        # bob/chat-ft was last touched first, org-a/hangul-7b most recently
        for offset, repo_id in enumerate(["bob/chat-ft", "lab/vision-base", "org-b/hangul-7b-q4", "org-a/hangul-7b"]):
            session.execute(
                update(Repo).where(Repo.id == pks[repo_id]).values(last_modified=NOW + timedelta(hours=offset))
            )
    return runtime


def _run(model: str, status: str, index: int) -> EvaluationRun:
    return EvaluationRun(
        task=f"t{index}",
        task_name=f"t{index}",
        task_version="1",
        model=model,
        model_repo=model,
        backend="dummy",
        status=status,
    )


def _release(pk: int, name: str, state: str) -> ReleaseItem:
    return ReleaseItem(
        challenge="listing-test",
        team="team-" + name[4],
        stage="stage-1",
        exit_reason="eliminated",
        repo_type="model",
        repo_name=name,
        repo_pk=pk,
        asset_kind="model",
        access="public",
        state=state,
    )
