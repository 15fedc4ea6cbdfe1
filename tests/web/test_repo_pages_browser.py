"""The repo pages in Debian's Chromium (Playwright) against a live server: the download snippet is copied
with its button and run with the real ``hf`` command; an owner makes a repo private from its settings page."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.hub import repos
from baton.hub.repos import RepoKey

from .repo_support import make_repo, model_card, weights

pytestmark = pytest.mark.integration



def _hf_command() -> str:
    found = Path(sys.executable).parent / "hf"
    if not found.exists():
        pytest.skip("the hf command (huggingface_hub's CLI) is not installed next to this Python")
    return str(found)


def test_copy_the_download_snippet_and_run_it(
    runtime: Runtime, users: Any, live_server: Any, browser: Any, tmp_path: Path
) -> None:
    files = {"README.md": model_card("Tiny"), "config.json": b'{"n_embd": 8}\n', "model.safetensors": weights(4)}
    make_repo(runtime, "lab/tiny", files)
    context = browser.new_context(locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server.url}/lab/tiny?lang=en")
    button = page.locator('button[data-copy="snippet-download"]')
    button.click()
    page.wait_for_function("document.getElementById('copy-status').textContent.length > 0")
    copied = str(page.evaluate("navigator.clipboard.readText()"))
    selected = str(page.evaluate("window.getSelection().toString()"))
    assert copied == selected == f"HF_ENDPOINT={live_server.url} hf download lab/tiny"
    assert button.inner_text() == "Copied"
    assert not errors, errors  # the CSP let the site's own script run, and nothing else was refused
    context.close()

    # Run what was copied: "NAME=value hf download ..." with the real hf command.
    words = shlex.split(copied)
    environment = {key: value for key, _, value in (word.partition("=") for word in words if "=" in word)}
    command = [word for word in words if "=" not in word]
    assert command[:2] == ["hf", "download"]
    target = tmp_path / "download"
    result = subprocess.run(
        [_hf_command(), *command[1:], "--local-dir", str(target)],
        env=os.environ | environment | {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_XET": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name, content in files.items():
        assert (target / name).read_bytes() == content


def test_the_pages_fit_a_375_pixel_screen(runtime: Runtime, users: Any, live_server: Any, browser: Any) -> None:
    long_line = "| " + " | ".join(f"column-{n}" for n in range(30)) + " |\n|" + "---|" * 30 + "\n"
    card = model_card("Wide", base_model="lab/base") + b"\n" + long_line.encode() + b"\n" + b"x" * 300 + b"\n"
    make_repo(runtime, "lab/base", {"model.safetensors": weights(5)})
    make_repo(runtime, "lab/wide", {"README.md": card, f"{'deep/' * 8}{'long-name-' * 12}.txt": b"t"})
    context = browser.new_context(locale="ko-KR", viewport={"width": 375, "height": 800})
    page = context.new_page()
    for path in ("/lab/wide", "/lab/wide/tree/main", "/lab/wide/commits/main", "/lab/wide/lineage", "/lab"):
        page.goto(live_server.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide"
    context.close()


def test_an_owner_makes_a_repo_private_in_the_browser(
    runtime: Runtime, users: Any, live_server: Any, browser: Any
) -> None:
    make_repo(runtime, "lab/open", {"README.md": model_card("Open")})
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, "alice"), name="browser").value
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/lab/open/settings?lang=en")
    assert "/login" in page.url  # sent to sign in, then back
    page.click("#token-sign-in summary")
    page.fill("#token", token)
    page.click("#sign-in-token")
    page.wait_for_url(re.compile(r".*/lab/open/settings(\?lang=en)?$"))
    assert page.is_checked("#visibility-public")
    page.check("#visibility-private")
    page.click("#save-visibility")
    page.wait_for_selector("#notice")
    assert page.is_visible("#badge-private") and page.is_checked("#visibility-private")
    context.close()

    anonymous = browser.new_context(locale="en-US")
    visitor = anonymous.new_page()
    response = visitor.goto(f"{live_server.url}/lab/open")
    assert response is not None and response.status == 404
    assert "Page not found" in visitor.inner_text("h1")
    anonymous.close()


def test_a_signed_in_user_requests_gated_access_in_the_browser(
    runtime: Runtime, users: Any, live_server: Any, browser: Any
) -> None:
    """Anonymous: "sign in to request access"; the link signs carol in and brings her back to the form,
    which she fills in and sends; the page then says the request is pending, and the owner sees it."""
    fields = {"Affiliation": "text", "I agree to the terms": "checkbox"}
    card = model_card("Gated", extra_gated_prompt="Research use only.", extra_gated_fields=fields)
    make_repo(runtime, "lab/gated", {"README.md": card, "config.json": b"{}"}, gated="manual")
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, "carol"), name="browser").value
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/lab/gated?lang=en")
    assert not page.is_visible("#access-form")
    page.click("#access-sign-in a")
    assert "/login" in page.url
    page.click("#token-sign-in summary")
    page.fill("#token", token)
    page.click("#sign-in-token")
    page.wait_for_url(re.compile(r".*/lab/gated(\?.*)?$"))
    assert "Research use only." in page.inner_text("#access")
    page.fill("#gated-field-0", "Seoul National University")
    page.check("#gated-field-1")
    page.click("#request-access")
    page.wait_for_selector('#access-status[data-status="pending"]')
    assert not page.is_visible("#access-form")
    context.close()
    with runtime.database.session() as session:
        owner = accounts.act_as(session, "alice")
        pending = repos.list_access_requests(session, owner, RepoKey("model", "lab", "gated"), "pending")
        requested = [(account.name, request.fields) for request, account in pending]
    assert requested == [("carol", {"Affiliation": "Seoul National University", "I agree to the terms": True})]
