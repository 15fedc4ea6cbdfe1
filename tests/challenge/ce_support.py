"""Shared builders for the challenge engine tests: a small challenge with real accounts and hub repos."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.challenge import service
from baton.core.runtime import Runtime
from baton.hub import commits, repos

BEFORE_DEADLINE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AFTER_DEADLINE = datetime(2026, 1, 11, 0, 0, tzinfo=UTC)  # stage-1 closes 2026-01-10 18:00 KST = 09:00 UTC


def spec_yaml(
    *,
    slug: str = "test-challenge",
    teams: int = 3,
    advance: int = 2,
    weights: tuple[float, float, float] = (40, 35, 25),
    stages: int = 1,
    appeal_days: int = 10,
    seed: int | None = 7,
    rounds: int = 20,
    benchmark_only: bool = False,
    normalization: str = "raw",
) -> str:
    """A challenge with one benchmark, one review and one arena criterion per stage, and an independence gate."""
    lines = [
        f"challenge: {slug}",
        "title: Test challenge",
        "timezone: Asia/Seoul",
        f"appeal_days: {appeal_days}",
        "tie_break: [criterion:bench, earliest_submission, draw]",
        "stages:",
    ]
    count = teams
    for index in range(stages):
        goes_on = advance if index == 0 else max(count - 1, 1)
        lines += [
            f"  - id: stage-{index + 1}",
            f"    title: Stage {index + 1}",
            f"    deadline: 2026-{index * 3 + 1:02d}-10T18:00:00+09:00",
            f"    teams: {count}",
            f"    advance: {goes_on}",
            *([f"    seed: {seed}"] if seed is not None else []),
            "    criteria:",
            f"      - {{id: bench, kind: benchmark, weight: {weights[0]:g}, normalization: {normalization},",
            "          tasks: [t1, t2]}",
        ]
        if benchmark_only:
            lines += ["    gates: [{id: independence, kind: independence}]"]
            count = goes_on
            continue
        lines += [
            "      - id: review",
            "        kind: review",
            f"        weight: {weights[1]:g}",
            "        aggregation: median",
            "        rubric: [{id: report, max: 10}, {id: logs, max: 10}]",
            f"      - {{id: arena, kind: arena, weight: {weights[2]:g}, bootstrap_rounds: {rounds},",
            "          max_votes_per_voter: 50}",
            "    gates: [{id: independence, kind: independence}]",
        ]
        count = goes_on
    return "\n".join(lines) + "\n"


@dataclass
class World:
    runtime: Runtime
    slug: str
    teams: list[str]
    operator: str = "op"
    reviewers: list[str] = field(default_factory=lambda: ["rev1", "rev2", "rev3"])
    voters: list[str] = field(default_factory=lambda: [f"voter{i}" for i in range(6)])

    def account(self, session: Any, name: str) -> Actor:
        """The named person acting with every scope (as from the CLI)."""
        return accounts.act_as(session, name)

    def op(self, session: Any) -> Actor:
        return self.account(session, self.operator)

    def member(self, team: str) -> str:
        return f"m-{team}"

    def repo(self, team: str) -> str:
        return f"org-{team}/model"


def headers(runtime: Runtime, name: str) -> dict[str, str]:
    """API headers with a fresh token of ``name``."""
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, name)).value
    return {"Authorization": f"Bearer {token}"}


def make_people(runtime: Runtime, teams: list[str]) -> None:
    with runtime.database.session(write=True) as session:
        operator = accounts.create_user(session, "op", is_admin=True)
        for team in teams:
            member = accounts.create_user(session, f"m-{team}")
            org = accounts.create_organization(session, f"org-{team}", creator=operator)
            accounts.set_membership(session, org, member, "write")
        for name in ["rev1", "rev2", "rev3", *[f"voter{i}" for i in range(6)]]:
            accounts.create_user(session, name)


def make_repo(runtime: Runtime, owner: str, namespace: str, name: str, text: str = "v1") -> str:
    """A new hub repo with one commit on main; returns the commit oid."""
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", f"{namespace}/{name}"), private=False)
        commits.initial_commit(session, runtime.store, user, repo)
    return push(runtime, owner, f"{namespace}/{name}", text)


def push(runtime: Runtime, owner: str, repo_id: str, text: str) -> str:
    """A new commit on the repo's main branch; returns its oid."""
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, owner)
        repo = repos.get_writable_repo(session, user, repos.parse_repo_id("model", repo_id))
        commit = commits.commit_files(
            session, runtime.store, runtime.settings, user, repo, {"notes.txt": text.encode()}, title=text
        )
        return commit.oid


