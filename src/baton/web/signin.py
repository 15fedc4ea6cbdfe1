"""Signing in to the site's pages: the one place that knows the sign-in cookie.

For now a person signs in with an API token, pasted once: Baton answers with an HttpOnly,
SameSite=Strict cookie that names the token's id and carries an HMAC signature and an expiry (never
the token itself). Each request checks the signature and that the token is still valid, so revoking
the token signs the person out everywhere. Forms that change something also carry a value derived
from the cookie (:func:`csrf_value`), which another site cannot read.

Pages depend on :data:`PageUser` (``page_user``: ``baton.access`` names it for every ``PAGE`` route).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ApiToken
from baton.core.errors import AuthenticationError, RateLimitedError
from baton.core.http import MAX_DB_ID, RuntimeDep, client_address
from baton.core.runtime import Runtime
from baton.web import templating
from baton.web.i18n import N_, page_language, requested_language, translate

SESSION_COOKIE: Final = "baton_session"
SESSION_TTL_SECONDS: Final = 12 * 3600
_SESSION_PATH: Final = "/web-session/"

router = APIRouter(include_in_schema=False)


def session_cookie_value(runtime: Runtime, token: ApiToken) -> str:
    signed = runtime.signer.sign(f"{_SESSION_PATH}{token.id}", ttl_seconds=SESSION_TTL_SECONDS)
    query = parse_qs(signed.partition("?")[2])
    return f"{token.id}.{query['expires'][0]}.{query['signature'][0]}"


def user_from_cookie(session: Session, runtime: Runtime, value: str | None) -> Actor | None:
    """The signed-in person, or None when there is no cookie or it is expired, forged or revoked."""
    if not value:
        return None
    token_id, _, rest = value.partition(".")
    expires, _, signature = rest.partition(".")
    if not token_id.isdigit():
        return None
    try:
        runtime.signer.verify(f"{_SESSION_PATH}{token_id}", expires, signature)
    except AuthenticationError:
        return None
    token = session.get(ApiToken, int(token_id)) if len(token_id) <= 10 and int(token_id) <= MAX_DB_ID else None
    if token is None:
        return None
    try:
        return accounts.actor_from_token(session, token)
    except AuthenticationError:  # revoked or expired since the sign-in
        return None


def csrf_value(cookie: str) -> str:
    """A form value only a page served to the cookie's holder can know."""
    return hashlib.sha256(f"baton-form\n{cookie}".encode()).hexdigest()[:32]


def request_csrf(request: Request) -> str:
    return csrf_value(request.cookies.get(SESSION_COOKIE, ""))


def signed_in(request: Request) -> Actor | None:
    """The person the request's sign-in cookie names (None when signed out)."""
    runtime: Runtime = request.app.state.runtime
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    with runtime.database.session() as session:
        return user_from_cookie(session, runtime, cookie)


def page_user(request: Request) -> Actor | None:
    return signed_in(request)


PageUser = Annotated[Actor | None, Depends(page_user)]


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site; ``default`` otherwise (a form must not send people away)."""
    if (
        not target
        or len(target) > 2000
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target)
    ):
        return default
    return target


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back here afterwards (a ``?lang=`` switch is remembered on the way)."""
    target = templating.with_query(templating.path_for(request, "login_page"), next=templating.here(request))
    response = RedirectResponse(target, status_code=303)
    chosen = requested_language(request)
    if chosen:
        templating.remember_language(request, response, chosen)
    return response


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    viewer: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templating.render_page(
        request, "login.html", viewer=viewer, status_code=status_code, headers=headers, next=next_path, error=error
    )


@router.get("/login", name="login_page", response_class=HTMLResponse)
def login_page(request: Request, user: PageUser, next: str = "/") -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next), viewer=user.name if user else None)


@router.post("/login", name="login")
def login(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    lang = page_language(request)
    target = safe_next(next)
    try:
        runtime.rate_limiter.hit("sign-in", "address:" + client_address(request))
        with runtime.database.session() as session:
            _user, api_token = accounts.authenticate_token(session, token.strip())
            cookie = session_cookie_value(runtime, api_token)
    except RateLimitedError as error:
        seconds = error.headers.get("Retry-After", "60")
        message = translate(lang, N_("Too many sign-in attempts. Try again in %(seconds)s seconds."), seconds=seconds)
        return _login_page(request, next_path=target, error=message, status_code=429, headers=error.headers)
    except AuthenticationError as error:
        if error.code == "TokenExpired":
            message = translate(lang, N_("That token has expired. Ask for a new one."))
        else:
            message = translate(lang, N_("That token is not valid (or was revoked)."))
        return _login_page(request, next_path=target, error=message, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_TTL_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", name="logout")
def logout(request: Request) -> Response:
    response = RedirectResponse(templating.path_for(request, "home"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
