"""Links on the repo pages that the site crawl found broken: a tag or branch named with slashes (the challenge
tags its submissions ``baton/<challenge>/<team>/<stage>``), and Download links to files the viewer may not
download (a gated repo before access)."""

from __future__ import annotations

import re
from typing import Any

from baton.core.runtime import Runtime
from baton.hub import commits, repos

from .repo_support import ENGLISH, browser, make_repo, model_card


def test_a_tag_with_slashes_links_to_its_files_and_history(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/tagged", {"README.md": model_card("Tagged"), "config.json": b"{}"})
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", "lab/tagged"))
        assert repo is not None
        commits.create_ref(session, repo, "tag", "baton/demo/team-a/stage-1", None)
    client = browser(runtime)
    files = client.get("/lab/tagged/tree/main", headers=ENGLISH)
    assert files.status_code == 200
    (link,) = re.findall(r'<ul id="tags"><li><a href="([^"]+)"', files.text)
    assert link == "/lab/tagged/tree/baton%2Fdemo%2Fteam-a%2Fstage-1"
    tagged = client.get(link, headers=ENGLISH)
    assert tagged.status_code == 200 and "Revision baton/demo/team-a/stage-1" in tagged.text
    (history,) = re.findall(r'<a href="([^"]+)">History</a>', tagged.text)
    assert history == "/lab/tagged/commits/baton%2Fdemo%2Fteam-a%2Fstage-1"
    assert client.get(history, headers=ENGLISH).status_code == 200


def test_no_download_link_to_a_gated_file_before_access(runtime: Runtime, users: Any) -> None:
    card = model_card("Gated", extra_gated_prompt="Research use only.")
    make_repo(runtime, "lab/gated", {"README.md": card, "config.json": b"{}"}, gated="manual")
    make_repo(runtime, "lab/open", {"README.md": model_card("Open"), "config.json": b"{}"})
    anonymous = browser(runtime)
    for path in ("/lab/gated/tree/main", "/lab/gated/blob/main/config.json"):
        page = anonymous.get(path, headers=ENGLISH)
        assert page.status_code == 200 and "/resolve/" not in page.text, path
    assert anonymous.get("/lab/gated/resolve/main/config.json").status_code == 401  # what the link would give
    # Where the viewer may download, the links are there: the open repo, and the gated one for its owner.
    assert "/lab/open/resolve/main/config.json" in anonymous.get("/lab/open/tree/main", headers=ENGLISH).text
    owner = browser(runtime, "alice")
    assert "/lab/gated/resolve/main/config.json" in owner.get("/lab/gated/tree/main", headers=ENGLISH).text
    assert 'id="blob-download"' in owner.get("/lab/gated/blob/main/config.json", headers=ENGLISH).text
