"""The site in Debian's Chromium (Playwright) against a real server, with every request off the loopback
blocked: the home page, the language switch (remembered), a narrow screen, and /api/docs drawing Swagger UI
from Baton's own copy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def offline(browser: Any) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A Korean browser whose requests may only go to the loopback; what else it tried, and its console errors."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    attempted: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            attempted.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page, attempted, errors
    context.close()


def test_home_switch_language_and_api_docs_offline(live_server: Any, offline: tuple[Any, list[str], list[str]]) -> None:
    page, attempted, errors = offline
    base = live_server.url
    page.goto(f"{base}/")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.inner_text("h1") == "지금 진행 중인 일"
    assert page.is_visible("#empty-site")
    # The skip link is the first stop of the keyboard and shows when focused.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.is_visible(".skip-link")

    page.click("#language-switch")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "What is going on"
    page.goto(f"{base}/commons")  # remembered on the next page
    assert page.get_attribute("html", "lang") == "en" and "The commons" in page.inner_text("h1")
    page.goto(f"{base}/no/such/page")  # a browser gets the error page, in its language
    assert page.inner_text("#error-title") == "Page not found"

    # 375 px wide: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", "/commons", "/login", "/no/such/page"):
        page.goto(base + path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways at 375 px: {width}"
    page.set_viewport_size({"width": 1200, "height": 900})

    # Every operation of /openapi.json is drawn, part by part (Swagger UI stops drawing part-way through
    # a document of about 150 operations, so the page shows one tag's part at a time).
    whole = httpx.get(f"{base}/openapi.json").json()
    total = sum(len(operations) for operations in whole["paths"].values())
    page.goto(f"{base}/api/docs")
    links = page.locator("nav[aria-label='Parts of the API'] a[href*='part=']")
    parts = [str(links.nth(i).get_attribute("href")) for i in range(links.count())]
    assert len(parts) >= 3
    drawn = 0
    for href in parts:
        page.goto(base + href)
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "Baton" in page.inner_text(".swagger-ui .info .title")
        expected = sum(
            len(ops)
            for ops in httpx.get(base + href.replace("/api/docs?part=", "/api/docs/openapi/") + ".json")
            .json()["paths"]
            .values()
        )
        page.wait_for_selector(".opblock", timeout=20_000)
        for _ in range(50):
            if page.locator(".opblock").count() >= expected:
                break
            page.wait_for_timeout(200)
        assert page.locator(".opblock").count() == expected, href
        drawn += expected
    assert drawn == total > 100
    assert attempted == [], f"requests off the loopback: {attempted}"
    assert not [error for error in errors if "Content Security Policy" in error or "Refused" in error], errors


def test_pages_with_data_fit_a_narrow_screen(
    runtime: Any, live_server: Any, offline: tuple[Any, list[str], list[str]]
) -> None:
    from baton.challenge import service
    from challenge.ce_support import AFTER_DEADLINE, feed_inputs, make_world, submit_all

    world = make_world(runtime, stages=2)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    page, attempted, errors = offline
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", "/commons", f"/challenges/{world.slug}/stages/stage-1/report"):
        page.goto(live_server.url + path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways at 375 px: {width}"
    assert page.locator("svg.chart").count() == 2  # the report's charts, scaled to the screen
    assert attempted == [] and errors == []
