"""Signing a test client in through the ``/login`` form, as a browser does (the form's CSRF value first)."""

from __future__ import annotations

import re
from typing import Any

import httpx

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def sign_in_csrf(client: Any, next_path: str = "/") -> str:
    """Open the sign-in page (which sets the pre-session cookie) and return its form's CSRF value."""
    page = client.get("/login", params={"next": next_path}, headers=HTML)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "the sign-in page has no CSRF value"
    return found.group(1)


def sign_in_with_token(client: Any, token: str, next_path: str = "/") -> httpx.Response:
    data = {"token": token, "next": next_path, "csrf": sign_in_csrf(client, next_path)}
    response: httpx.Response = client.post("/login", data=data, headers=HTML, follow_redirects=False)
    return response


def sign_in_with_password(client: Any, name: str, password: str, next_path: str = "/") -> httpx.Response:
    data = {"name": name, "password": password, "next": next_path, "csrf": sign_in_csrf(client, next_path)}
    response: httpx.Response = client.post("/login", data=data, headers=HTML, follow_redirects=False)
    return response
