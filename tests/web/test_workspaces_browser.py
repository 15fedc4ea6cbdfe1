"""Each role's main flow in Debian's Chromium against a real server (one flow per role, SQLite only: the
HTTP tests in test_workspaces.py cover both databases): a voter votes by keyboard and sees who was who once
voting closes; a reviewer scores and is refused where conflicted; an operator overrides a gate with a reason
and the report shows it; a team edits its release plan and files an appeal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.challenge.ce_support import feed_inputs, make_world, submit_all

from baton.accounts import service as accounts
from baton.challenge import service
from baton.challenge.models import Vote
from baton.core.runtime import Runtime

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def _sign_in(runtime: Runtime, browser: Any, server: str, name: str) -> Any:
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, name), name="browser").value
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{server}/login?lang=en")
    page.click("#token-sign-in summary")
    page.fill("#token", token)
    page.click("#sign-in-token")
    page.wait_for_selector("#viewer")
    return page


def test_a_voter_votes_by_keyboard_and_sees_who_was_who_after_voting_closes(
    runtime: Runtime, live_server: Any, browser: Any
) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    with runtime.database.session(write=True) as session:
        accounts.create_user(session, "judge")
        for k, (team_a, team_b) in enumerate([("team-a", "team-b"), ("team-c", "team-a")]):
            service.create_battle(
                session,
                world.slug,
                "stage-1",
                service.NewBattle(
                    prompt=f"질문 {k}", team_a=team_a, team_b=team_b, answer_a=f"첫째 {k}", answer_b=f"둘째 {k}"
                ),
                operator=world.op(session),
            )
    page = _sign_in(runtime, browser, live_server.url, "judge")
    page.goto(f"{live_server.url}/challenges/{world.slug}/stages/stage-1/arena")
    assert "0 of 50" in page.inner_text("#progress")
    assert page.get_attribute("#vote-b", "aria-keyshortcuts") == "B"
    assert "X" in page.inner_text("#shortcuts")
    page.keyboard.press("b")
    page.wait_for_selector("#notice")
    assert "1 of 50" in page.inner_text("#progress")
    page.keyboard.press("x")
    page.wait_for_selector("#no-battle")
    assert "2 of 50" in page.inner_text("#progress")
    assert page.query_selector("#reveal") is None  # nothing revealed while voting is open
    with runtime.database.session() as session:
        judge = accounts.get_account(session, "judge")
        assert sorted(v.choice for v in session.query(Vote).filter_by(voter_id=judge.id)) == ["b", "both_bad"]

    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session))
    page.reload()
    page.wait_for_selector("#reveal")
    pairs = {
        (row.query_selector(".team-a").inner_text(), row.query_selector(".team-b").inner_text())
        for row in page.query_selector_all("#reveal tbody tr")
    }
    assert pairs == {("team-a", "team-b"), ("team-c", "team-a")}
    page.context.close()


def test_a_reviewer_scores_and_a_conflicted_assignment_is_refused(
    runtime: Runtime, live_server: Any, browser: Any
) -> None:
    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        for team in ("team-a", "team-b"):
            service.assign_reviewer(
                session, world.slug, "stage-1", team, accounts.get_account(session, "rev1"), operator=world.op(session)
            )
        org = accounts.get_account(session, "org-team-b")
        accounts.set_membership(session, org, accounts.get_account(session, "rev1"), "read")
    page = _sign_in(runtime, browser, live_server.url, "rev1")
    page.click("#my-work-link")
    page.click(".review-link")
    assert "Conflict of interest" in page.inner_text("#conflict-team-b")
    assert page.query_selector("#submit-team-b") is None
    page.fill("#team-a-score-report", "7")
    page.fill("#team-a-score-logs", "9")
    page.fill("#team-a-comment", "Complete training logs.")
    page.click("#submit-team-a")
    page.wait_for_selector("#notice")
    assert float(page.input_value("#team-a-score-logs")) == 9  # the recorded review fills the form
    # A score for the conflicted team, posted with the page's own form value, is refused.
    csrf = page.get_attribute("input[name=csrf]", "value") or ""
    refused = page.request.post(
        f"{live_server.url}/challenges/{world.slug}/stages/stage-1/review/team-b",
        form={"csrf": csrf, "score-report": "10", "score-logs": "10"},
    )
    assert refused.status == 403
    with runtime.database.session() as session:
        reviews = service.state_of(session, service.get_challenge(session, world.slug)).stage_data("stage-1").reviews
    assert [team for (_c, team, _r) in reviews] == ["team-a"]
    page.context.close()


def test_an_operator_overrides_a_gate_with_a_reason_and_the_report_shows_it(
    runtime: Runtime, live_server: Any, browser: Any
) -> None:
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    page = _sign_in(runtime, browser, live_server.url, "op")
    page.click("#my-work-link")
    page.click("#operator-entry a")
    page.click(".operator-challenge")
    row = page.locator(".gate-row[data-team='team-c'][data-gate='independence']")
    row.locator("input[value=fail]").check()
    row.locator("textarea").fill("The weights match a closed model's checkpoint layer for layer.")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#notice")
    assert page.get_attribute(".gate-row[data-team='team-c'][data-gate='independence']", "data-outcome") == "fail"
    page.check("#confirm-stage-1")
    page.click("#decide-stage-1")
    page.wait_for_selector("#decision-stage-1")
    assert "team-c" not in page.inner_text("#decision-stage-1").split("·")[0]
    page.click("#decision-stage-1 a")
    page.wait_for_url(re.compile(r".*/report$"))
    assert "The weights match a closed model's checkpoint layer for layer." in page.inner_text("main")
    page.context.close()


def test_a_team_edits_its_release_plan_and_files_an_appeal(runtime: Runtime, live_server: Any, browser: Any) -> None:
    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session))
    page = _sign_in(runtime, browser, live_server.url, "m-team-a")
    page.click("#my-work-link")
    page.click(".team-link")
    assert page.inner_text("#team-title") == "Team A"
    page.fill("#repos-0-license", "")
    page.fill("#repos-1-repo", "org-team-a/eval-report")
    page.select_option("#repos-1-kind", "report")
    page.fill("#repos-1-license", "cc-by-4.0")
    page.fill("#repos-1-embargo_until", "next spring")
    page.click("#save-plan")
    page.wait_for_selector("#plan-field-errors")
    assert page.get_attribute("#repos-1-embargo_until", "aria-invalid") == "true"
    assert page.query_selector("#repos-0-license-error") is not None
    assert page.input_value("#repos-1-repo") == "org-team-a/eval-report"  # what was typed is kept
    page.fill("#repos-0-license", "apache-2.0")
    page.fill("#repos-1-embargo_until", "2026-09-01")
    page.click("#save-plan")
    page.wait_for_selector("#notice")
    with runtime.database.session() as session:
        plan = service.release_plan(session, world.slug, "team-a")
    assert [(r["repo"], r["embargo_until"]) for r in plan["repos"]] == [
        ("org-team-a/model", None),
        ("org-team-a/eval-report", "2026-09-01"),
    ]
    page.fill("#appeal-text", "Our logs' appendix was not read by the second reviewer.")
    page.click("#file-appeal")
    page.wait_for_selector("#notice")
    assert "appendix was not read" in page.inner_text("#appeals .appeal-text")
    assert "Awaiting the operator's answer." in page.inner_text("#appeals")
    page.context.close()
