"""The talent pages in a real browser (Debian chromium through playwright) against a live server:
sign in with a token, make a profile with consent, set visibility, post an opening, see explained
automated recommendations, ask for a human review, and get refused clearly on bad input; and, in
Korean, a profile made by choosing skills by search, listed in the pool, then consent withdrawn."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .talent_helpers import NLP, Cast, cast

__all__ = ["cast"]

pytestmark = pytest.mark.integration


def _sign_in(browser: Any, base: str, token: str, lang: str = "en") -> Any:
    page = browser.new_page(locale="en-US" if lang == "en" else "ko-KR")
    page.goto(f"{base}/talent/profile?lang={lang}")
    assert "/login" in page.url  # pages need a signed-in person
    page.click("#token-sign-in summary")
    page.fill("#token", token)
    page.click("#sign-in-token")
    page.wait_for_url(f"{base}/talent/profile*")
    return page


def test_profile_consent_visibility_openings_and_recommendations(live_server: Any, browser: Any, cast: Cast) -> None:
    base = live_server.url
    # gus posts an opening for newco through the page.
    gus = _sign_in(browser, base, cast["gus"])
    gus.goto(f"{base}/talent/openings")
    gus.fill("#title", "한국어 LLM 연구원")
    gus.click("#post-opening-submit")
    # No required skill: the message beside the picker, the title kept, nothing posted.
    assert "required skill" in gus.inner_text("#required_skills-error")
    assert gus.input_value("#title") == "한국어 LLM 연구원"
    assert gus.locator("tr.opening").count() == 0
    gus.fill("#required_skills-query", "natural language processing")
    gus.click("#required_skills-search")
    gus.check(f"#required_skills-matches input[value='{NLP}']")
    gus.fill("#location", "Seoul")
    gus.click("#post-opening-submit")
    gus.wait_for_selector("tr.opening")
    assert "한국어 LLM 연구원" in gus.inner_text("#openings")

    # dave makes his profile: the notice is shown; an optional item is declined.
    dave = _sign_in(browser, base, cast["dave"])
    assert "Required items" in dave.inner_text("#collection-notice")
    assert "refuse" in dave.inner_text("#collection-notice")
    dave.fill("#name", "Dave Kim")
    dave.fill("#contact_email", "dave.kim@example.org")
    dave.fill("#skills-query", "natural language")
    dave.click("#skills-search")
    dave.check(f"#skills-matches input[value='{NLP}']")
    dave.check("#opt-service_status")
    dave.check("#expert_research")
    dave.check("#agree")
    dave.click("#create")
    dave.wait_for_selector("#public-id")
    public_id = dave.inner_text("#public-id")
    assert "alternative-military-service" in dave.inner_text("#profile")

    # Visibility without pool consent is refused with the reason.
    dave.check("#vis-pool")
    dave.click("#visibility-submit")
    assert "consent" in dave.inner_text("#error")
    assert dave.inner_text("#visibility") == "nobody"
    response = httpx.get(f"{base}/api/talent/people/{public_id}", headers=cast.headers("gus"))
    assert response.status_code == 404

    # Consent to the pool (with the service status), then to recommendation; visible, hidden from rival.
    dave.locator("#consent-pool input[value=service_status]").check()
    dave.click("#consent-pool-submit")
    dave.wait_for_selector("#consents li.consent >> text=pool")
    dave.click("#consent-recommendation-submit")
    dave.wait_for_selector("#consents li.consent >> text=recommendation")
    dave.check("#vis-pool")
    dave.fill("#hidden_from", "rival")
    dave.click("#visibility-submit")
    dave.wait_for_selector("#hidden-from")
    assert dave.inner_text("#visibility") == "pool"
    seen = httpx.get(f"{base}/api/talent/people/{public_id}", headers=cast.headers("gus")).json()
    assert seen["constraints"][0]["kind"] == "expert_research_personnel"  # shown to openings as a constraint
    assert httpx.get(f"{base}/api/talent/people/{public_id}", headers=cast.headers("erin")).status_code == 404

    # Recommendations: explained in both languages and marked automated.
    dave.goto(f"{base}/talent/recommendations")
    assert "automatically" in dave.inner_text("#automated-notice")
    first = dave.locator("li.recommendation").first
    assert "한국어 LLM 연구원" in first.inner_text()
    assert "Natural language processing" in first.locator(".explanation-en").inner_text()
    assert "자연어 처리" in first.locator(".explanation-ko").inner_text()
    dave.fill("#review-subject", "Why this ranking?")
    dave.click("#review-submit")
    dave.wait_for_selector("p.review")
    queue = httpx.get(f"{base}/api/talent/reviews", headers=cast.headers("alice")).json()
    assert [row["subject"] for row in queue] == ["Why this ranking?"]

    # Refusing automated recommendation takes effect at once.
    dave.goto(f"{base}/talent/profile")
    dave.click("#automated-toggle")
    dave.goto(f"{base}/talent/recommendations")
    assert "refused automated recommendation" in dave.inner_text("#error")

    # Deletion from the page: the profile is gone.
    dave.goto(f"{base}/talent/profile")
    dave.check("#delete-confirm")
    dave.click("#delete")
    dave.wait_for_url(f"{base}/talent?deleted=1")
    assert httpx.get(f"{base}/api/talent/me", headers=cast.headers("dave")).status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the pages, not the database (HTTP tests: both)
def test_a_person_creates_a_profile_in_korean_and_withdraws_consent(live_server: Any, browser: Any, cast: Cast) -> None:
    base = live_server.url
    dave = _sign_in(browser, base, cast["dave"], lang="ko")
    dave.fill("#name", "김다브")
    dave.fill("#contact_email", "dave.kim@example.org")
    # Skills by their Korean name: the matches come as one types (htmx), nothing else on the page changes.
    dave.locator("#skills-query").press_sequentially("자연어")
    match = dave.locator(f"#skills-matches input[value='{NLP}']")
    match.wait_for()
    assert "자연어 처리" in dave.inner_text("#skills-matches")
    assert dave.input_value("#name") == "김다브"
    match.check()
    dave.check("#agree")
    dave.click("#create")
    dave.wait_for_selector("#public-id")
    assert "자연어 처리" in dave.inner_text("#profile")

    # Listed in the pool: consent (the name shown), then visible to the pool.
    dave.locator("#consent-pool input[value=name]").check()
    dave.click("#consent-pool-submit")
    dave.wait_for_selector("#consent-row-pool")
    dave.check("#vis-pool")
    dave.click("#visibility-submit")
    dave.wait_for_selector("#visibility >> text=pool")
    gus = _sign_in(browser, base, cast["gus"], lang="ko")  # a member of a hiring organization
    gus.goto(f"{base}/talent/people")
    assert "김다브" in gus.inner_text("#people")

    # Withdrawing says what it does and needs a confirmation; then the pool no longer lists him.
    dave.click("#withdraw-pool summary")
    assert "인력 풀에서 빠집니다" in dave.inner_text("#withdraw-pool")
    dave.check("#withdraw-pool .withdraw-confirm")
    dave.click("#withdraw-pool .withdraw-submit")
    dave.wait_for_selector("#done")
    assert dave.locator("#consent-row-pool").count() == 0
    gus.reload()
    assert "김다브" not in gus.inner_text("main")
    assert gus.locator("#no-people").count() == 1
