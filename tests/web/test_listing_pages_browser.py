"""The listing pages in Debian's Chromium (Playwright) against a live server: from the home address, a
search typed in the header, a filter chosen and a result opened with the keyboard alone; the pages at
375 px wide."""

from __future__ import annotations

import re
from typing import Any

import pytest

from baton.core.runtime import Runtime

from .listing_support import build_world

pytestmark = pytest.mark.integration



def _tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Presses Tab until ``selector`` has the focus (as a keyboard user moves through the page)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus by Tab")


def test_search_filter_and_open_a_result_by_keyboard(
    runtime: Runtime, users: Any, live_server: Any, browser: Any
) -> None:
    build_world(runtime)
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server.url}/?lang=en")

    _tab_to(page, "#site-search")
    page.keyboard.type("hangul")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/models\?search=hangul$"))
    errors.clear()  # "/" may have no page yet (a 404 page, with the header): what follows must be clean
    assert page.input_value("#listing-search") == "hangul"
    assert page.locator(".listing-item").count() == 2
    assert "2 models" in page.inner_text("#results-heading")

    # Choose a team with the keyboard: arrow keys change a focused select, Tab and Enter send the form.
    _tab_to(page, "#filter-team")
    page.keyboard.press("ArrowDown")  # Any → the first team (the most repos; ties by name: org-a)
    assert page.input_value("#filter-team") == "org-a"
    _tab_to(page, "#listing-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/models\?.*team=org-a"))
    assert [item.get_attribute("data-repo") for item in page.locator(".listing-item").all()] == ["org-a/hangul-7b"]
    assert page.input_value("#listing-search") == "hangul"  # the search was kept
    assert "Team: Team A" in page.inner_text("#active-filters")

    _tab_to(page, '.listing-item a[href="/org-a/hangul-7b"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/org-a/hangul-7b$"))
    assert "hangul-7b" in page.inner_text("#repo-title")
    assert not errors, errors
    context.close()


def test_the_listing_fits_a_375_pixel_screen(runtime: Runtime, users: Any, live_server: Any, browser: Any) -> None:
    build_world(runtime)
    context = browser.new_context(locale="ko-KR", viewport={"width": 375, "height": 800})
    page = context.new_page()
    for path in (
        "/models",
        "/models?search=hangul&license=apache-2.0&page_size=1",
        "/datasets?search=" + "없는낱말" * 20,
        "/models?sort=bogus",
    ):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide"
    context.close()
