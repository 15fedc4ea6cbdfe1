"""Issue 12, item 4: the blind arena is blind while voting is open.

Every GET route of the app is called, with its path parameters filled from a seeded challenge whose
stage is open for voting, as an anonymous visitor and as a plain voter (token for the API, session
cookie for the pages). No public response may hold a battle id together with a team, organization,
member, repo or model of that battle. When voting closes (the decision), the ledger reveals the
battles' openings and ``verify`` checks each one against its commitment.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.accounts import service as accounts
from baton.app import create_app
from baton.challenge import ledger, service
from baton.challenge.errors import StageStateError
from baton.challenge.models import Battle
from baton.core import clock
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from web.sign_in_support import sign_in_with_token

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE

SLUG = "blind-check"
STAGE = "stage-1"
SPEC = f"""\
challenge: {SLUG}
title: Blind arena check
timezone: Asia/Seoul
appeal_days: 3
stages:
  - id: {STAGE}
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 2
    seed: 3
    criteria:
      - {{id: bench, kind: benchmark, weight: 50, tasks: [t1]}}
      - {{id: arena, kind: arena, weight: 50, bootstrap_rounds: 20}}
"""
# Distinctive words, so that finding one in a response means the response names that team.
TEAMS = {
    "aurora": ("Aurora Labs", "aurora-org", "mem-aurora", "aurora-lm", True),  # a private repo
    "borealis": ("Borealis Works", "borealis-org", "mem-borealis", "borealis-lm", False),
    "cygnus": ("Cygnus Institute", "cygnus-org", "mem-cygnus", "cygnus-lm", False),
}
VOTER = "plainvoter"


@dataclass
class Seeded:
    identities: dict[str, set[str]] = field(default_factory=dict)  # team -> every name that points to it
    battles: dict[str, tuple[str, str]] = field(default_factory=dict)  # battle id -> (team a, team b)
    repos: list[str] = field(default_factory=list)


def seed(runtime: Runtime) -> Seeded:
    seeded = Seeded()
    with runtime.database.session(write=True) as session:
        operator = accounts.create_user(session, "op", is_admin=True)
        accounts.create_user(session, VOTER)
        as_operator = accounts.actor_for(operator)
        service.create_challenge(session, SPEC, operator=as_operator, now=BEFORE_DEADLINE)
        for team, (name, org, member, repo_name, private) in TEAMS.items():
            account = accounts.create_user(session, member)
            person = accounts.actor_for(account)
            organization = accounts.create_organization(session, org, creator=operator)
            accounts.set_membership(session, organization, account, "write")
            service.enter_team(
                session,
                SLUG,
                service.TeamEntry(team=team, name=name, organizations=[org], members=[member]),
                operator=as_operator,
            )
            key = repos.parse_repo_id("model", f"{org}/{repo_name}")
            repo, _ = repos.create_repo(session, person, key, private=private)
            commits.initial_commit(session, runtime.store, person, repo)
            commit = commits.commit_files(
                session, runtime.store, runtime.settings, person, repo, {"notes.txt": b"weights"}, title="v1"
            )
            service.submit(session, SLUG, STAGE, team, repo=repo.repo_id, user=person, now=BEFORE_DEADLINE)
            seeded.repos.append(repo.repo_id)
            seeded.identities[team] = {team, name, org, member, repo.repo_id, repo_name, commit.oid}
        for k, (team_a, team_b) in enumerate(itertools.permutations(TEAMS, 2)):
            battle = service.create_battle(
                session,
                SLUG,
                STAGE,
                service.NewBattle(
                    prompt=f"Question number {k}?",
                    team_a=team_a,
                    team_b=team_b,
                    answer_a=f"First answer {k}.",
                    answer_b=f"Second answer {k}.",
                ),
                operator=as_operator,
                now=BEFORE_DEADLINE,
            )
            seeded.battles[battle.battle] = (team_a, team_b)
        for index, battle_id in enumerate(seeded.battles):
            if index % 2:
                voter = accounts.act_as(session, VOTER)
                service.record_vote(session, SLUG, STAGE, battle_id, voter=voter, choice="a", now=BEFORE_DEADLINE)
    return seeded


def get_paths(app: FastAPI) -> list[str]:
    # FastAPI >= 0.165 includes routers lazily; iter_route_contexts walks the effective route table.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = walk(app.routes) if walk is not None else app.routes
    return sorted({route.path for route in routes if "GET" in (getattr(route, "methods", None) or ())})


# How to fill each path parameter (besides a repo's namespace and name, filled with every team's repo).
FILLERS: dict[str, list[str]] = {
    "type_plural": ["models"],
    "slug": [SLUG],
    "challenge": [SLUG],
    "stage": [STAGE],
    "team": list(TEAMS),
    "revision": ["main"],
    "rest": ["main", "main/notes.txt"],
    "status": ["pending"],
    "report_id": ["1"],
    "run_id": ["1"],
    "opening_id": ["1"],
    "purpose": ["profile"],
    "version": ["1"],
    "public_id": ["x"],
    "organization": [organization for _name, organization, *_rest in TEAMS.values()],
    "lang": ["ko", "en"],
    "path": ["baton.css"],
    "user_name": [VOTER],
    "part": ["hub", "challenge"],
}


def fill(path: str, seeded: Seeded) -> Iterator[str]:
    """Concrete URLs for a route: one per repo and per team where those are parameters."""
    names = [name for name in re.findall(r"{([^}:]+)(?::path)?}", path) if name not in ("namespace", "name")]
    unknown = [name for name in names if name not in FILLERS]
    assert not unknown, f"a new route parameter: add how to fill {unknown} of {path} to FILLERS"
    repo_choices = seeded.repos if "{namespace}" in path else [""]
    for repo_id, values in itertools.product(repo_choices, itertools.product(*(FILLERS[name] for name in names))):
        url = path
        for name, value in zip(names, values, strict=True):
            url = re.sub(r"{" + name + r"(?::path)?}", value, url)
        if repo_id:
            namespace, repo_name = repo_id.split("/")
            url = url.replace("{namespace}", namespace).replace("{name}", repo_name)
        yield url


def units(content_type: str, text: str) -> list[str]:
    """The records of a response: JSON lines one by one, a JSON list's items one by one, else the whole."""
    if "ndjson" in content_type:
        return [line for line in text.splitlines() if line.strip()]
    if "json" in content_type:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return [text]
        items = data if isinstance(data, list) else [data]
        return [json.dumps(item, ensure_ascii=False) for item in items]
    return [text]


