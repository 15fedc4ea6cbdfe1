"""A person's account settings: their password and their web sessions; an operator's password reset.

``/settings/account`` changes one's own password (the current one, then the new one twice) and
lists the live web sessions, with a button that ends all but this one. A password change ends
every other session and replaces this one (a new cookie), as ``web_sessions.set_password`` does.
``/settings/users/{user_name}/password`` lets an operator set or reset anyone's password. Every form
carries the session's CSRF value.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.accounts import passwords, web_sessions
from baton.accounts.actor import Actor
from baton.accounts.http import set_session_cookie
from baton.accounts.models import BY_TOKEN
from baton.core.errors import BatonError, NotFoundError, PermissionDeniedError, RateLimitedError
from baton.core.http import RuntimeDep, client_address
from baton.core.runtime import Runtime
from baton.web import messages, templating
from baton.web.errors import error_page
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import FORM_EXPIRED, SESSION_COOKIE, PageUser, csrf_ok, request_csrf, sign_in_redirect

router = APIRouter(include_in_schema=False)

PASSWORD_FORM_LENGTH: Final = 2 * passwords.MAX_LENGTH  # longer ones are refused by the policy, in words

# The accounts layer's refusals, as the page says them (in the page's language).
PASSWORD_ERRORS: Final = {
    "PasswordTooShort": N_("The new password is too short: use at least %(least)s characters (a few words work well)."),
    "PasswordTooLong": N_("The new password is too long: at most %(most)s characters."),
    "PasswordInvalid": N_("The new password holds a control character (a tab or a line break): leave it out."),
    "PasswordTooWeak": N_(
        "The new password is too easy to guess (a common one, your user name, or too few different characters)."
    ),
    "WrongPassword": N_("The current password is wrong."),
    "CurrentPasswordNeeded": N_("Type your current password."),
    "NoPasswordYet": N_("You have no password yet: an operator sets the first one."),
    "InsufficientScope": N_(
        "This sign-in may not change passwords (its token is read-only): sign in with your password or a write token."
    ),
    "NotAUser": N_("Organizations do not sign in and have no password."),
}
MISMATCH: Final = N_("The two new passwords differ: type the same one twice.")
RATE_LIMITED: Final = N_("Too many wrong passwords. Try again in %(seconds)s seconds.")
NOTICES: Final = {
    "password": N_("Your password was changed. Your other sign-ins were ended."),
    "sessions": N_("Your other sign-ins were ended."),
}


def _error_text(lang: str, error: BatonError) -> str:
    if isinstance(error, RateLimitedError):
        return translate(lang, RATE_LIMITED, seconds=error.headers.get("Retry-After", "60"))
    message = PASSWORD_ERRORS.get(error.code)
    if message is None:
        return messages.error_text(lang, error)
    return translate(lang, message, least=passwords.MIN_LENGTH, most=passwords.MAX_LENGTH)


def _csrf_refused(request: Request, user: Actor) -> HTMLResponse:
    lang = page_language(request)
    error = PermissionDeniedError(
        translate(lang, FORM_EXPIRED),
        code="CsrfFailed",
        hint=translate(lang, N_("Reload the page and send the form again.")),
    )
    return error_page(request, error, viewer=user.name)


# --------------------------------------------------------------------------------------------- own account


def _account_page(
    request: Request,
    runtime: Runtime,
    user: Actor,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    sessions = web_sessions.active_sessions(runtime, user.account_id, request.cookies.get(SESSION_COOKIE))
    return templating.render_page(
        request,
        "settings_account.html",
        viewer=user.name,
        status_code=status_code,
        csrf=request_csrf(request),
        has_password=web_sessions.has_password(runtime, user.name),
        sessions=sessions,
        by_token=BY_TOKEN,
        others=sum(1 for item in sessions if not item.current),
        notice=translate(page_language(request), notice) if notice else None,
        error=error,
        least=passwords.MIN_LENGTH,
        most=passwords.MAX_LENGTH,
    )


@router.get("/settings/account", name="account_settings", response_class=HTMLResponse)
def account_settings(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    return _account_page(request, runtime, user)


@router.post("/settings/account/password", name="account_password")
def change_password(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    current_password: Annotated[str, Form(max_length=PASSWORD_FORM_LENGTH)] = "",
    new_password: Annotated[str, Form(max_length=PASSWORD_FORM_LENGTH)] = "",
    new_password_again: Annotated[str, Form(max_length=PASSWORD_FORM_LENGTH)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not csrf_ok(request, csrf):
        return _csrf_refused(request, user)
    lang = page_language(request)
    if new_password != new_password_again:
        return _account_page(request, runtime, user, error=translate(lang, MISMATCH), status_code=400)
    has_password = web_sessions.has_password(runtime, user.name)
    try:
        change = web_sessions.set_password(
            runtime,
            user,
            user.name,
            new_password,
            # Always checked when there is one (even for an operator): a borrowed session cannot change it.
            current_password=current_password if has_password else None,
            client=client_address(request),
            keep_cookie=request.cookies.get(SESSION_COOKIE),
        )
    except BatonError as error:
        return _account_page(request, runtime, user, error=_error_text(lang, error), status_code=error.status_code)
    response = RedirectResponse(
        templating.with_query(templating.path_for(request, "account_settings"), done="password"), status_code=303
    )
    if change.cookie is not None:
        set_session_cookie(response, request, change.cookie)
    return response


@router.post("/settings/account/sessions/end-others", name="account_end_other_sessions")
def end_other_sessions(
    request: Request, runtime: RuntimeDep, user: PageUser, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not csrf_ok(request, csrf):
        return _csrf_refused(request, user)
    web_sessions.end_other_sessions(runtime, user.account_id, request.cookies.get(SESSION_COOKIE))
    return RedirectResponse(
        templating.with_query(templating.path_for(request, "account_settings"), done="sessions"), status_code=303
    )


# --------------------------------------------------------------------------------------------- operators


def _operator_refusal(request: Request, user: Actor) -> HTMLResponse | None:
    if user.is_operator:
        return None
    lang = page_language(request)
    error = PermissionDeniedError(
        translate(lang, N_("Only an operator may set other people's passwords.")),
        code="NotOperator",
        hint=translate(lang, N_("Change your own password in your account settings.")),
    )
    return error_page(request, error, viewer=user.name)


def _user_password_page(
    request: Request,
    runtime: Runtime,
    user: Actor,
    name: str,
    *,
    error: str | None = None,
    done: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templating.render_page(
        request,
        "settings_user_password.html",
        viewer=user.name,
        status_code=status_code,
        csrf=request_csrf(request),
        name=name,
        has_password=web_sessions.has_password(runtime, name),
        error=error,
        done=done,
        least=passwords.MIN_LENGTH,
        most=passwords.MAX_LENGTH,
    )


def _checked_user(request: Request, runtime: Runtime, user: Actor, name: str) -> HTMLResponse | None:
    """The error page when ``name`` is no user whose password can be set (404 for unknown names)."""
    if web_sessions.is_user(runtime, name):
        return None
    lang = page_language(request)
    error = NotFoundError(translate(lang, N_("There is no user of that name.")), hint=None)
    return error_page(request, error, viewer=user.name)


@router.get("/settings/users/{user_name}/password", name="user_password_page", response_class=HTMLResponse)
def user_password_page(request: Request, runtime: RuntimeDep, user: PageUser, user_name: str) -> Response:
    name = user_name
    if user is None:
        return sign_in_redirect(request)
    refused = _operator_refusal(request, user) or _checked_user(request, runtime, user, name)
    if refused is not None:
        return refused
    if name == user.name:  # one's own: with the current password, keeping this sign-in
        return RedirectResponse(templating.path_for(request, "account_settings"), status_code=303)
    return _user_password_page(request, runtime, user, name)


@router.post("/settings/users/{user_name}/password", name="user_password_set")
def set_user_password(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    user_name: str,
    new_password: Annotated[str, Form(max_length=PASSWORD_FORM_LENGTH)] = "",
    new_password_again: Annotated[str, Form(max_length=PASSWORD_FORM_LENGTH)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    name = user_name
    if user is None:
        return sign_in_redirect(request)
    refused = _operator_refusal(request, user)
    if refused is not None:
        return refused
    if not csrf_ok(request, csrf):
        return _csrf_refused(request, user)
    refused = _checked_user(request, runtime, user, name)
    if refused is not None:
        return refused
    if name == user.name:
        return RedirectResponse(templating.path_for(request, "account_settings"), status_code=303)
    lang = page_language(request)
    if new_password != new_password_again:
        return _user_password_page(request, runtime, user, name, error=translate(lang, MISMATCH), status_code=400)
    try:
        change = web_sessions.set_password(runtime, user, name, new_password, client=client_address(request))
    except BatonError as error:
        return _user_password_page(
            request, runtime, user, name, error=_error_text(lang, error), status_code=error.status_code
        )
    return _user_password_page(request, runtime, user, name, done={"sessions_ended": change.sessions_ended})
