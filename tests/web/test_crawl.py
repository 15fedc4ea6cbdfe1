"""Crawl the demo site from ``/`` as an anonymous visitor and as each demo role (operator, team member,
reviewer, voter): every link reachable answers (a redirect lands on a page), no page is a 4xx or 5xx, every
page is well-formed HTML with a language, a title and one <h1>; and no anonymous page shows private or blind
data (private repo names, sealed names and revisions, blind battles, tokens, e-mails, talent profiles).

SQLite serves the crawl (the demo loads in about 25 s; each crawl takes a few seconds)."""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from live_servers import LiveServer

from .demo_site import DemoSite, leaks, private_data, sign_in
from .site_crawler import Crawl, PageShape, Visit, crawl

pytestmark = pytest.mark.integration

# Bugs found by the crawl and left to their owners, each with the visits it excuses (reported as a warning).
# (None now: a signed-in browser's Download links work, /resolve/ reads the sign-in cookie on GET and HEAD.)
KNOWN_BUGS: dict[str, Any] = {}


def _failures(result: Crawl, role: str | None = None) -> list[str]:
    failed, excused = [], {}
    for visit in result.visits:
        known = [bug for bug, matches in KNOWN_BUGS.items() if matches(visit, role)]
        if known:
            excused.setdefault(known[0], []).append(visit.url)
            continue
        if not 200 <= visit.status < 300:
            failed.append(f"{visit.status} {visit.url} (redirects {visit.redirects}, linked from {visit.via})")
        failed += [f"{visit.url}: {problem} (linked from {visit.via})" for problem in visit.problems]
    for bug, urls in excused.items():
        warnings.warn(f"known bug ({len(urls)} URLs, e.g. {urls[0]}): {bug}", stacklevel=2)
    return failed


def _walk(site: DemoSite, server: LiveServer, role: str | None) -> Crawl:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        if role is not None:
            sign_in(client, site.roles[role], site.tokens[site.roles[role]])
        result = crawl(client, server.url)
        if role is not None:  # the crawl never signed itself out
            assert f'id="viewer">{site.roles[role]}<' in client.get("/", headers={"Accept": "text/html"}).text
    return result


def test_anonymous_crawl_answers_every_link_and_shows_nothing_private(
    demo_site: tuple[DemoSite, LiveServer],
) -> None:
    site, server = demo_site
    result = _walk(site, server, None)
    pages = result.pages()
    assert not result.truncated, f"more than {len(result.visits)} URLs: the crawl stopped early"
    # The walk reaches the whole demo: the challenge's report, released repos and their tabs, account pages.
    paths = {urlsplit(visit.url).path for visit in pages}
    assert "/challenges/baton-demo/stages/stage-1/report" in paths
    assert {"/gaon-tech/gaon-lm", "/gaon-tech/gaon-lm/lineage", "/commons", "/login", "/api/docs"} <= paths
    assert {"/models", "/datasets"} <= paths
    assert {"/challenges", "/challenges/baton-demo"} <= paths
    assert {"/challenges/baton-demo/stages/stage-1", "/challenges/baton-demo/stages/stage-2"} <= paths
    assert len(pages) > 100, len(pages)
    assert _failures(result) == []

    secrets = private_data(site)
    kinds = {secret.what.split(" ")[0] for secret in secrets}
    assert {"private", "sealed", "blind", "e-mail", "talent", "API"} <= kinds, kinds  # the check has teeth
    leaked = [
        f"{visit.url}: {secret.what} ({secret.value})" for visit in pages for secret in leaks(visit.text, secrets)
    ]
    assert leaked == []


def test_the_leak_check_finds_what_a_signed_in_member_may_see(demo_site: tuple[DemoSite, LiveServer]) -> None:
    """The same check on a member's pages does find private names: it is not blind by construction."""
    site, server = demo_site
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sign_in(client, site.roles["member"], site.tokens[site.roles["member"]])
        page = client.get("/minji/private-notes", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "private model repo" in {secret.what for secret in leaks(page.text, private_data(site))}


@pytest.mark.parametrize("role", ["operator", "member", "reviewer", "voter"])
def test_crawl_as_each_demo_role(demo_site: tuple[DemoSite, LiveServer], role: str) -> None:
    site, server = demo_site
    result = _walk(site, server, role)
    assert not result.truncated, f"more than {len(result.visits)} URLs: the crawl stopped early"
    assert len(result.pages()) > 100
    assert _failures(result, role) == []
    # The talent pages are reached, provenance reports too; the demo's pool shows to a hiring member.
    paths = {urlsplit(visit.url).path: visit for visit in result.pages()}
    assert {"/talent/people", "/talent/skills", "/talent/profile", "/talent/openings"} <= set(paths)
    assert any(path.startswith("/api/provenance/reports/") for path in paths)
    if role == "member":
        assert paths["/talent/people"].text.count('class="person card"') >= 3
    # The links the known bug excuses do work with the person's token: only the cookie is not enough.
    token = {"Authorization": f"Bearer {site.tokens[site.roles[role]]}"}
    excused = [visit.url for visit in result.visits if any(bug(visit, role) for bug in KNOWN_BUGS.values())]
    with httpx.Client(timeout=30, headers=token) as client:
        broken = [
            (url, status) for url in excused if (status := client.head(url, follow_redirects=True).status_code) != 200
        ]
    assert broken == []
    # Every page with the site's header was served to the signed-in person.
    user = site.roles[role]
    pages = [visit for visit in result.pages() if 'class="site-header"' in visit.text]
    signed_out = [visit.url for visit in pages if f'id="viewer">{user}<' not in visit.text]
    assert signed_out == []


def _visit(status: int, url: str = "http://x/a", **extra: Any) -> Visit:
    return Visit(url=url, status=status, via="(test)", final_url=url, **extra)


def test_failures_name_bad_statuses_and_malformed_pages() -> None:
    crawl_result = Crawl(
        visits=[
            _visit(200),
            _visit(404, "http://x/gone"),
            _visit(200, "http://x/b", problems=["2 <h1> elements"]),
        ]
    )
    assert _failures(crawl_result) == [
        "404 http://x/gone (redirects [], linked from (test))",
        "http://x/b: 2 <h1> elements (linked from (test))",
    ]


def test_page_shape_finds_nesting_mistakes_and_missing_parts() -> None:
    good = PageShape()
    good.feed(
        '<!doctype html><html lang="ko"><head><title>T</title></head><body><h1>A</h1><p>x<p>y<ul><li>1</ul>'
        '<img src="a.png"><br/></body></html>'
    )
    good.finish()
    assert (good.lang, good.title, good.h1, good.problems) == ("ko", "T", 1, [])
    bad = PageShape()
    bad.feed("<html><body><div><span>x</div></em><section>")
    bad.finish()
    assert bad.lang is None and bad.problems == ["<span> closed by </div>", "stray </em>", "never closed: section"]
