"""Each role's workspace over HTTP, on SQLite and PostgreSQL: who sees what, CSRF, conflicts, and the actions."""

from __future__ import annotations

import re
from typing import Any

from tests.challenge.ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, make_world, submit_all

from baton.accounts import service as accounts
from baton.challenge import service
from baton.challenge.models import Team
from baton.core import clock
from baton.core.runtime import Runtime
from baton.hub import repos
from baton.hub.models import AccessRequest

from .sign_in_support import HTML, sign_in_with_token


def _sign_in(runtime: Runtime, client: Any, name: str, scopes: tuple[str, ...] = ("write",)) -> None:
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, name), name="web", scopes=scopes).value
    client.cookies.clear()  # another person in a fresh browser
    assert sign_in_with_token(client, token).status_code == 303


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_a_team_sees_only_its_own_workspace_and_edits_its_plan(runtime: Runtime, client: Any) -> None:
    world = make_world(runtime)
    submit_all(world)
    team_page = f"/challenges/{world.slug}/teams/team-a"

    anonymous = client.get(team_page, headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]

    _sign_in(runtime, client, "m-team-b")  # another team's member: the same 404 as a missing team
    assert client.get(team_page, headers=HTML).status_code == 404
    assert client.get(f"/challenges/{world.slug}/teams/nobody", headers=HTML).status_code == 404
    csrf = _csrf(client.get("/settings/work", headers=HTML).text)
    refused = client.post(
        f"{team_page}/release-plan",
        data={"csrf": csrf, "repos-0-repo": "org-team-b/model", "repos-0-kind": "model", "repos-0-license": "mit"},
        headers=HTML,
    )
    assert refused.status_code == 404
    with runtime.database.session() as session:
        assert service.release_plan(session, world.slug, "team-a")["repos"][0]["license"] == "apache-2.0"

    _sign_in(runtime, client, "m-team-a", scopes=("read",))  # a read-only sign-in reads, changes nothing
    page = client.get(team_page, headers=HTML)
    assert page.status_code == 200
    readonly = {"csrf": _csrf(page.text), "repos-0-repo": "org-team-a/model", "repos-0-kind": "model"}
    assert (
        client.post(f"{team_page}/release-plan", data=readonly | {"repos-0-license": "mit"}, headers=HTML).status_code
        == 403
    )

    _sign_in(runtime, client, "m-team-a")
    page = client.get(team_page, headers=HTML)
    assert page.status_code == 200
    assert "org-team-a/model" in page.text and "Team B" not in page.text
    assert 'id="plan-form"' in page.text
    csrf = _csrf(page.text)
    plan = {
        "repos-0-repo": "org-team-a/model",
        "repos-0-repo_type": "model",
        "repos-0-kind": "model",
        "repos-0-license": "mit",
        "repos-0-access": "gated",
        "repos-0-embargo_until": "",
        "repos-1-repo": "not a repo",
        "repos-1-repo_type": "model",
        "repos-1-kind": "report",
        "repos-1-license": "cc-by-4.0",
        "repos-1-access": "public",
        "repos-1-embargo_until": "soon",
    }
    # Without the page's CSRF value: refused, nothing recorded.
    assert client.post(f"{team_page}/release-plan", data=plan | {"csrf": "forged"}, headers=HTML).status_code == 403
    bad = client.post(f"{team_page}/release-plan", data=plan | {"csrf": csrf}, headers=HTML)
    assert bad.status_code == 400
    assert 'id="repos-1-repo-error"' in bad.text and 'id="repos-1-embargo_until-error"' in bad.text
    assert 'value="not a repo"' in bad.text and 'value="soon"' in bad.text  # typed values kept
    with runtime.database.session() as session:
        assert service.release_plan(session, world.slug, "team-a")["repos"][0]["license"] == "apache-2.0"
    good = plan | {"csrf": csrf, "repos-1-repo": "org-team-a/report", "repos-1-embargo_until": "2026-06-01"}
    # The page's empty row to add a repo: its selects still send their first choice; it is left out.
    good |= {"repos-2-repo": "", "repos-2-repo_type": "model", "repos-2-kind": "", "repos-2-license": ""}
    good |= {"repos-2-access": "public", "repos-2-embargo_until": ""}
    saved = client.post(f"{team_page}/release-plan", data=good, headers=HTML, follow_redirects=False)
    assert saved.status_code == 303
    with runtime.database.session() as session:
        repos = service.release_plan(session, world.slug, "team-a")["repos"]
    assert [(r["repo"], r["license"], r["access"]) for r in repos] == [
        ("org-team-a/model", "mit", "gated"),
        ("org-team-a/report", "cc-by-4.0", "public"),
    ]


