"""A visitor follows the challenge in public in Chromium, on the demo: the challenges list, the
challenge, stage 2's live standings (sealed arena), stage 1's standings and its decision report."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from baton.challenge import service
from baton.demo import challenge_demo
from live_servers import LiveServer

from .demo_site import DemoSite

pytestmark = pytest.mark.integration

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _offline(route: Any) -> None:
    url = route.request.url
    if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def test_a_visitor_goes_from_the_list_to_the_standings_and_the_report(
    browser: Any, demo_site: tuple[DemoSite, LiveServer]
) -> None:
    site, server = demo_site
    slug = challenge_demo.SLUG
    with site.runtime.database.session() as session:
        head = service.get_challenge(session, slug).head_hash
        advancing = service.decision_record(session, slug, "stage-1")["advance"]
    context = browser.new_context(locale="en-US", viewport={"width": 375, "height": 800})
    context.route("**/*", _offline)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?lang=en")
        page.click("nav >> text=Challenges")
        page.wait_for_selector("#challenge-list")
        assert urlsplit(page.url).path == "/challenges"
        page.click(f'tr[data-challenge="{slug}"] a')
        page.wait_for_selector("#timeline")
        assert page.inner_text("#ledger-head") == head
        assert page.get_attribute('li[data-stage="stage-1"]', "data-state") in ("decided", "final")

        page.click('li[data-stage="stage-2"] >> text=Standings')
        page.wait_for_selector("#standings-source")
        assert page.get_attribute("#standings-source", "data-source") == "snapshot"
        assert page.is_visible("#arena-sealed")
        shown = page.eval_on_selector_all("#standings tbody tr", "rows => rows.map(r => r.dataset.team)")
        assert sorted(shown) == sorted(advancing)
        assert page.is_visible("svg.chart")

        page.go_back()
        page.click('li[data-stage="stage-1"] >> text=Standings')
        page.wait_for_selector("#report-link")
        assert page.get_attribute("#standings-source", "data-source") == "decision"
        page.click("#report-link")
        page.wait_for_selector("#report-title")
        assert urlsplit(page.url).path == f"/challenges/{slug}/stages/stage-1/report"
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]
    finally:
        context.close()
