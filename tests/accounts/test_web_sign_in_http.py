"""The password route, the page dependency and its cookie helpers, and ``baton user set-password``."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Form, Request, Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from baton.accounts import web_sessions
from baton.accounts.http import (
    PageActor,
    check_page_csrf,
    check_sign_in_form_csrf,
    clear_session_cookie,
    page_csrf_token,
    set_session_cookie,
    sign_in_form_csrf,
)
from baton.cli.main import app as cli
from baton.core.errors import AuthenticationError
from baton.core.http import client_address, install_error_handlers
from baton.core.runtime import Runtime

BOB_PASSWORD = "bob's plum orbit 42"


@pytest.fixture
def bob_has_a_password(runtime: Runtime, users: Any) -> Any:
    web_sessions.reset_password(runtime, "bob", BOB_PASSWORD)
    return users


# --- PUT /api/users/{name}/password ----------------------------------------------------------------


def test_a_user_changes_their_own_password_with_the_current_one(
    runtime: Runtime, client: TestClient, bob_has_a_password: Any
) -> None:
    users = bob_has_a_password
    open_session = web_sessions.sign_in_with_password(runtime, name="bob", password=BOB_PASSWORD, client="x").cookie
    body = {"current_password": BOB_PASSWORD, "new_password": "a quiet harbour at dawn"}
    answer = client.put("/api/users/bob/password", json=body, headers=users.headers("bob"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "bob", "sessions_ended": 1}
    assert "set-cookie" not in answer.headers
    assert web_sessions.actor_from_cookie(runtime, open_session) is None
    web_sessions.sign_in_with_password(runtime, name="bob", password="a quiet harbour at dawn", client="x")
    # The API still answers to the token as before.
    whoami = client.get("/api/whoami-v2", headers=users.headers("bob"))
    assert whoami.status_code == 200 and whoami.json()["name"] == "bob"


@pytest.mark.parametrize(
    ("who", "name", "body", "status", "code"),
    [
        ("bob", "bob", {"new_password": "a quiet harbour at dawn"}, 400, "CurrentPasswordNeeded"),
        ("bob", "bob", {"current_password": "not it at all", "new_password": "a quiet harbour"}, 403, "WrongPassword"),
        ("bob", "bob", {"current_password": BOB_PASSWORD, "new_password": "tiny9"}, 400, "PasswordTooShort"),
        ("bob", "carol", {"new_password": "bob sets carol's"}, 403, "NotOperator"),
        ("carol", "carol", {"new_password": "carol's own one here"}, 400, "PasswordTooWeak"),
        ("carol", "carol", {"new_password": "a first one for c"}, 403, "NoPasswordYet"),
        ("alice", "lab", {"new_password": "for an organization"}, 400, "NotAUser"),
        ("alice", "nobody", {"new_password": "for nobody at all"}, 404, "NotFound"),
        ("alice", "ca%00rol", {"new_password": "for nobody at all"}, 404, "NotFound"),
        ("bob", "bob", {"new_password": "x" * 5000}, 400, "BadRequest"),
        ("bob", "bob", {"new_password": "a quiet harbour", "is_admin": True}, 400, "BadRequest"),
        (None, "bob", {"new_password": "a quiet harbour at dawn"}, 401, "Unauthorized"),
    ],
)
def test_the_password_route_refuses_with_a_clear_error(
    runtime: Runtime,
    client: TestClient,
    bob_has_a_password: Any,
    who: str | None,
    name: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers = bob_has_a_password.headers(who) if who else {}
    answer = client.put(f"/api/users/{name}/password", json=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
    assert answer.json()["hint"]
    assert body["new_password"] not in answer.text
    web_sessions.sign_in_with_password(runtime, name="bob", password=BOB_PASSWORD, client="y")  # unchanged


def test_an_operator_resets_a_password_and_a_read_token_cannot_change_one(
    runtime: Runtime, client: TestClient, bob_has_a_password: Any
) -> None:
    users = bob_has_a_password
    answer = client.put(
        "/api/users/carol/password", json={"new_password": "set by the operator"}, headers=users.headers("alice")
    )
    assert answer.status_code == 200 and answer.json() == {"name": "carol", "sessions_ended": 0}
    assert web_sessions.sign_in_with_password(runtime, name="carol", password="set by the operator", client="z")
    with runtime.database.session(write=True) as session:
        from baton.accounts import service as accounts

        reader = accounts.issue_token(session, accounts.get_account(session, "bob"), scopes=["read"]).value
    body = {"current_password": BOB_PASSWORD, "new_password": "a quiet harbour at dawn"}
    refused = client.put("/api/users/bob/password", json=body, headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403 and refused.json()["error"] == "InsufficientScope"


# --- pages: page_actor, cookies and CSRF -----------------------------------------------------------


def page_app(runtime: Runtime) -> FastAPI:
    """A stand-in for the web layer's pages, wired as they will be."""
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)

    @app.get("/sign-in")
    def form(request: Request, response: Response) -> dict[str, str]:
        return {"csrf": sign_in_form_csrf(request, response)}

    @app.post("/sign-in")
    def sign_in(
        request: Request,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        check_sign_in_form_csrf(request, csrf)
        signed = web_sessions.sign_in_with_password(
            runtime,
            name=name,
            password=password,
            client=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        response = Response(status_code=303, headers={"Location": "/me"})
        set_session_cookie(response, request, signed.cookie)
        return response

    @app.get("/me")
    def me(request: Request, user: PageActor) -> dict[str, Any]:
        return {"name": user.name if user else None, "csrf": page_csrf_token(request) if user else None}

    @app.post("/act")
    def act(request: Request, user: PageActor, csrf: Annotated[str, Form()] = "") -> dict[str, str]:
        if user is None:
            raise AuthenticationError("Sign in first")
        check_page_csrf(request, csrf)
        return {"done": user.name}

    @app.post("/sign-out")
    def sign_out(request: Request) -> Response:
        web_sessions.sign_out(runtime, request.cookies.get(web_sessions.COOKIE_NAME))
        response = Response(status_code=303, headers={"Location": "/me"})
        clear_session_cookie(response, request)
        return response

    return app


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_browser_signs_in_acts_with_csrf_and_signs_out(
    runtime: Runtime, bob_has_a_password: Any, scheme: str
) -> None:
    browser = TestClient(page_app(runtime), base_url=f"{scheme}://testserver")
    refused = browser.post("/sign-in", data={"name": "bob", "password": BOB_PASSWORD, "csrf": "x"})
    assert refused.status_code == 403 and refused.json()["error"] == "CsrfFailed"  # no pre-session cookie yet
    form = browser.get("/sign-in")
    pre = form.headers["set-cookie"]
    assert pre.startswith("baton_presession=") and "HttpOnly" in pre and "SameSite=lax" in pre and "Path=/" in pre
    assert ("Secure" in pre) is (scheme == "https")
    signed = browser.post(
        "/sign-in", data={"name": "bob", "password": BOB_PASSWORD, "csrf": form.json()["csrf"]}, follow_redirects=False
    )
    assert signed.status_code == 303
    cookies = signed.headers.get_list("set-cookie")
    session_cookie = next(value for value in cookies if value.startswith("baton_session="))
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age=43200"):
        assert attribute in session_cookie
    assert ("Secure" in session_cookie) is (scheme == "https")
    assert any(value.startswith("baton_presession=") and "Max-Age=0" in value for value in cookies)
    me = browser.get("/me").json()
    assert me["name"] == "bob"
    assert browser.post("/act", data={"csrf": me["csrf"]}).json() == {"done": "bob"}
    for wrong in ("", "0" * 64):
        answer = browser.post("/act", data={"csrf": wrong})
        assert answer.status_code == 403 and answer.json()["error"] == "CsrfFailed"
    browser.post("/sign-out", follow_redirects=False)
    assert browser.get("/me").json()["name"] is None


def test_login_csrf_a_form_from_another_browser_is_refused(runtime: Runtime, bob_has_a_password: Any) -> None:
    attacker, victim = TestClient(page_app(runtime)), TestClient(page_app(runtime))
    attackers_form = attacker.get("/sign-in").json()["csrf"]
    victim.get("/sign-in")
    answer = victim.post("/sign-in", data={"name": "bob", "password": BOB_PASSWORD, "csrf": attackers_form})
    assert answer.status_code == 403 and answer.json()["error"] == "CsrfFailed"
    assert victim.get("/me").json()["name"] is None


def test_a_forged_or_stale_cookie_is_nobody_to_the_pages(runtime: Runtime, bob_has_a_password: Any) -> None:
    browser = TestClient(page_app(runtime))
    browser.cookies.set(web_sessions.COOKIE_NAME, "A" * 43)
    assert browser.get("/me").json()["name"] is None
    answer = browser.post("/act", data={"csrf": "whatever"})
    assert answer.status_code == 401


# --- baton user set-password -----------------------------------------------------------------------


def cli_env(runtime: Runtime) -> dict[str, str]:
    return {
        "BATON_DATABASE_URL": runtime.settings.resolved_database_url,
        "BATON_DATA_DIR": str(runtime.settings.data_dir),
    }


def test_cli_sets_a_password_from_stdin_and_signs_the_user_out(runtime: Runtime, bob_has_a_password: Any) -> None:
    old = web_sessions.sign_in_with_password(runtime, name="bob", password=BOB_PASSWORD, client="c").cookie
    result = CliRunner().invoke(
        cli, ["user", "set-password", "bob", "--password-stdin"], input="a lantern in the fog\n", env=cli_env(runtime)
    )
    assert result.exit_code == 0, result.output
    assert "password set for bob" in result.output and "1 web session" in result.output
    assert web_sessions.actor_from_cookie(runtime, old) is None
    web_sessions.sign_in_with_password(runtime, name="bob", password="a lantern in the fog", client="c")


def test_cli_prompts_twice_and_refuses_a_weak_or_mismatched_password(runtime: Runtime, users: Any) -> None:
    env = cli_env(runtime)
    prompted = CliRunner().invoke(
        cli, ["user", "set-password", "carol"], input="a lantern in the fog\na lantern in the fog\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    assert "a lantern in the fog" not in prompted.output  # hidden input
    web_sessions.sign_in_with_password(runtime, name="carol", password="a lantern in the fog", client="c")
    weak = CliRunner().invoke(
        cli, ["user", "set-password", "carol", "--password-stdin"], input="password1234\n", env=env
    )
    assert weak.exit_code == 2 and "most common" in weak.output
    organization = CliRunner().invoke(cli, ["user", "set-password", "lab", "--password-stdin"], input="x" * 20, env=env)
    assert organization.exit_code == 2 and "organization" in organization.output
    # Neither changed anything.
    web_sessions.sign_in_with_password(runtime, name="carol", password="a lantern in the fog", client="c")
    mismatch = CliRunner().invoke(
        cli, ["user", "set-password", "carol"], input="a lantern in the fog\nanother thing\n", env=env
    )
    assert mismatch.exit_code != 0


def test_an_operators_own_current_password_is_checked_when_given(
    runtime: Runtime, client: TestClient, users: Any
) -> None:
    web_sessions.reset_password(runtime, "alice", "keeper of the lighthouse")
    wrong = {"current_password": "not the keeper's", "new_password": "a new lamp for the keeper"}
    refused = client.put("/api/users/alice/password", json=wrong, headers=users.headers("alice"))
    assert refused.status_code == 403 and refused.json()["error"] == "WrongPassword"
    web_sessions.sign_in_with_password(runtime, name="alice", password="keeper of the lighthouse", client="o")
    # Without one, an operator may still reset their own (as they may anyone's).
    answer = client.put(
        "/api/users/alice/password", json={"new_password": "a new lamp for the keeper"}, headers=users.headers("alice")
    )
    assert answer.status_code == 200
    web_sessions.sign_in_with_password(runtime, name="alice", password="a new lamp for the keeper", client="o")
