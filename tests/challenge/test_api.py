"""The HTTP API for every role, with role checks, through a two-stage challenge with a repechage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from baton.accounts import service as accounts
from baton.challenge import ledger
from baton.core import clock
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, make_people, make_repo

TWO_STAGES = """\
challenge: api-challenge
title: API challenge
timezone: Asia/Seoul
appeal_days: 3
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 1
    seed: 11
    criteria:
      - {id: bench, kind: benchmark, weight: 60, tasks: [t1]}
      - {id: review, kind: review, weight: 20, rubric: [{id: report, max: 10}]}
      - {id: arena, kind: arena, weight: 20, bootstrap_rounds: 20}
    gates: [{id: independence}]
  - id: stage-2
    deadline: 2026-04-10T18:00:00+09:00
    teams: 2
    advance: 1
    repechage: 1
    seed: 12
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
"""


def tokens_for(runtime: Runtime, names: list[str]) -> dict[str, dict[str, str]]:
    headers = {}
    with runtime.database.session(write=True) as session:
        for name in names:
            token = accounts.issue_token(session, accounts.get_account(session, name)).value
            headers[name] = {"Authorization": f"Bearer {token}"}
    return headers


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_roles_and_a_two_stage_challenge_with_repechage(runtime: Runtime, client: httpx.Client) -> None:
    teams = ["team-a", "team-b", "team-c", "team-d"]
    make_people(runtime, teams)
    h = tokens_for(runtime, ["op", "rev1", "voter1", *[f"m-{t}" for t in teams]])
    base = "/api/challenges/api-challenge"
    with clock.frozen(BEFORE_DEADLINE) as now:
        # Only operators define challenges; a broken YAML is refused with its line.
        assert client.post("/api/challenges", json={"yaml": TWO_STAGES}, headers=h["m-team-a"]).status_code == 403
        bad = client.post(
            "/api/challenges", json={"yaml": TWO_STAGES.replace("weight: 60", "weight: 61")}, headers=h["op"]
        )
        assert bad.status_code == 400 and "line 11" in bad.json()["message"]
        created = ok(client.post("/api/challenges", json={"yaml": TWO_STAGES}, headers=h["op"]), 201)
        assert created["events"] == 1
        for team in teams[:3]:
            ok(
                client.post(
                    f"{base}/teams",
                    headers=h["op"],
                    json={
                        "team": team,
                        "organizations": [f"org-{team}"],
                        "members": [f"m-{team}"],
                        "release_plan": {"repos": [{"repo": f"org-{team}/model", "kind": "model", "license": "mit"}]},
                    },
                ),
                201,
            )
            make_repo(runtime, f"m-{team}", f"org-{team}", "model")
        # A team member submits for their team only.
        refused = client.post(
            f"{base}/stages/stage-1/submissions",
            headers=h["m-team-b"],
            json={"team": "team-a", "repo": "org-team-a/model"},
        )
        assert refused.status_code == 403
        models = {}
        for team in teams[:3]:
            body = ok(
                client.post(
                    f"{base}/stages/stage-1/submissions",
                    headers=h[f"m-{team}"],
                    json={"team": team, "repo": f"org-{team}/model"},
                ),
                201,
            )
            models[team] = body["model"]
        plan = ok(
            client.put(
                f"{base}/teams/team-a/release-plan",
                headers=h["m-team-a"],
                json={
                    "repos": [{"repo": "org-team-a/model", "kind": "model", "license": "apache-2.0", "access": "gated"}]
                },
            )
        )
        assert plan["repos"][0]["access"] == "gated"
        assert client.put(f"{base}/teams/team-a/release-plan", headers=h["m-team-b"], json={}).status_code == 403
        for index, team in enumerate(teams[:3]):
            ok(
                client.post(
                    f"{base}/stages/stage-1/scores",
                    headers=h["op"],
                    json={"task": "t1", "model": models[team], "score": 0.5 + index / 10, "stderr": 0.01},
                ),
                201,
            )
            ok(
                client.post(
                    f"{base}/stages/stage-1/reviewers", headers=h["op"], json={"team": team, "reviewer": "rev1"}
                ),
                201,
            )
            ok(
                client.post(
                    f"{base}/stages/stage-1/gates/independence/override",
                    headers=h["op"],
                    json={"team": team, "outcome": "pass", "reason": "Checked by the panel: independent."},
                )
            )
        assert (
            client.post(
                f"{base}/stages/stage-1/scores",
                headers=h["rev1"],
                json={"task": "t1", "model": models["team-a"], "score": 1},
            ).status_code
            == 403
        )
        mine = ok(client.get(f"{base}/stages/stage-1/assignments", headers=h["rev1"]))
        assert [t["team"] for t in mine["teams"]] == teams[:3] and mine["rubric"][0]["id"] == "report"
        for index, team in enumerate(teams[:3]):
            ok(
                client.post(
                    f"{base}/stages/stage-1/reviews",
                    headers=h["rev1"],
                    json={"team": team, "scores": {"report": 5 + index}},
                ),
                201,
            )
        assert (
            client.post(
                f"{base}/stages/stage-1/reviews", headers=h["voter1"], json={"team": "team-a", "scores": {"report": 9}}
            ).status_code
            == 403
        )
        for k in range(6):
            ok(
                client.post(
                    f"{base}/stages/stage-1/battles",
                    headers=h["op"],
                    json={
                        "prompt": f"q{k}",
                        "team_a": "team-c",
                        "team_b": ["team-a", "team-b"][k % 2],
                        "answer_a": "first",
                        "answer_b": "second",
                    },
                ),
                201,
            )
        seen = ok(client.get(f"{base}/stages/stage-1/battles/next", headers=h["voter1"]))
        assert set(seen) == {"battle", "stage", "prompt", "answer_a", "answer_b"}  # blind: no teams
        ok(
            client.post(
                f"{base}/stages/stage-1/votes", headers=h["voter1"], json={"battle": seen["battle"], "choice": "a"}
            ),
            201,
        )
        wrong = client.post(
            f"{base}/stages/stage-1/votes", headers=h["voter1"], json={"battle": seen["battle"], "choice": "team-d"}
        )
        # Blind: a vote names an answer, never a model; the refusal names no team (item 4 of issue 12).
        assert wrong.status_code == 400 and wrong.json()["error"] == "InvalidVote"
        assert not {"team-a", "team-b", "team-c", "team-d"} & set(wrong.text.replace('"', " ").split())
        early = client.post(f"{base}/stages/stage-1/decision", headers=h["op"])
        assert early.status_code == 409 and "decide after the deadline" in early.json()["message"]

        now.set(AFTER_DEADLINE)
        assert client.post(f"{base}/stages/stage-1/decision", headers=h["m-team-c"]).status_code == 403
        record = ok(client.post(f"{base}/stages/stage-1/decision", headers=h["op"]), 201)
        assert record["advance"] == ["team-c"] and record["seed"] == 11
        appeal = ok(
            client.post(
                f"{base}/stages/stage-1/appeals",
                headers=h["m-team-b"],
                json={"team": "team-b", "text": "Please recount."},
            ),
            201,
        )
        now.advance(timedelta(days=4))
        assert ok(client.get(f"{base}/stages/stage-1/decision"))["final"] is False  # an appeal is open
        ok(
            client.post(
                f"{base}/appeals/{appeal['id']}/answer",
                headers=h["op"],
                json={"answer": "Recounted; unchanged.", "upheld": False},
            )
        )
        # Changed on purpose (issue 13): reads never make a decision final; the operator (or the sweep) does.
        assert ok(client.get(f"{base}/stages/stage-1/decision"))["final"] is False
        done = ok(client.post("/api/challenges/finalize", headers=h["op"]))
        assert done["finalized"] and done["finalized"][0]["stage"] == "stage-1"
        decision = ok(client.get(f"{base}/stages/stage-1/decision"))
        assert decision["final"] is True and decision["appeals"][0]["upheld"] is False
        statuses = {t["team"]: t["status"] for t in ok(client.get(f"{base}/teams"))}
        assert statuses == {"team-a": "eliminated", "team-b": "eliminated", "team-c": "active"}

        # Repechage: a new team enters stage 2 beside the one that advanced.
        ok(
            client.post(
                f"{base}/teams",
                headers=h["op"],
                json={"team": "team-d", "organizations": ["org-team-d"], "members": ["m-team-d"], "stage": "stage-2"},
            ),
            201,
        )
        again = client.post(
            f"{base}/teams",
            headers=h["op"],
            json={"team": "team-e", "organizations": ["org-team-d"], "stage": "stage-2"},
        )
        assert again.status_code == 409 and "repechage" in again.json()["message"]
        info = ok(client.get(base))
        assert info["stages"][1]["teams"] == ["team-c", "team-d"]
        make_repo(runtime, "m-team-d", "org-team-d", "model")
        for index, team in enumerate(["team-c", "team-d"]):
            model = ok(
                client.post(
                    f"{base}/stages/stage-2/submissions",
                    headers=h[f"m-{team}"],
                    json={"team": team, "repo": f"org-{team}/model"},
                ),
                201,
            )["model"]
            ok(
                client.post(
                    f"{base}/stages/stage-2/scores",
                    headers=h["op"],
                    json={"task": "t1", "model": model, "score": 0.6 + index / 10},
                ),
                201,
            )
        now.set(AFTER_DEADLINE + timedelta(days=100))
        final = ok(client.post(f"{base}/stages/stage-2/decision", headers=h["op"]), 201)
        assert final["advance"] == ["team-d"] and final["last_stage"] is True
        now.advance(timedelta(days=4))
        done = ok(client.post("/api/challenges/finalize", headers=h["op"]))
        assert done["finalized"] == [{"challenge": "api-challenge", "stage": "stage-2"}]
    statuses = {t["team"]: t["status"] for t in ok(client.get(f"{base}/teams"))}
    assert statuses["team-c"] == "eliminated" and statuses["team-d"] == "ended"
    bundle = client.get(f"{base}/ledger")
    assert bundle.headers["content-type"].startswith("application/x-ndjson")
    head = ok(client.get(base))["head"]
    report = ledger.verify_bundle(bundle.text, head)
    assert report.ok and report.decisions_checked == 2
    assert ok(client.get(f"{base}/verify", params={"head": head}))["ok"] is True
    assert client.get(f"{base}/verify", params={"head": "nope"}).status_code == 400
    assert client.get("/api/challenges/nope").json()["error"] == "ChallengeNotFound"
