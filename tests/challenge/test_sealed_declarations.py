"""Issue 12, item 12 for what teams declare: release plans, release actions and target models.

Team orion's release plan names its model and a dataset, both private while it competes, and both
teams declare a private target model (another lab's, pinned at a commit). The public ledger
(``team.entered``, ``release_plan.filed``, release actions) and every public response (the teams,
a team's release plan, the commons catalogue and its page) name those repos by pseudonym and
commitment, while the team and operators see the names. When the release makes orion's model public
the ledger opens its earlier sealed mentions; the dataset, held for personal data, stays sealed;
the target model, made public after the last finality, is opened by ``baton challenge reveal``, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.challenge import ledger, service
from baton.cli.main import app as cli
from baton.commons import catalogue
from baton.core import clock
from baton.core import events as domain_events
from baton.core.runtime import Runtime
from baton.core.sealing import Sealed
from baton.core.settings import Settings
from baton.hub import commits
from commons.release_fixtures import get, make_repo, weights

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, headers, spec_yaml

STAGE = "stage-1"
# One stage, two teams, one advances; the benchmark is scored against the declared target model.
SPEC = spec_yaml(
    slug="sealed-plans",
    teams=2,
    advance=1,
    appeal_days=2,
    benchmark_only=True,
    normalization="ratio_to_target",
    weights=(100, 0, 0),
)
SLUG = "sealed-plans"
MODEL = "orion-lab/stealth-model"  # orion's model, private until its release
DATA = "orion-lab/contacts"  # orion's dataset, private and held for personal data
TARGET = "mentor-lab/teacher"  # the target model both teams declare, private to another lab
OPEN = "nova-lab/open-model"  # nova's model, public all along
PERSONAL = "name,phone\n김민지,010-2345-6789\n".encode()
BASE = f"/api/challenges/{SLUG}"


def _people(runtime: Runtime) -> None:
    with runtime.database.session(write=True) as session:
        operator = accounts.create_user(session, "op", is_admin=True)
        accounts.create_user(session, "outsider")
        for person, org in (("m-orion", "orion-lab"), ("m-nova", "nova-lab"), ("mentor", "mentor-lab")):
            account = accounts.create_user(session, person)
            accounts.set_membership(
                session, accounts.create_organization(session, org, creator=operator), account, "write"
            )


def _head(runtime: Runtime, repo_type: str, repo_id: str) -> str:
    with runtime.database.session() as session:
        return commits.resolve_revision(session, get(session, repo_type, repo_id), None).oid


@dataclass
class World:
    hidden: dict[str, str]  # what the public must not learn while it is private: label -> text
    clock: clock.ManualClock  # frozen before the deadline; the tests move it on

    def leaks(self, text: str, *labels: str) -> list[str]:
        """Which of the hidden things (``labels``, or all) ``text`` gives away."""
        return [label for label in labels or tuple(self.hidden) if self.hidden[label] in text]


@pytest.fixture
def world(runtime: Runtime, client: httpx.Client) -> Iterator[World]:
    """The challenge, with both teams entered (declaring the private target) and their models submitted."""
    _people(runtime)
    card = {"license": "apache-2.0"}
    make_repo(runtime, "model", MODEL, {"model.safetensors": weights(1)}, card=card, author="m-orion")
    make_repo(runtime, "dataset", DATA, {"contacts.csv": PERSONAL}, card={"license": "cc0-1.0"}, author="m-orion")
    make_repo(runtime, "model", TARGET, {"model.safetensors": weights(2)}, card=card, author="mentor")
    make_repo(runtime, "model", OPEN, {"model.safetensors": weights(3)}, card=card, private=False, author="m-nova")
    target = f"{TARGET}@{_head(runtime, 'model', TARGET)}"
    plans = {
        "orion": [
            {"repo": MODEL, "kind": "model", "license": "apache-2.0"},
            {"repo": DATA, "repo_type": "dataset", "kind": "dataset", "license": "cc0-1.0"},
        ],
        "nova": [{"repo": OPEN, "kind": "model", "license": "apache-2.0"}],
    }
    with clock.frozen(BEFORE_DEADLINE) as now:
        with runtime.database.session(write=True) as session:
            operator = accounts.act_as(session, "op")
            service.create_challenge(session, SPEC, operator=operator)
            for team, repo in (("orion", MODEL), ("nova", OPEN)):
                service.enter_team(
                    session,
                    SLUG,
                    service.TeamEntry(
                        team=team,
                        name=team.title(),
                        organizations=[f"{team}-lab"],
                        members=[f"m-{team}"],
                        target_models=[target],
                        release_plan={"repos": plans[team]},
                    ),
                    operator=operator,
                )
                member = accounts.act_as(session, f"m-{team}")
                service.submit(session, SLUG, STAGE, team, repo=repo, user=member)
        hidden = {
            "model": MODEL,
            "model commit": _head(runtime, "model", MODEL),
            "dataset": DATA,
            "dataset commit": _head(runtime, "dataset", DATA),
            "target": TARGET,
            "target commit": target.split("@")[1],
        }
        yield World(hidden, now)


def events(runtime: Runtime, kind: str) -> list[dict[str, Any]]:
    with runtime.database.session() as session:
        return [event["payload"] for event in service.ledger_events(session, SLUG) if event["kind"] == kind]


def _finish(runtime: Runtime, world: World) -> dict[str, Any]:
    """Scores (the target model's by its real name), the decision, and its finality with the releases."""
    target = f"{world.hidden['target']}@{world.hidden['target commit']}"
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        for team, score in (("orion", 0.3), ("nova", 0.6)):
            (submission,) = [s for t, s in service.list_submissions(session, SLUG, STAGE) if t.slug == team]
            model = f"{submission.repo_name}@{submission.commit_oid}"
            for task in ("t1", "t2"):
                service.record_score(
                    session, SLUG, STAGE, service.BenchmarkScore(task=task, model=model, score=score), operator=operator
                )
            reason = "No comparable model in the hub; checked by hand."
            service.override_gate(session, SLUG, STAGE, team, outcome="pass", reason=reason, operator=operator)
        for task in ("t1", "t2"):
            recorded = service.record_score(
                session, SLUG, STAGE, service.BenchmarkScore(task=task, model=target, score=0.8), operator=operator
            )
            assert not world.leaks(json.dumps(recorded))
    world.clock.set(AFTER_DEADLINE)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, SLUG, STAGE, operator=accounts.act_as(session, "op"))
    world.clock.set(AFTER_DEADLINE + timedelta(days=3))
    with runtime.database.session(write=True) as session:
        assert service.finalize_due(session) == [(SLUG, STAGE)]
    domain_events.drain(runtime)  # the exits' release plans, as a worker would run them
    return record