def links(unit: str, seeded: Seeded) -> list[str]:
    """Each (battle id, identity) pair that ``unit`` holds together."""
    found = []
    for battle_id, teams in seeded.battles.items():
        if battle_id in unit:
            found += [f"{battle_id} ~ {word}" for team in teams for word in seeded.identities[team] if word in unit]
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_public_response_links_a_battle_to_a_team_while_voting_is_open(runtime: Runtime) -> None:
    seeded = seed(runtime)
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, VOTER)).value
    app = create_app(runtime=runtime)
    seen_battles: set[str] = set()
    named_teams: set[str] = set()
    called = 0
    with clock.frozen(BEFORE_DEADLINE), TestClient(app) as anonymous, TestClient(app) as voter:
        signed_in = sign_in_with_token(voter, token, "/commons")
        assert signed_in.status_code == 303 and "baton_session" in voter.cookies
        bearer = {"Authorization": f"Bearer {token}"}
        served = voter.get(f"/api/challenges/{SLUG}/stages/{STAGE}/battles/next", headers=bearer)
        assert served.json()["battle"] in seeded.battles  # the voter is served a battle: the ids are out there
        problems: list[str] = []
        paths = get_paths(app)
        assert "/api/challenges/{slug}/ledger" in paths and "/challenges/{challenge}/stages/{stage}/arena" in paths
        for path in paths:
            for url in fill(path, seeded):
                for who, client, headers in (
                    ("anonymous", anonymous, {}),
                    ("voter", voter, bearer),
                ):
                    response = client.get(url, headers=headers, follow_redirects=True)
                    called += 1
                    for unit in units(response.headers.get("content-type", ""), response.text):
                        seen_battles |= {battle for battle in seeded.battles if battle in unit}
                        named_teams |= {team for team in TEAMS if team in unit}
                        problems += [f"{who} GET {url}: {link}" for link in links(unit, seeded)]
        assert problems == []
    # Not vacuous: the battles are public (ledger, the voting page) and so are the teams (team listings).
    assert called > 100
    assert seen_battles == set(seeded.battles) and named_teams == set(TEAMS)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_closing_the_vote_reveals_the_battles_and_verify_checks_each_opening(runtime: Runtime) -> None:
    seeded = seed(runtime)
    with runtime.database.session() as session:
        before = service.export_bundle(session, SLUG)
    # While open: one commitment per battle and per private submission, none opened, nothing wrong.
    report = ledger.verify_bundle(before)
    assert report.ok and report.commitments == len(seeded.battles) + 1 and report.commitments_opened == 0
    for line in before.splitlines()[1:]:
        event = json.loads(line)["event"]
        if event["kind"] == "battle.created":
            assert set(event["payload"]) == {"stage", "criterion", "battle", "prompt", "commitment"}

    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        record = service.decide(session, runtime, SLUG, STAGE, operator=operator, now=AFTER_DEADLINE)
        with pytest.raises(StageStateError, match="arena is closed"):
            service.create_battle(
                session,
                SLUG,
                STAGE,
                service.NewBattle(prompt="late?", team_a="aurora", team_b="cygnus", answer_a="x", answer_b="y"),
                operator=operator,
                now=AFTER_DEADLINE,
            )
    assert record["arena"]["arena"]["votes_used"] == len(seeded.battles) // 2
    with runtime.database.session() as session:
        events = service.ledger_events(session, SLUG)
        after = service.export_bundle(session, SLUG)
        stored = {battle.battle: (battle.team_a, battle.team_b) for battle in session.query(Battle)}
    kinds = [event["kind"] for event in events]
    reveal = events[kinds.index("commitments.revealed")]
    assert kinds.index("commitments.revealed") < kinds.index("seed.drawn") < kinds.index("decision.made")
    assert reveal["payload"]["reason"] == "voting_closed"
    opened = {json.dumps(o["value"], sort_keys=True) for o in reveal["payload"]["openings"]}
    assert len(opened) == len(seeded.battles) == len(stored)
    report = ledger.verify_bundle(after)
    assert report.ok, report.problems
    assert report.commitments_opened == len(seeded.battles) and report.commitments_sealed == 1  # aurora: private
    assert report.decisions_checked == 1

    # An altered opening (another team behind a battle) is caught even if the chain is rehashed around it.
    tampered_events = ledger.parse_bundle(after)[1]
    value = tampered_events[kinds.index("commitments.revealed")].payload["openings"][0]["value"]
    value["team_a"], value["team_b"] = value["team_b"], value["team_a"]
    rebuilt: list[ledger.Event] = []
    for event in tampered_events:
        previous = rebuilt[-1] if rebuilt else None
        rebuilt.append(ledger.make_event(previous, event.kind, event.recorded_at, event.payload))
    problems = [p.what for p in ledger.verify_events(SLUG, rebuilt, recompute_decisions=False).problems]
    assert any("does not match its commitment" in what for what in problems)
