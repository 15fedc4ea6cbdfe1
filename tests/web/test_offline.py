"""Every kind of page the site draws loads nothing from another site: no script, stylesheet, image, frame
or font by an http(s):// (or protocol-relative) URL, and no inline script outside the API docs."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from baton.challenge import service
from baton.core.runtime import Runtime
from baton.web.provenance_pages import render_provenance
from challenge.ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, headers, make_world, submit_all

from .sign_in_support import sign_in_with_token

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# The attributes that make a browser fetch something, by element.
FETCHING = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "object": ("data",),
    "embed": ("src",),
    "input": ("src",),
    "form": ("action",),
}


class Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in FETCHING.get(tag, ()):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if values.get("style"):
            self.styles.append(str(values["style"]))
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)


def assert_offline(page: str, where: str, *, inline_scripts: bool = False) -> None:
    loads = Loads()
    loads.feed(page)
    for url in loads.urls:
        assert not url.lower().startswith(("http:", "https:", "//")), f"{where} loads {url}"
    for style in loads.styles:
        assert "http" not in style and "@import" not in style, f"{where}: style {style[:80]}"
    if not inline_scripts:
        assert loads.inline_scripts == 0, f"{where} has an inline script"


def _page(client: TestClient, url: str, **options: Any) -> str:
    response = client.get(url, headers=BROWSER | options.pop("headers", {}), **options)
    assert response.status_code < 500 and response.headers["content-type"].startswith("text/html"), url
    return str(response.text)


def test_every_page_kind_loads_only_from_baton(runtime: Runtime, client: TestClient) -> None:
    world = make_world(runtime, stages=2)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        service.create_battle(
            session,
            world.slug,
            "stage-2",
            service.NewBattle(prompt="p", team_a="team-b", team_b="team-c", answer_a="x", answer_b="y"),
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
    pages = {
        "home": "/",
        "home (English)": "/?lang=en",
        "error": "/no/such/page",
        "sign-in": "/login",
        "commons": "/commons",
        "decision report": f"/challenges/{world.slug}/stages/stage-1/report",
        "decision report download": f"/api/challenges/{world.slug}/stages/stage-1/report?format=html",
    }
    for where, url in pages.items():
        assert_offline(_page(client, url), where)
    token = headers(runtime, "voter0")["Authorization"].removeprefix("Bearer ")
    assert sign_in_with_token(client, token).status_code == 303
    signed_in = {
        "arena": f"/challenges/{world.slug}/stages/stage-2/arena",
        "talent home": "/talent",
        "talent profile": "/talent/profile",
        "talent openings": "/talent/openings",
        "talent recommendations": "/talent/recommendations",
        "home, signed in": "/",
    }
    for where, url in signed_in.items():
        page = _page(client, url)
        assert 'id="viewer">voter0<' in page, where
        assert_offline(page, where)
    result = {"verdict": "derived", "relation": "finetune", "p_value": 1e-9, "alpha": 0.01, "components": []}
    for standalone in (False, True):
        page = render_provenance(result, "a/b", "c/d", lang="en", standalone=standalone)
        assert_offline(page, f"provenance report (standalone={standalone})")
    docs = client.get("/api/docs").text
    assert_offline(docs, "API docs", inline_scripts=True)


def test_the_check_would_catch_a_remote_asset() -> None:
    for page in (
        '<script src="https://cdn.example/x.js"></script>',
        '<link rel="stylesheet" href="//cdn.example/x.css">',
        '<img src="http://example.org/a.png">',
        '<div style="background: url(https://example.org/a.png)"></div>',
    ):
        try:
            assert_offline(page, "probe")
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {page}")
