"""Signing in with a password, changing it and signing out in Debian's Chromium, by keyboard only."""

from __future__ import annotations

from typing import Any

import pytest

from baton.accounts import web_sessions
from baton.core.runtime import Runtime

pytestmark = pytest.mark.integration

OLD = "bob's plum orbit 42"
NEW = "a quiet harbour at dawn"


def tab_to(page: Any, element_id: str, limit: int = 60) -> None:
    """Press Tab until ``#element_id`` has the focus (it must be reachable by keyboard)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement ? document.activeElement.id : ''") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_sign_in_change_the_password_and_sign_out_by_keyboard(
    runtime: Runtime, users: Any, live_server: Any, browser: Any
) -> None:
    web_sessions.reset_password(runtime, "bob", OLD)
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/settings/account?lang=en")
    assert "/login" in page.url  # sent to sign in, then back

    tab_to(page, "name")
    page.keyboard.type("bob")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("a wrong password here")
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-error")
    assert page.inner_text("#login-error") == "The user name or password is wrong."
    assert page.input_value("#name") == "bob"  # kept; the password is not
    tab_to(page, "password")
    page.keyboard.type(OLD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#settings-title")
    assert page.url.endswith("/settings/account")
    assert page.inner_text("#viewer") == "bob"
    (cookie,) = [c for c in context.cookies() if c["name"] == "baton_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert "baton_session" not in page.evaluate("document.cookie")
    assert "This session" in page.inner_text("#this-session")

    tab_to(page, "current-password")
    page.keyboard.type(OLD)
    page.keyboard.press("Tab")
    page.keyboard.type(NEW)
    page.keyboard.press("Tab")
    page.keyboard.type(NEW)
    page.keyboard.press("Enter")
    page.wait_for_selector("#settings-notice")
    assert "Your password was changed" in page.inner_text("#settings-notice")
    (rotated,) = [c for c in context.cookies() if c["name"] == "baton_session"]
    assert rotated["value"] != cookie["value"]  # this sign-in goes on under a new session
    assert web_sessions.actor_from_cookie(runtime, cookie["value"]) is None
    assert page.inner_text("#viewer") == "bob"

    tab_to(page, "sign-out")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sign-in-link")
    assert not [c for c in context.cookies() if c["name"] == "baton_session"]
    assert web_sessions.actor_from_cookie(runtime, rotated["value"]) is None
    context.close()

    # The new password opens a session; the old one does not.
    web_sessions.sign_in_with_password(runtime, name="bob", password=NEW, client="check")
    with pytest.raises(Exception, match="user name or password"):
        web_sessions.sign_in_with_password(runtime, name="bob", password=OLD, client="check")
