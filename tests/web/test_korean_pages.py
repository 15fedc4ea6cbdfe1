"""Korean pages say in Korean what the domains tell them in English (issue 15): service errors, the
commons' release states and hold reasons, the lineage tab's provenance status and verdicts, and the
content scan's findings on the file pages (``baton.web.messages``).

The demo site's pages, in Korean: each kind must show the Korean text and none of the English one
the domain gave (the English sentences are taken from the domains themselves, so a new one is
checked too)."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from baton.commons.catalogue import HELD_NOTES
from baton.core.errors import BatonError, NotFoundError
from baton.web import messages
from live_servers import LiveServer

from .demo_site import HTML, DemoSite, sign_in

pytestmark = pytest.mark.integration




def _text(page: str) -> str:
    """The page's visible text, one space between words (scripts, styles and tags dropped)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _get(client: httpx.Client, path: str) -> str:
    client.cookies.set("baton_lang", "ko")
    answer = client.get(path, headers=HTML)
    assert answer.status_code == 200, f"{path}: {answer.status_code}"
    assert '<html lang="ko">' in answer.text
    return answer.text


def test_the_commons_says_states_and_hold_reasons_in_korean(demo_site: tuple[DemoSite, LiveServer]) -> None:
    _site, server = demo_site
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = _get(client, "/commons")
    text = _text(page)
    holds = re.findall(r'data-hold="([a-z]+)">([^<]*)<', page)
    assert holds, "the demo holds items in the commons: the check has nothing to look at"
    for kind, shown in holds:
        assert shown == messages.hold_reason("ko", kind) and shown.startswith("보류:"), (kind, shown)
    for english in HELD_NOTES.values():
        assert english not in text
    states = re.findall(r'<td class="state-([a-z]+)">([^<]*)', page)
    assert {state for state, _ in states} >= {"released", "held"}
    for state, shown in states:
        assert shown.split(" → ")[0].strip() == messages.say("ko", "release_state", state) != state, (state, shown)
    assert "(eliminated)" not in text and "(탈락)" in text


def test_the_lineage_tab_says_the_provenance_status_and_verdicts_in_korean(
    demo_site: tuple[DemoSite, LiveServer],
) -> None:
    _site, server = demo_site
    statuses, verdicts = set(), set()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        models = [model["id"] for model in client.get("/api/models", params={"limit": 100}).json()]
        assert len(models) > 5
        for model in models:
            page = _get(client, f"/{model}/lineage")
            for status, shown in re.findall(r'<strong data-status="([^"]+)">([^<]*)</strong>', page):
                assert shown == messages.say("ko", "provenance_status", status) != status, (model, status, shown)
                statuses.add(status)
            for verdict, shown in re.findall(r'<span class="verdict status-([a-z]+)">([^<]*)</span>', page):
                assert shown == messages.say("ko", "verdict", verdict) != verdict, (model, verdict, shown)
                verdicts.add(verdict)
            # The drawing's labels too ("파생 p=2.56e-32", not "derived p=...").
            assert not re.search(r'fill="#[0-9a-fA-F]+">(derived|copied|independent|inconclusive)\b', page), model
    # The demo has models never compared and models found derived: both kinds were looked at.
    assert "no references" in statuses, statuses
    assert "derived" in verdicts, verdicts


def test_the_file_pages_say_what_the_content_scan_found_in_korean(demo_site: tuple[DemoSite, LiveServer]) -> None:
    _site, server = demo_site
    with httpx.Client(base_url=server.url, timeout=30) as client:
        files = _get(client, "/hanbit-ai/tiny-gpt/tree/main")
        blob = _get(client, "/hanbit-ai/tiny-gpt/blob/main/README.md")
    assert "<td>텍스트</td>" in files and "<td>safetensors</td>" in files
    assert "<td>text</td>" not in files
    assert 'id="blob-scan">텍스트<' in blob


def test_a_service_error_is_said_in_korean_on_the_talent_pages(demo_site: tuple[DemoSite, LiveServer]) -> None:
    site, server = demo_site
    operator = site.roles["operator"]  # the demo's operator has no talent profile
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sign_in(client, operator, site.tokens[operator])
        page = _get(client, "/talent/recommendations")
    text = _text(page)
    assert 'data-code="NoProfile"' in page
    assert "아직 인재 프로필이 없습니다." in text
    assert "has no talent profile" not in text and "Create your talent profile first" not in text


def test_an_error_page_says_a_known_error_in_korean() -> None:
    shown = messages.shown_error("ko", NotFoundError("Repository Not Found for url /x/y", code="RepoNotFound"))
    assert shown.message == "이 저장소가 없거나, 볼 수 없는 저장소입니다." and shown.detail is None


def test_english_text_without_a_code_keeps_its_detail_after_a_korean_lead() -> None:
    error = BatonError("The mirror answered 502", hint="Try again later.", code="SomethingNew")
    shown = messages.shown_error("ko", error)
    assert shown.message == "Baton의 메시지(영어 원문):"
    assert shown.detail == "The mirror answered 502 (Try again later.)"
    assert messages.shown_error("en", error).message == "The mirror answered 502"
    # A message already in the page's language (drawn by the web layer) is shown as it is.
    assert messages.shown_error("ko", BatonError("양식이 만료되었습니다", code="CsrfFailed")).detail is None


def test_a_scan_description_keeps_its_detail_and_names_the_format_in_korean() -> None:
    numpy = messages.scan_text("ko", "numpy", "NumPy array (.npy) (dtype float32)")
    assert numpy == "NumPy 배열 (.npy) (dtype float32)"
    compressed = "tar archive (3 members), compressed with gzip around Zstandard"
    korean = messages.scan_text("ko", "tar", compressed)
    assert korean == "tar 묶음 (3 members), gzip, Zstandard(으)로 압축됨 (바깥쪽부터)"
    assert messages.scan_text("en", "tar", compressed) == compressed
    # A format this version does not know, or a description it did not write, is shown as it is.
    assert messages.scan_text("ko", "future-format", "Future format") == "Future format"
