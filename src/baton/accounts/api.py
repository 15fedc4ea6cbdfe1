"""The accounts' own JSON routes (the token routes live with the hub's HF-compatible API).

``PUT /api/users/{name}/password``: a user sets their own password (with the current one), an
operator sets anyone's. The route is thin: ``baton.accounts.web_sessions.set_password`` decides.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from baton.accounts import passwords, web_sessions
from baton.accounts.http import WriteUser
from baton.core.http import ExactRoute, RuntimeDep, client_address

router = APIRouter(prefix="/api/users", tags=["accounts"], route_class=ExactRoute)

# Longer than the policy allows, so that the policy (not the schema) says what is wrong; bounded all the same.
_LONGEST = 4 * passwords.MAX_LENGTH


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: str = Field(max_length=_LONGEST)
    current_password: str | None = Field(default=None, max_length=_LONGEST)


class PasswordSet(BaseModel):
    """The password was set; every web session of the user was signed out."""

    name: str
    sessions_ended: int


@router.put("/{name}/password")
def set_password(name: str, body: PasswordBody, request: Request, runtime: RuntimeDep, user: WriteUser) -> PasswordSet:
    change = web_sessions.set_password(
        runtime,
        user,
        name,
        body.new_password,
        current_password=body.current_password,
        client=client_address(request),
    )
    return PasswordSet(name=name, sessions_ended=change.sessions_ended)
