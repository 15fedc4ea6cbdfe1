"""The pages a person acts on or reads, driven in Debian's Chromium through Playwright against a real server:
token sign-in (an HttpOnly web session cookie), blind arena voting, a stage's decision report, the commons catalogue."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from baton.accounts import service as accounts
from baton.challenge import service
from baton.challenge.models import Vote
from baton.core import clock, events
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, make_world, submit_all

pytestmark = pytest.mark.integration



def _token(runtime: Runtime, name: str) -> str:
    with runtime.database.session(write=True) as session:
        return accounts.issue_token(session, accounts.get_account(session, name), name="browser").value


def test_a_voter_signs_in_with_a_token_and_votes_blind(runtime: Runtime, live_server: Any, browser: Any) -> None:
    with clock.frozen(BEFORE_DEADLINE):
        world = make_world(runtime)
        submit_all(world)
        with runtime.database.session(write=True) as session:
            for k, (team_a, team_b) in enumerate([("team-a", "team-b"), ("team-b", "team-c")]):
                service.create_battle(
                    session,
                    world.slug,
                    "stage-1",
                    service.NewBattle(
                        prompt=f"서울의 명소를 알려 주세요 {k}",
                        team_a=team_a,
                        team_b=team_b,
                        answer_a=f"경복궁입니다 {k}",
                        answer_b=f"남산타워입니다 {k}",
                    ),
                    operator=world.op(session),
                )
        token = _token(runtime, "voter0")
        context = browser.new_context()
        page = context.new_page()
        arena = f"{live_server.url}/challenges/{world.slug}/stages/stage-1/arena?lang=en"

        page.goto(arena)
        assert "/login" in page.url  # not signed in: sent to sign in, then back
        page.click("#token-sign-in summary")  # the second way to sign in: an access token
        page.fill("#token", "baton_not-a-real-token")
        page.click("#sign-in-token")
        assert "not valid" in page.inner_text("[role=alert]")
        page.fill("#token", token)  # the token form stays open after its error
        page.click("#sign-in-token")
        page.wait_for_url(re.compile(r".*/arena$"))
        assert page.inner_text("#viewer") == "voter0"

        (cookie,) = [c for c in context.cookies() if c["name"] == "baton_session"]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert token not in cookie["value"]  # an opaque session id, never the token
        assert "baton_session" not in page.evaluate("document.cookie")  # scripts cannot read it

        first = page.get_attribute("#battle", "data-battle")
        text = page.inner_text("main")
        assert "경복궁입니다" in text and "남산타워입니다" in text
        assert not any(team in text for team in ("team-a", "team-b", "team-c", "org-team"))  # blind
        page.click("#vote-b")
        page.wait_for_selector("#notice")
        second = page.get_attribute("#battle", "data-battle")
        assert second and second != first
        page.click("#vote-tie")
        page.wait_for_selector("#no-battle")

        with runtime.database.session() as session:
            votes = session.query(Vote).order_by(Vote.id).all()
            voter = accounts.get_account(session, "voter0")
            assert [(vote.voter_id, vote.choice) for vote in votes] == [(voter.id, "b"), (voter.id, "tie")]

        # A vote posted from elsewhere (without the page's form value) is refused.
        response = page.request.post(
            f"{live_server.url}/challenges/{world.slug}/stages/stage-1/arena/vote",
            form={"battle": first or "", "choice": "a", "csrf": "forged"},
        )
        assert response.status == 401
        # Signing out drops the cookie.
        page.goto(arena)
        page.click("#sign-out")
        page.wait_for_selector("#sign-in-link")
        assert not [c for c in context.cookies() if c["name"] == "baton_session"]
        context.close()


def test_decision_report_and_commons_pages(runtime: Runtime, live_server: Any, browser: Any) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        operator = world.op(session)
        service.decide(session, runtime, world.slug, "stage-1", operator=operator, now=AFTER_DEADLINE)
        appeal = service.file_appeal(
            session,
            world.slug,
            "stage-1",
            "team-a",
            text="리뷰 점수 재검토를 요청합니다.",
            user=accounts.act_as(session, "m-team-a"),
            now=AFTER_DEADLINE,
        )
        service.answer_appeal(
            session,
            world.slug,
            appeal.id,
            answer="Recomputed from the ledger: unchanged.",
            upheld=False,
            operator=operator,
            now=AFTER_DEADLINE,
        )
        service.finalize_due(session, now=AFTER_DEADLINE + timedelta(days=11))
    events.drain(runtime)  # the exit's release plan, as the server's worker would run it
    with runtime.database.session() as session:
        head = service.get_challenge(session, world.slug).head_hash

    page = browser.new_page()
    page.goto(f"{live_server.url}/challenges/{world.slug}/stages/stage-1/report?lang=en")
    assert page.inner_text("#report-title").startswith("Decision report")
    rows = page.query_selector_all("#summary tbody tr")
    assert [row.get_attribute("data-team") for row in rows] == ["team-c", "team-b", "team-a"]
    assert [row.get_attribute("data-outcome") for row in rows] == ["advance", "advance", "eliminated"]
    assert len(page.query_selector_all("#breakdown tbody tr")) == 3 * 3
    assert len(page.query_selector_all("svg.chart")) == 2
    assert page.inner_text("#ledger-head") == head
    text = page.inner_text("main")
    assert "Weights checked by hand" in text  # the operator's ruling and its reason
    assert "Recomputed from the ledger: unchanged." in text
    assert "reviewer-" in text
    assert not any(name in text for name in ("rev1", "rev2", "rev3", "voter0", "m-team-a"))
    assert page.inner_text("#final-state").startswith("yes")
    page.click("#other-language")
    assert page.inner_text("#report-title").startswith("평가 결과 보고서")
    csv_response = page.request.get(live_server.url + (page.get_attribute("#download-csv", "href") or ""))
    assert csv_response.ok and csv_response.text().count("\n") == 2 + 9  # two header rows in Korean

    # team-a's elimination is final: its release plan ran and the commons lists it.
    page.goto(f"{live_server.url}/commons?lang=en")
    asset = page.query_selector("tr.asset[data-repo='org-team-a/model']")
    assert asset is not None and asset.get_attribute("data-state") == "released"
    assert page.query_selector("section.team[data-team='team-a']") is not None
    page.close()
