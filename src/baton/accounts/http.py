"""Who is calling: the request's Actor, as FastAPI dependencies that every route declares.

Each route names the least it needs in its signature, and the dependency refuses the request
before the route runs:

- ``OptionalUser``: anyone; the Actor when a token is sent (a wrong token is refused, never ignored).
- ``RequiredUser``: any valid token (reads that need to know who asks).
- ``WriteUser`` / ``VoteUser`` / ``ReviewUser``: a token with that scope.
- ``OperatorUser``: a site admin's token with the admin scope.
- ``FileReader``: for the file-download routes only: ``OptionalUser``, or without an
  Authorization header the web session cookie (GET/HEAD only).

Pages read the web session cookie instead of a token: ``page_actor(request)`` (or the ``PageActor``
dependency) gives the signed-in person or None; ``check_page_csrf`` guards their forms, and the
cookie helpers set and clear the cookie with its attributes (see ``baton.accounts.web_sessions``).

Services still check what only they can know (membership of a team, a reviewer's assignment).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response

from baton.accounts import service as accounts
from baton.accounts import web_sessions
from baton.accounts.actor import REVIEW, VOTE, WRITE, Actor
from baton.core.errors import AuthenticationError
from baton.core.http import RuntimeDep, bearer_token, client_address, get_runtime
from baton.core.runtime import Runtime


def optional_user(request: Request, runtime: RuntimeDep) -> Actor | None:
    """The token's actor, None without a token; a wrong token is refused, never ignored."""
    token = bearer_token(request)
    if token is None:
        return None
    limiter = runtime.rate_limiter
    address = "address:" + client_address(request)
    # Guessing tokens costs the guesser: failed attempts are limited per address.
    limiter.check("failed-auth", address)
    try:
        with runtime.database.session() as session:
            actor = accounts.authenticate(session, token)
    except AuthenticationError:
        limiter.hit("failed-auth", address)
        raise
    limiter.hit("token-use", f"account:{actor.account_id}")
    return actor


OptionalUser = Annotated[Actor | None, Depends(optional_user)]


def required_user(user: OptionalUser) -> Actor:
    if user is None:
        raise AuthenticationError("This action needs a token")
    return user


RequiredUser = Annotated[Actor, Depends(required_user)]


def _with_scope(scope: str, action: str) -> Callable[[Actor], Actor]:
    def dependency(user: RequiredUser) -> Actor:
        user.require(scope, action)
        return user

    dependency.__name__ = f"{scope}_user"
    return dependency


def operator_user(user: RequiredUser) -> Actor:
    user.require_operator("act as the operator")
    return user


WriteUser = Annotated[Actor, Depends(_with_scope(WRITE, "make changes"))]
VoteUser = Annotated[Actor, Depends(_with_scope(VOTE, "vote"))]
ReviewUser = Annotated[Actor, Depends(_with_scope(REVIEW, "submit reviews"))]
OperatorUser = Annotated[Actor, Depends(operator_user)]


def limit_actions(runtime: Runtime, request: Request, kind: str, user: Actor | None) -> None:
    """Count one action of ``kind`` against the caller's address and account (429 when over)."""
    runtime.rate_limiter.hit(kind, "address:" + client_address(request))
    if user is not None:
        runtime.rate_limiter.hit(kind, f"account:{user.account_id}")


# --- pages: the web session cookie ----------------------------------------------------------------


def page_actor(request: Request) -> Actor | None:
    """The person signed in to the pages (the ``baton_session`` cookie), or None: pages call this one function."""
    return web_sessions.actor_from_cookie(get_runtime(request), request.cookies.get(web_sessions.COOKIE_NAME))


PageActor = Annotated[Actor | None, Depends(page_actor)]


# Downloads: the one place outside the pages where the session cookie counts.
COOKIE_READ_METHODS = frozenset({"GET", "HEAD"})


def file_reader(request: Request, runtime: RuntimeDep) -> Actor | None:
    """Who downloads a file: the token's actor, or, without an Authorization header, the browser's sign-in.

    Only for the file-download routes (GET/HEAD): a link on a page of a gated or private repo works
    for a signed-in reader. Any other method, or any Authorization header (even one that is no
    bearer token), ignores the cookie, so no cross-site form can act with it.
    """
    if request.method not in COOKIE_READ_METHODS or "authorization" in request.headers:
        return optional_user(request, runtime)
    return page_actor(request)


FileReader = Annotated[Actor | None, Depends(file_reader)]


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    """Sign the browser in: the session cookie (HttpOnly, SameSite=Lax, Path=/, Secure over https)."""
    response.set_cookie(**web_sessions.session_cookie(value, https=is_https(request)))
    response.delete_cookie(**web_sessions.cleared_cookie(web_sessions.PRESESSION_COOKIE_NAME, https=is_https(request)))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(**web_sessions.cleared_cookie(web_sessions.COOKIE_NAME, https=is_https(request)))


def page_csrf_token(request: Request) -> str:
    """The CSRF value for the forms of a page shown to a signed-in person."""
    return web_sessions.csrf_token(get_runtime(request), request.cookies.get(web_sessions.COOKIE_NAME, ""))


def check_page_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a signed-in person's form without this session's CSRF value (403 CsrfFailed)."""
    web_sessions.check_csrf(get_runtime(request), request.cookies.get(web_sessions.COOKIE_NAME), submitted)


def sign_in_form_csrf(request: Request, response: Response) -> str:
    """For the sign-in form: set (or keep) the pre-session cookie and return the value the form carries."""
    value = web_sessions.presession_cookie(request.cookies.get(web_sessions.PRESESSION_COOKIE_NAME))
    response.set_cookie(**web_sessions.presession_cookie_options(value, https=is_https(request)))
    return web_sessions.presession_csrf(get_runtime(request), value)


def check_sign_in_form_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a sign-in form not sent from Baton's page in this browser (login CSRF; 403 CsrfFailed)."""
    web_sessions.check_presession_csrf(
        get_runtime(request), request.cookies.get(web_sessions.PRESESSION_COOKIE_NAME), submitted
    )
