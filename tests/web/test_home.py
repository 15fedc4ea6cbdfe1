"""The home page: what is going on, in both languages, on an empty site and on one with a challenge and
releases; anonymous visitors never see a private repo."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from baton.challenge import service
from baton.core import clock, events
from baton.core.runtime import Runtime
from baton.hub.models import Repo
from challenge.ce_support import AFTER_DEADLINE, feed_inputs, headers, make_world, submit_all

from .sign_in_support import sign_in_with_token

AFTER_FINALITY = AFTER_DEADLINE + timedelta(days=11)
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_an_empty_site_says_so_and_how_to_load_the_demo(client: TestClient) -> None:
    korean = client.get("/", headers=BROWSER)
    assert korean.status_code == 200 and '<html lang="ko">' in korean.text
    assert 'id="empty-site"' in korean.text and "<code>baton demo</code>" in korean.text
    assert "아직 아무것도 없습니다" in korean.text and "지금 진행 중인 일" in korean.text
    assert 'id="no-challenges"' in korean.text and 'id="no-releases"' in korean.text
    english = client.get("/?lang=en", headers=BROWSER)
    assert '<html lang="en">' in english.text and "Nothing here yet" in english.text
    assert "hf download NAMESPACE/NAME" in english.text and "export HF_ENDPOINT=http://testserver" in english.text
    # The search box and the form on the page go to the model listing.
    assert (
        len(
            re.findall(r'<form[^>]+role="search"[^>]+action="/models"|action="/models"[^>]+role="search"', english.text)
        )
        >= 1
    )
    assert 'id="home-search"' in english.text and 'for="home-search"' in english.text


def _world_with_a_release(runtime: Runtime) -> str:
    """A two-stage challenge: stage 1 decided and final, team-a eliminated and its model released."""
    world = make_world(runtime, stages=2)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        service.finalize_due(session, now=AFTER_FINALITY)
    with clock.frozen(AFTER_FINALITY):
        events.drain(runtime)  # the exit's release plan, as the server's worker would run it
    return world.slug


def test_challenges_with_their_stages_and_the_latest_releases(runtime: Runtime, client: TestClient) -> None:
    slug = _world_with_a_release(runtime)
    with clock.frozen(AFTER_FINALITY):
        english = client.get("/?lang=en", headers=BROWSER).text
        korean = client.get("/?lang=ko", headers=BROWSER).text
    assert 'id="empty-site"' not in english
    card = english[english.index(f'data-challenge="{slug}"') :]
    assert "Test challenge" in card
    assert re.search(r'data-stage="stage-1" data-state="final"', card)
    assert re.search(r'class="stage stage-current" data-stage="stage-2" data-state="open"', card)
    assert "Now: Stage 2 (Open for submissions)" in card
    assert "Deadline: 2026-04-10 18:00 (Asia/Seoul)" in card
    assert "3 teams" in card and "2 teams" in card
    assert f'href="/challenges/{slug}/stages/stage-1/report"' in card
    assert 'data-repo="org-team-a/model"' in english and 'href="/org-team-a/model"' in english
    assert "hf download org-team-a/model" in english and 'snapshot_download("org-team-a/model")' in english
    assert "현재: Stage 2 (제출 접수 중)" in korean and "마감: 2026-04-10 18:00 (Asia/Seoul)" in korean
    assert "3팀" in korean and "확정" in korean and "커먼즈 최신 공개" in korean
    # Nothing of the arena: no prompt, no answer, no battle.
    assert "answer one" not in english and "prompt 0" not in english


def test_a_private_repo_is_never_shown_to_who_may_not_read_it(runtime: Runtime, client: TestClient) -> None:
    _world_with_a_release(runtime)
    with runtime.database.session(write=True) as session:
        repo = session.query(Repo).filter_by(namespace="org-team-a", name="model").one()
        repo.private = True  # its owners closed it again after the release
    with clock.frozen(AFTER_FINALITY):
        anonymous = client.get("/?lang=en", headers=BROWSER).text
        assert "org-team-a/model" not in anonymous and 'id="no-releases"' in anonymous
        token = headers(runtime, "m-team-a")["Authorization"].removeprefix("Bearer ")
        signed_in = sign_in_with_token(client, token)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        member = client.get("/?lang=en", headers=BROWSER).text
    assert 'id="viewer">m-team-a<' in member and 'data-repo="org-team-a/model"' in member