def test_private_repos_a_team_declares_are_sealed_in_public(
    runtime: Runtime, client: httpx.Client, world: World
) -> None:
    # The ledger: team.entered seals the plan's private repos (a commitment to the repo alone) and the
    # pinned private target (a commitment to the repo and commit); the public repo is named.
    bundle = client.get(f"{BASE}/ledger").text
    assert not world.leaks(bundle), world.leaks(bundle)
    entered = {payload["team"]: payload for payload in events(runtime, "team.entered")}
    model_entry, data_entry = entered["orion"]["release_plan"]["repos"]
    assert "repo" not in model_entry and model_entry["kind"] == "model" and model_entry["license"] == "apache-2.0"
    assert model_entry["sealed"]["pseudonym"].startswith("model-") and data_entry["sealed"]["commitment"]
    assert entered["nova"]["release_plan"]["repos"][0]["repo"] == OPEN
    (label,) = entered["orion"]["target_models"]
    assert Sealed.from_label(label) is not None and entered["nova"]["target_models"] == [label]
    with runtime.database.session() as session:  # the orion model's plan entry and submission: one pseudonym
        (submission,) = [s for t, s in service.list_submissions(session, SLUG, STAGE) if t.slug == "orion"]
        sealed = service.submission_sealed(session, submission)
    assert sealed is not None and sealed.pseudonym == model_entry["sealed"]["pseudonym"]
    assert sealed.commitment != model_entry["sealed"]["commitment"]  # a pinned revision, the repo alone

    # The API: sealed for the public, other teams and voters, exactly as the ledger seals it ...
    for who in (None, "outsider", "m-nova"):
        auth = headers(runtime, who) if who else {}
        # (nova's member sees nova's own declaration of the target by name in the list of teams)
        for path in ("teams/orion", "teams/orion/release-plan", *(("teams",) if who != "m-nova" else ())):
            response = client.get(f"{BASE}/{path}", headers=auth)
            assert response.status_code == 200 and not world.leaks(response.text), (who, path, response.text)
        orion = client.get(f"{BASE}/teams/orion", headers=auth).json()
        assert [entry["repo"] for entry in orion["release_plan"]["repos"]] == [None, None]
        assert [entry["sealed"] for entry in orion["release_plan"]["repos"]] == [
            model_entry["sealed"],
            data_entry["sealed"],
        ]
        assert orion["target_models"] == [label]
    # ... and named for the team (its members declared them) and operators.
    for who in ("m-orion", "op"):
        orion = client.get(f"{BASE}/teams/orion", headers=headers(runtime, who)).json()
        assert [entry["repo"] for entry in orion["release_plan"]["repos"]] == [MODEL, DATA]
        assert orion["target_models"] == [f"{TARGET}@{world.hidden['target commit']}"]
        plan = client.get(f"{BASE}/teams/orion/release-plan", headers=headers(runtime, who)).json()
        assert [entry["repo"] for entry in plan["repos"]] == [MODEL, DATA]

    # A plan filed again is sealed the same way; the member who files it gets the names back.
    filed = client.put(
        f"{BASE}/teams/orion/release-plan",
        headers=headers(runtime, "m-orion"),
        json={"repos": [{"repo": MODEL, "kind": "model", "license": "mit", "access": "gated"}]},
    )
    assert filed.status_code == 200 and filed.json()["repos"][0]["repo"] == MODEL
    (payload,) = events(runtime, "release_plan.filed")
    assert payload["plan"]["repos"][0]["sealed"] == model_entry["sealed"]  # one commitment per repo
    assert not world.leaks(client.get(f"{BASE}/ledger").text)
    assert ledger.verify_bundle(client.get(f"{BASE}/ledger").text).ok


