"""The talent pages over HTTP on both databases: the skill picker (search by Korean or English name,
without JavaScript), the form kept as typed after a mistake with the message next to the field, the
pool page, and withdrawing consent only once confirmed."""

from __future__ import annotations

import re
from typing import Any

from baton.core.runtime import Runtime
from baton.talent import consent as notices
from web.repo_support import browser, csrf_of

from .talent_helpers import NLP, Cast, cast

__all__ = ["cast"]


def _profile_form(csrf: str, **extra: Any) -> dict[str, Any]:
    return {"csrf": csrf, "name": "김다브 Dave", "contact_email": "dave.kim@example.org", **extra}


def test_skills_searched_in_korean_are_kept_with_everything_typed(runtime: Runtime, cast: Cast) -> None:
    client = browser(runtime, "dave")
    page = client.get("/talent/profile?lang=ko").text
    assert 'name="skills_query"' in page and "ACM CCS codes" not in page
    csrf = csrf_of(page)
    # The search button sends the form back: the matches come, what was typed stays, nothing is made.
    found = client.post(
        "/talent/profile", data=_profile_form(csrf, intent="search", skills_query="자연어", keywords="LLM")
    )
    assert found.status_code == 200
    match = f'<input type="checkbox" name="skills" value="{NLP}" class="skill-match"> 자연어 처리'
    assert match in found.text
    assert 'value="김다브 Dave"' in found.text and 'value="dave.kim@example.org"' in found.text
    assert 'value="LLM"' in found.text and 'value="자연어"' in found.text
    assert 'id="public-id"' not in found.text
    # A chosen skill stays chosen (ticked) through a second search, in English this time.
    again = client.post(
        "/talent/profile?lang=en", data=_profile_form(csrf, intent="search", skills=NLP, skills_query="machine learn")
    )
    assert f'name="skills" value="{NLP}" checked' in again.text
    assert "Machine learning" in again.text
    # The live search (htmx) answers with the matches alone.
    live = client.get(
        "/talent/skills", params={"skills_query": "computer vision", "field": "skills"}, headers={"HX-Request": "true"}
    )
    assert live.status_code == 200 and "<html" not in live.text and "Computer vision" in live.text


def test_mistakes_are_named_next_to_their_fields_and_nothing_typed_is_lost(runtime: Runtime, cast: Cast) -> None:
    client = browser(runtime, "dave")
    csrf = csrf_of(client.get("/talent/profile?lang=en").text)
    bad = client.post(
        "/talent/profile?lang=en",
        data={"csrf": csrf, "name": "Dave", "contact_email": "not-an-address", "desired_roles": "researcher"},
    )
    assert bad.status_code == 400
    assert re.search(r'id="contact_email" value="not-an-address" required aria-invalid="true"', bad.text)
    assert 'id="contact_email-error">This does not look like an e-mail address' in bad.text
    assert 'id="skills-error">Choose at least one skill' in bad.text
    assert 'id="agree-error"' in bad.text and 'id="name-error"' not in bad.text
    assert 'value="researcher"' in bad.text
    made = client.post(
        "/talent/profile?lang=en",
        data={"csrf": csrf, "name": "Dave", "contact_email": "dave@example.org", "skills": NLP, "agree": "1"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert 'id="public-id"' in client.get("/talent/profile").text


def test_the_pool_page_shows_consented_people_and_withdrawal_needs_confirmation(runtime: Runtime, cast: Cast) -> None:
    dave = browser(runtime, "dave")
    csrf = csrf_of(dave.get("/talent/profile").text)
    form = {"csrf": csrf, "name": "Dave Kim", "contact_email": "dave@example.org", "skills": NLP, "agree": "1"}
    assert dave.post("/talent/profile", data=form, follow_redirects=False).status_code == 303
    consent = {
        "csrf": csrf,
        "purpose": "pool",
        "notice_version": notices.CURRENT_VERSION[notices.POOL],
        "items": ["name", "skills"],
    }
    assert dave.post("/talent/consent", data=consent, follow_redirects=False).status_code == 303
    visible = {"csrf": csrf, "visibility": "pool"}
    assert dave.post("/talent/visibility", data=visible, follow_redirects=False).status_code == 303

    gus = browser(runtime, "gus")  # a member of an organization (newco)
    assert "Dave Kim" in gus.get("/talent/people?lang=en").text

    page = dave.get("/talent/profile?lang=en").text
    assert "takes your profile out of the pool at once" in page
    unconfirmed = dave.post("/talent/withdraw?lang=en", data={"csrf": csrf, "purpose": "pool"})
    assert unconfirmed.status_code == 400 and "Tick the box to confirm the withdrawal" in unconfirmed.text
    assert "Dave Kim" in gus.get("/talent/people").text  # nothing withdrawn
    done = dave.post("/talent/withdraw", data={"csrf": csrf, "purpose": "pool", "confirm": "1"})
    assert done.status_code == 200 and 'id="done"' in done.text
    pool = gus.get("/talent/people?lang=en").text
    assert "Dave Kim" not in pool and 'id="no-people"' in pool


def test_an_opening_form_keeps_what_was_typed_and_picks_skills_by_name(runtime: Runtime, cast: Cast) -> None:
    gus = browser(runtime, "gus")
    csrf = csrf_of(gus.get("/talent/openings?lang=en").text)
    form = {"csrf": csrf, "organization": "newco", "title": "NLP researcher", "location": "Busan"}
    searched = gus.post("/talent/openings?lang=en", data=form | {"intent": "search", "required_skills_query": "자연어"})
    assert (
        searched.status_code == 200 and 'value="NLP researcher"' in searched.text and 'value="Busan"' in searched.text
    )
    assert f'name="required_skills" value="{NLP}" class="skill-match"> Natural language processing' in searched.text
    refused = gus.post("/talent/openings?lang=en", data=form | {"required_skills": "10010999999"})
    assert refused.status_code == 400 and 'id="required_skills-error"' in refused.text
    assert 'value="NLP researcher"' in refused.text
    posted = gus.post("/talent/openings", data=form | {"required_skills": NLP}, follow_redirects=False)
    assert posted.status_code == 303
    assert "NLP researcher" in gus.get("/talent/openings").text