def test_a_team_files_an_appeal_in_the_window_only(runtime: Runtime, client: Any) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    _sign_in(runtime, client, "m-team-a")
    team_page = f"/challenges/{world.slug}/teams/team-a"
    page = client.get(team_page, headers=HTML)
    assert 'id="no-appeal-window"' in page.text  # not decided yet
    csrf = _csrf(page.text)
    early = client.post(f"{team_page}/appeals", data={"csrf": csrf, "stage": "stage-1", "text": "x"}, headers=HTML)
    assert early.status_code == 409 or early.status_code == 400
    assert 'id="appeal-error"' in early.text
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    with clock.frozen(AFTER_DEADLINE):
        page = client.get(team_page, headers=HTML)
        assert 'id="appeal-form"' in page.text
        filed = client.post(
            f"{team_page}/appeals",
            data={"csrf": csrf, "stage": "stage-1", "text": "The review of our logs missed the appendix."},
            headers=HTML,
            follow_redirects=False,
        )
    assert filed.status_code == 303
    with runtime.database.session() as session:
        (appeal,) = service.list_appeals(session, world.slug)
    assert appeal["team"] == "team-a" and appeal["filed_by"] == "m-team-a"

    # The operator answers it from the console; the team sees the answer.
    answer = f"/admin/challenges/{world.slug}/appeals/{appeal['id']}/answer"
    assert client.post(answer, data={"csrf": csrf, "answer": "No."}, headers=HTML).status_code == 404  # a member
    _sign_in(runtime, client, "op")
    console = client.get(f"/admin/challenges/{world.slug}", headers=HTML)
    assert f'id="answer-appeal-{appeal["id"]}"' in console.text
    csrf = _csrf(console.text)
    empty = client.post(answer, data={"csrf": csrf, "answer": " "}, headers=HTML)
    assert empty.status_code == 400
    answered = client.post(
        answer, data={"csrf": csrf, "answer": "Both reviewers read the appendix."}, headers=HTML, follow_redirects=False
    )
    assert answered.status_code == 303
    # Its window closed and its appeal answered, the decision is made final from the console.
    finalized = client.post("/admin/finalize", data={"csrf": csrf}, headers=HTML, follow_redirects=False)
    assert finalized.status_code == 303
    with runtime.database.session() as session:
        assert service.decision_record(session, world.slug, "stage-1")["final"] is True
    _sign_in(runtime, client, "m-team-a")
    page = client.get(team_page, headers=HTML)
    assert "Both reviewers read the appendix." in page.text and 'id="appeal-form"' not in page.text
    assert client.post("/admin/finalize", data={"csrf": _csrf(page.text)}, headers=HTML).status_code == 404