def test_a_release_opens_the_sealed_mentions_of_the_repo_it_makes_public(
    runtime: Runtime, client: httpx.Client, world: World
) -> None:
    record = _finish(runtime, world)
    # The target's score was recorded under the name team.entered gave it, so the decision finds it.
    targets = {row["team"]: row["criteria"]["bench"]["detail"]["tasks"]["t1"] for row in record["teams"]}
    assert {team: task["target_score"] for team, task in targets.items()} == {"orion": 0.8, "nova": 0.8}
    assert record["eliminated"] == ["orion"]

    # The release made orion's model public: named from then on, and its earlier mentions opened.
    bundle = client.get(f"{BASE}/ledger").text
    assert MODEL in bundle and not world.leaks(bundle, "dataset", "dataset commit", "target", "target commit")
    actions = events(runtime, "release.action")
    assert any(action["action"] == "released" and action["repo"] == f"model:{MODEL}" for action in actions)
    held = next(action for action in actions if action["team"] == "orion" and action["action"] == "held")
    assert held["repo"].startswith("dataset:model-") and Sealed.from_label(held["repo"].split(":", 1)[1])
    released = [payload for payload in events(runtime, "commitments.revealed") if payload["reason"] == "released"]
    opened = {opening["commitment"]: opening["value"] for payload in released for opening in payload["openings"]}
    assert {value["repo"] for value in opened.values()} == {MODEL}
    entered = {payload["team"]: payload for payload in events(runtime, "team.entered")}
    plan_entry = entered["orion"]["release_plan"]["repos"][0]["sealed"]
    assert opened[plan_entry["commitment"]] == {"repo": MODEL, "repo_type": "model"}  # links the plan ...
    (submitted,) = [s for s in events(runtime, "submission.made") if s["team"] == "orion"]
    assert (
        opened[submitted["sealed"]["commitment"]]["revision"] == world.hidden["model commit"]
    )  # ... and the submission

    # verify checks each opening and counts what stays sealed: the held dataset and the target model.
    report = ledger.verify_bundle(bundle)
    assert report.ok, report.problems
    with runtime.database.session() as session:
        kept = [opening for opening in service.openings(session, SLUG) if opening["kind"] in ("model", "repo")]
    still = [opening for opening in kept if opening["revealed_seq"] is None]
    assert {opening["value"]["repo"] for opening in still} == {DATA, TARGET}
    assert report.commitments_sealed == len(still) and report.commitments_opened == len(kept) - len(still)

    # The commons: the held dataset is sealed to the public, named to its team and to operators.
    for who in (None, "outsider"):
        auth = headers(runtime, who) if who else {}
        listed = client.get("/api/commons", headers=auth)
        assert listed.status_code == 200 and not world.leaks(listed.text, "dataset", "dataset commit")
        (orion,) = [team for team in listed.json()["teams"] if team["team"] == "orion"]
        model, data = orion["assets"]
        assert model["repo"] == MODEL and model["state"] == "released"
        assert data["repo"] is None and data["state"] == "held" and data["checked_commit"] is None
        assert data["sealed"] == entered["orion"]["release_plan"]["repos"][1]["sealed"]
        teams = client.get(f"{BASE}/teams/orion", headers=auth).json()  # the plan names the released model now
        assert [entry["repo"] for entry in teams["release_plan"]["repos"]] == [MODEL, None]
    for lang, words in (("ko", "비공개 저장소"), ("en", "private repo")):
        page = client.get(f"/commons?lang={lang}")
        assert page.status_code == 200 and words in page.text and DATA not in page.text
    with runtime.database.session() as session:
        for who in ("op", "m-orion"):
            data = catalogue.catalogue(session, accounts.act_as(session, who), challenge=SLUG)
            names = {asset["repo"] for team in data["teams"] for asset in team["assets"]}
            assert DATA in names, who


