"""Who is calling: the request's Actor, as FastAPI dependencies that every route declares.

Each route names the least it needs in its signature, and the dependency refuses the request
before the route runs:

- ``OptionalUser``: anyone; the Actor when a token is sent (a wrong token is refused, never ignored).
- ``RequiredUser``: any valid token (reads that need to know who asks).
- ``WriteUser`` / ``VoteUser`` / ``ReviewUser``: a token with that scope.
- ``OperatorUser``: a site admin's token with the admin scope.

Services still check what only they can know (membership of a team, a reviewer's assignment).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from baton.accounts import service as accounts
from baton.accounts.actor import REVIEW, VOTE, WRITE, Actor
from baton.core.errors import AuthenticationError
from baton.core.http import RuntimeDep, bearer_token, client_address
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