def test_a_reviewer_scores_an_assignment_and_a_conflict_is_refused(runtime: Runtime, client: Any) -> None:
    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        operator = world.op(session)
        for team in ("team-a", "team-b"):
            service.assign_reviewer(
                session, world.slug, "stage-1", team, accounts.get_account(session, "rev1"), operator=operator
            )
        # rev1 joins team-b's organization after being assigned: a conflict of interest.
        org = accounts.get_account(session, "org-team-b")
        accounts.set_membership(session, org, accounts.get_account(session, "rev1"), "read")
    review = f"/challenges/{world.slug}/stages/stage-1/review"

    _sign_in(runtime, client, "rev2")  # no assignment: sees none, cannot score
    page = client.get(review, headers=HTML)
    assert 'id="no-assignments"' in page.text
    refused = client.post(
        f"{review}/team-a", data={"csrf": _csrf(page.text), "score-report": "5", "score-logs": "5"}, headers=HTML
    )
    assert refused.status_code == 403

    _sign_in(runtime, client, "rev1")
    page = client.get(review, headers=HTML)
    assert 'id="conflict-team-b"' in page.text and 'id="submit-team-b"' not in page.text
    csrf = _csrf(page.text)
    conflicted = client.post(
        f"{review}/team-b", data={"csrf": csrf, "score-report": "5", "score-logs": "5"}, headers=HTML
    )
    assert conflicted.status_code == 403
    too_high = client.post(
        f"{review}/team-a", data={"csrf": csrf, "score-report": "11", "score-logs": "5", "comment": "ok"}, headers=HTML
    )
    assert too_high.status_code == 400 and 'value="11"' in too_high.text
    assert (
        client.post(
            f"{review}/team-a", data={"csrf": "x", "score-report": "5", "score-logs": "5"}, headers=HTML
        ).status_code
        == 403
    )
    done = client.post(
        f"{review}/team-a",
        data={"csrf": csrf, "score-report": "7", "score-logs": "8.5", "comment": "Clear logs."},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    with runtime.database.session() as session:
        reviews = service.state_of(session, service.get_challenge(session, world.slug)).stage_data("stage-1").reviews
    assert [(team, payload["scores"]) for (_c, team, _r), payload in reviews.items()] == [
        ("team-a", {"report": 7.0, "logs": 8.5})
    ]


def test_the_operator_console_is_for_operators_only(runtime: Runtime, client: Any) -> None:
    world = make_world(runtime)
    submit_all(world)
    console = f"/admin/challenges/{world.slug}"
    override = f"{console}/stages/stage-1/gates/independence/override"
    _sign_in(runtime, client, "m-team-a")
    assert client.get("/admin", headers=HTML).status_code == 404
    assert client.get(console, headers=HTML).status_code == 404
    csrf = _csrf(client.get("/settings/work", headers=HTML).text)
    data = {"csrf": csrf, "team": "team-a", "outcome": "pass", "reason": "Checked by hand, independent."}
    assert client.post(override, data=data, headers=HTML).status_code == 404

    _sign_in(runtime, client, "op")
    page = client.get(console, headers=HTML)
    assert page.status_code == 200 and 'class="override-form"' in page.text
    csrf = _csrf(page.text)
    assert client.post(override, data=data | {"csrf": "forged"}, headers=HTML).status_code == 403
    short = client.post(override, data=data | {"csrf": csrf, "reason": "ok"}, headers=HTML)
    assert short.status_code == 400 and "written reason" in short.text
    done = client.post(override, data=data | {"csrf": csrf}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303
    with runtime.database.session() as session:
        challenge = service.get_challenge(session, world.slug)
        team = session.query(Team).filter_by(challenge_id=challenge.id, slug="team-a").one()
        standing = service.gate_standing(session, challenge, "stage-1", "independence", team)
    assert standing is not None and standing.source == "override" and standing.operator == "op"
    unconfirmed = client.post(f"{console}/stages/stage-1/decide", data={"csrf": csrf}, headers=HTML)
    assert unconfirmed.status_code == 400
    with clock.frozen(BEFORE_DEADLINE):
        early = client.post(f"{console}/stages/stage-1/decide", data={"csrf": csrf, "confirm": "yes"}, headers=HTML)
    assert early.status_code == 409 and 'id="operator-error"' in early.text
    assert "decide after the deadline" in early.text


def test_the_operator_answers_a_gated_access_request_from_the_console(runtime: Runtime, client: Any) -> None:
    make_world(runtime)
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "org-team-a/model"))
        assert repo is not None
        repo.gated = "manual"
        request = repos.request_access(session, accounts.act_as(session, "voter1"), repo, {})
        request_id = request.id
    _sign_in(runtime, client, "m-team-b")
    csrf = _csrf(client.get("/settings/work", headers=HTML).text)
    answer = f"/admin/access-requests/{request_id}"
    assert client.post(answer, data={"csrf": csrf, "status": "accepted"}, headers=HTML).status_code == 404

    _sign_in(runtime, client, "op")
    page = client.get("/admin", headers=HTML)
    assert f'data-request="{request_id}"' in page.text and "voter1" in page.text
    csrf = _csrf(page.text)
    assert client.post(answer, data={"csrf": "forged", "status": "accepted"}, headers=HTML).status_code == 403
    done = client.post(answer, data={"csrf": csrf, "status": "accepted"}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303
    with runtime.database.session() as session:
        assert session.get(AccessRequest, request_id).status == "accepted"
    assert f'data-request="{request_id}"' not in client.get("/admin", headers=HTML).text


PANEL_SPEC = """challenge: panel-web
title: Panel challenge
timezone: Asia/Seoul
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 2
    criteria:
      - {id: bench, kind: benchmark, weight: 75, tasks: [t1]}
      - {id: users, kind: panel, weight: 25, scale: {min: 1, max: 5}, items: 2}
    gates: [{id: independence, kind: independence}]
"""


def test_a_panel_rater_rates_and_declares_a_conflict(runtime: Runtime, client: Any) -> None:
    world = make_world(runtime, spec=PANEL_SPEC)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        service.assign_raters(
            session, world.slug, "stage-1", [accounts.get_account(session, "rev1")], operator=world.op(session)
        )
    review = f"/challenges/{world.slug}/stages/stage-1/review"
    _sign_in(runtime, client, "rev2")  # not a rater: no form, a rating is refused
    page = client.get(review, headers=HTML)
    assert 'id="no-assignments"' in page.text
    refused = client.post(
        f"/challenges/{world.slug}/stages/stage-1/panel/users/team-a",
        data={"csrf": _csrf(page.text), "item": "1", "dim-score": "4"},
        headers=HTML,
    )
    assert refused.status_code == 403

    _sign_in(runtime, client, "rev1")
    assert 'class="review-link"' in client.get("/settings/work", headers=HTML).text
    page = client.get(review, headers=HTML)
    assert 'id="rate-users-team-a"' in page.text and "Items rated: 0 of 2" in client.get(f"{review}?lang=en").text
    csrf = _csrf(page.text)
    rate = f"/challenges/{world.slug}/stages/stage-1/panel/users/team-a"
    off_scale = client.post(rate, data={"csrf": csrf, "item": "1", "dim-score": "9"}, headers=HTML)
    assert off_scale.status_code == 400 and 'value="9"' in off_scale.text
    assert client.post(rate, data={"csrf": "x", "item": "1", "dim-score": "4"}, headers=HTML).status_code == 403
    done = client.post(rate, data={"csrf": csrf, "item": "2", "dim-score": "4"}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303
    assert "Items rated: 1 of 2" in client.get(f"{review}?lang=en", headers=HTML).text

    declared = client.post(
        f"/challenges/{world.slug}/stages/stage-1/panel-conflicts/team-b",
        data={"csrf": csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert declared.status_code == 303
    page = client.get(review, headers=HTML)
    assert 'id="panel-conflict-team-b"' in page.text and 'id="rate-users-team-b"' not in page.text
    conflicted = client.post(
        f"/challenges/{world.slug}/stages/stage-1/panel/users/team-b",
        data={"csrf": csrf, "item": "1", "dim-score": "3"},
        headers=HTML,
    )
    assert conflicted.status_code == 403
    with runtime.database.session() as session:
        ratings = service.state_of(session, service.get_challenge(session, world.slug)).stage_data("stage-1").ratings
    assert [(team, item) for (team, item, _rater) in ratings["users"]] == [("team-a", "2")]