def test_reveal_opens_a_repo_made_public_after_the_last_finality_once(
    runtime: Runtime,
    client: httpx.Client,
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _finish(runtime, world)
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.resolved_database_url)
    runner = CliRunner()
    reveal = ["challenge", "reveal", SLUG, "--data-dir", str(settings.data_dir)]

    def last_seq() -> int:
        with runtime.database.session() as session:
            return service.get_challenge(session, SLUG).last_seq

    before = last_seq()
    idle = runner.invoke(cli, [*reveal, "--as", "op"])  # the target is still private: nothing to open
    assert idle.exit_code == 0 and "nothing to reveal" in idle.output and last_seq() == before

    with runtime.database.session(write=True) as session:
        get(session, "model", TARGET).private = False
    refused = runner.invoke(cli, [*reveal, "--as", "outsider"])
    assert refused.exit_code == 2 and "operator" in refused.output and last_seq() == before
    done = runner.invoke(cli, [*reveal, "--as", "op"])
    assert done.exit_code == 0 and TARGET in done.output, done.output
    (made_public,) = [
        payload for payload in events(runtime, "commitments.revealed") if payload["reason"] == "made_public"
    ]
    assert made_public["operator"] == "op"
    assert [opening["value"] for opening in made_public["openings"]] == [
        {"repo": TARGET, "repo_type": "model", "revision": world.hidden["target commit"]}
    ]
    (label,) = {payload["team"]: payload for payload in events(runtime, "team.entered")}["orion"]["target_models"]
    assert made_public["openings"][0]["commitment"] == label.split("@")[1]  # the declared target, linked

    again = runner.invoke(cli, [*reveal])  # idempotent (and the local operator needs no --as)
    assert again.exit_code == 0 and "nothing to reveal" in again.output and last_seq() == before + 1
    report = ledger.verify_bundle(client.get(f"{BASE}/ledger").text)
    assert report.ok and report.commitments_sealed == 2, report  # the held dataset: the repo and its checked commit
