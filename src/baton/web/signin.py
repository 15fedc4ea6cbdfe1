"""Signing in to the site's pages: the web layer's one entry point to the sign-in.

A person signs in on ``/login`` with their user name and password, or with an API token. Either
opens a web session in the database (``baton.accounts.web_sessions``): the browser holds only an
opaque, HttpOnly, SameSite=Lax cookie, which sign-out, a password change or the token's revocation
ends. The sign-in form itself is bound to a short-lived pre-session cookie (login CSRF), and every
form of a signed-in page carries the session's CSRF value (:func:`request_csrf`, checked with
:func:`csrf_ok`). Failed sign-ins are counted and limited by the accounts layer.

Pages depend on :data:`PageUser` (``page_user``: ``baton.access`` names it for every ``PAGE`` route).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.accounts import web_sessions
from baton.accounts.actor import Actor
from baton.accounts.http import (
    check_page_csrf,
    check_sign_in_form_csrf,
    clear_session_cookie,
    page_actor,
    page_csrf_token,
    set_session_cookie,
    sign_in_form_csrf,
)
from baton.core.errors import AuthenticationError, BatonError, PermissionDeniedError, RateLimitedError
from baton.core.http import RuntimeDep, client_address
from baton.web import templating
from baton.web.errors import error_page
from baton.web.i18n import N_, page_language, requested_language, translate

SESSION_COOKIE: Final = web_sessions.COOKIE_NAME
USER_AGENT_HEADER: Final = "user-agent"

router = APIRouter(include_in_schema=False)

# What the sign-in page says; one message for every wrong name, password or missing password.
WRONG_CREDENTIALS: Final = N_("The user name or password is wrong.")
WRONG_TOKEN: Final = N_("That token is not valid (or was revoked).")
EXPIRED_TOKEN: Final = N_("That token has expired. Ask for a new one.")
RATE_LIMITED: Final = N_("Too many sign-in attempts. Try again in %(seconds)s seconds.")
FORM_EXPIRED: Final = N_("This form has expired or did not come from this site. Send it again from this page.")


# --------------------------------------------------------------------------------------------- helpers


def page_user(request: Request) -> Actor | None:
    """The signed-in person (the web session cookie), or None."""
    return page_actor(request)


PageUser = Annotated[Actor | None, Depends(page_user)]


def signed_in(request: Request) -> Actor | None:
    """The person the request's session cookie names (None when signed out); for code outside a route."""
    return page_actor(request)


def request_csrf(request: Request) -> str:
    """The CSRF value for a signed-in page's forms ("" without a sign-in: such a form is refused anyway)."""
    try:
        return page_csrf_token(request)
    except PermissionDeniedError:
        return ""


def csrf_ok(request: Request, submitted: object) -> bool:
    """Whether a form's ``csrf`` value was made for this browser's session (compared in constant time)."""
    if not isinstance(submitted, str):
        return False
    try:
        check_page_csrf(request, submitted)
    except PermissionDeniedError:
        return False
    return True


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


def user_agent(request: Request) -> str:
    return request.headers.get(USER_AGENT_HEADER, "")


# --------------------------------------------------------------------------------------------- sign-in


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    error_field: str | None = None,
    name: str = "",
    viewer: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    # The form's value is bound to the pre-session cookie, which this very answer sets.
    carrier = Response()
    csrf = sign_in_form_csrf(request, carrier)
    response = templating.render_page(
        request,
        "login.html",
        viewer=viewer,
        status_code=status_code,
        headers=headers,
        next=next_path,
        error=error,
        error_field=error_field,
        name=name,
        sign_in_csrf=csrf,
    )
    for cookie in carrier.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", cookie)
    return response


@router.get("/login", name="login_page", response_class=HTMLResponse)
def login_page(request: Request, user: PageUser, next: str = "/") -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next), viewer=user.name if user else None)


@router.post("/login", name="login")
def login(
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    token: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    lang = page_language(request)
    target = safe_next(next)
    by_token = bool(token.strip())
    field = "token" if by_token else "password"
    try:
        check_sign_in_form_csrf(request, csrf)
    except PermissionDeniedError:
        return _login_page(
            request,
            next_path=target,
            name=name,
            error=translate(lang, FORM_EXPIRED),
            error_field=field,
            status_code=403,
        )
    try:
        if by_token:
            signed = web_sessions.sign_in_with_token(
                runtime, token=token, client=client_address(request), user_agent=user_agent(request)
            )
        else:
            signed = web_sessions.sign_in_with_password(
                runtime,
                name=name.strip(),
                password=password,
                client=client_address(request),
                user_agent=user_agent(request),
            )
    except RateLimitedError as error:
        seconds = error.headers.get("Retry-After", "60")
        return _login_page(
            request,
            next_path=target,
            name=name,
            error=translate(lang, RATE_LIMITED, seconds=seconds),
            error_field=field,
            status_code=429,
            headers=error.headers,
        )
    except AuthenticationError as error:
        message = WRONG_CREDENTIALS
        if by_token:
            message = EXPIRED_TOKEN if error.code == "TokenExpired" else WRONG_TOKEN
        return _login_page(
            request, next_path=target, name=name, error=translate(lang, message), error_field=field, status_code=401
        )
    # Signing in again ends the session this browser had (if any): one browser, one session.
    web_sessions.sign_out(runtime, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, signed.cookie)
    return response


# --------------------------------------------------------------------------------------------- sign-out


@router.get("/logout", name="logout_page", response_class=HTMLResponse)
def logout_page(request: Request, user: PageUser) -> Response:
    """Signing out changes something, so it is a form (POST with CSRF); this page shows its button."""
    if user is None:
        return RedirectResponse(templating.path_for(request, "home"), status_code=303)
    return templating.render_page(request, "logout.html", viewer=user.name, csrf=request_csrf(request))


@router.post("/logout", name="logout")
def logout(
    request: Request, runtime: RuntimeDep, user: PageUser, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if user is not None and not csrf_ok(request, csrf):
        error: BatonError = PermissionDeniedError(
            translate(page_language(request), FORM_EXPIRED),
            code="CsrfFailed",
            hint=translate(page_language(request), N_("Open the sign-out page again and press its button.")),
        )
        return error_page(request, error, viewer=user.name)
    web_sessions.sign_out(runtime, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(templating.path_for(request, "home"), status_code=303)
    clear_session_cookie(response, request)
    return response