def make_world(runtime: Runtime, *, teams: int = 3, spec: str | None = None, **spec_args: Any) -> World:
    names = [f"team-{chr(ord('a') + i)}" for i in range(teams)]
    make_people(runtime, names)
    text = spec or spec_yaml(teams=teams, **spec_args)
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        challenge = service.create_challenge(session, text, operator=operator, now=BEFORE_DEADLINE)
        slug = challenge.slug
        for team in names:
            service.enter_team(
                session,
                slug,
                service.TeamEntry(
                    team=team,
                    name=f"Team {team[-1].upper()}",
                    organizations=[f"org-{team}"],
                    members=[f"m-{team}"],
                    target_models=["reference/target-model"],
                    release_plan={
                        "repos": [
                            {"repo": f"org-{team}/model", "kind": "model", "license": "apache-2.0", "access": "public"}
                        ]
                    },
                ),
                operator=operator,
                now=BEFORE_DEADLINE,
            )
    for team in names:
        make_repo(runtime, f"m-{team}", f"org-{team}", "model")
    return World(runtime=runtime, slug=slug, teams=names)


def submit_all(world: World, stage: str = "stage-1", now: datetime = BEFORE_DEADLINE) -> dict[str, str]:
    """Every team submits its repo's head; returns team -> "repo@oid"."""
    models = {}
    with world.runtime.database.session(write=True) as session:
        for team in world.teams:
            submission = service.submit(
                session,
                world.slug,
                stage,
                team,
                repo=world.repo(team),
                user=world.account(session, world.member(team)),
                now=now,
            )
            models[team] = f"{submission.repo_name}@{submission.commit_oid}"
    return models


def feed_inputs(
    world: World,
    models: dict[str, str],
    *,
    stage: str = "stage-1",
    scores: dict[str, float] | None = None,
    review: dict[str, float] | None = None,
    votes: dict[tuple[str, str], tuple[int, int]] | None = None,
    teams: list[str] | None = None,
) -> None:
    """Benchmark scores, one review per reviewer, battles and votes, gates passed by an operator's ruling."""
    teams = teams or world.teams
    scores = scores or {team: 0.5 + 0.1 * index for index, team in enumerate(teams)}
    review = review or {team: 5.0 + index for index, team in enumerate(teams)}
    with world.runtime.database.session(write=True) as session:
        operator = world.op(session)
        for team in teams:
            for task in ("t1", "t2"):
                service.record_score(
                    session,
                    world.slug,
                    stage,
                    service.BenchmarkScore(task=task, model=models[team], score=scores[team], stderr=0.01, n=100),
                    operator=operator,
                    now=BEFORE_DEADLINE,
                )
            for reviewer in world.reviewers[:2]:
                service.assign_reviewer(
                    session, world.slug, stage, team, accounts.get_account(session, reviewer), operator=operator
                )
                service.record_review(
                    session,
                    world.slug,
                    stage,
                    team,
                    reviewer=world.account(session, reviewer),
                    scores={"report": review[team], "logs": review[team]},
                    now=BEFORE_DEADLINE,
                )
            service.override_gate(
                session,
                world.slug,
                stage,
                team,
                outcome="pass",
                reason="Weights checked by hand against the public bases; independent.",
                operator=operator,
                now=BEFORE_DEADLINE,
            )
        pairs = votes or {
            (a, b): (3 + 2 * j, 3 + 2 * i) for i, a in enumerate(teams) for j, b in enumerate(teams) if i < j
        }
        for (team_a, team_b), (wins_a, wins_b) in pairs.items():
            for k in range(wins_a + wins_b):
                battle = service.create_battle(
                    session,
                    world.slug,
                    stage,
                    service.NewBattle(
                        prompt=f"prompt {k}",
                        team_a=team_a,
                        team_b=team_b,
                        answer_a=f"answer one {k}",
                        answer_b=f"answer two {k}",
                    ),
                    operator=operator,
                    now=BEFORE_DEADLINE,
                )
                voter = world.account(session, world.voters[k % len(world.voters)])
                service.record_vote(
                    session,
                    world.slug,
                    stage,
                    battle.battle,
                    voter=voter,
                    choice="a" if k < wins_a else "b",
                    now=BEFORE_DEADLINE,
                )
