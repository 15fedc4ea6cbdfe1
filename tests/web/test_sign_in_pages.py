"""The sign-in pages on the database web sessions, in both databases: /login (password and token),
/logout, /settings/account (password, sessions), the operator's password page, and downloads of
gated and private files with the session cookie (GET/HEAD only)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.accounts import service as accounts
from baton.accounts import web_sessions
from baton.app import create_app
from baton.core.runtime import Runtime

from .repo_support import make_repo
from .sign_in_support import HTML, sign_in_csrf, sign_in_with_password, sign_in_with_token

BOB = "bob's plum orbit 42"
ALICE = "keeper of the lighthouse"
ENGLISH = HTML | {"Accept-Language": "en"}
KOREAN = HTML | {"Accept-Language": "ko"}
COOKIE = web_sessions.COOKIE_NAME


@pytest.fixture
def people(runtime: Runtime, users: Any) -> Any:
    """alice (site admin) and bob have passwords; carol signs in with tokens only."""
    web_sessions.reset_password(runtime, "bob", BOB)
    web_sessions.reset_password(runtime, "alice", ALICE)
    return users


def new_browser(runtime: Runtime, headers: dict[str, str] = ENGLISH) -> TestClient:
    return TestClient(create_app(runtime=runtime), base_url="http://testserver", headers=headers)


def signed_in(runtime: Runtime, name: str, password: str, user_agent: str = "TestBrowser/1") -> TestClient:
    browser = new_browser(runtime, ENGLISH | {"user-agent": user_agent})
    answer = sign_in_with_password(browser, name, password)
    assert answer.status_code == 303, answer.text
    return browser


def csrf_in(page: str, form_id: str | None = None) -> str:
    if form_id is not None:
        page = page.split(f'id="{form_id}"', 1)[1]
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF value in the page"
    return found.group(1)


def viewer_of(browser: TestClient) -> str | None:
    found = re.search(r'<strong id="viewer">([^<]+)</strong>', browser.get("/commons").text)
    return found.group(1) if found else None


def error_of(page: str, element: str) -> str:
    found = re.search(rf'id="{element}">([^<]+)<', page)
    assert found, f"no #{element} on the page"
    return found.group(1)


# --- /login --------------------------------------------------------------------------------------


def test_password_sign_in_sets_the_session_cookie_and_goes_to_next(runtime: Runtime, people: Any) -> None:
    browser = new_browser(runtime)
    page = browser.get("/login", params={"next": "/commons"})
    assert 'id="password-form"' in page.text and 'id="token-form"' in page.text
    assert 'autocomplete="current-password"' in page.text and 'value="/commons"' in page.text
    presession = page.headers["set-cookie"]
    assert presession.startswith("baton_presession=") and "HttpOnly" in presession and "SameSite=lax" in presession
    answer = browser.post(
        "/login",
        data={"name": "bob", "password": BOB, "next": "/commons", "csrf": csrf_in(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/commons"
    cookie = next(value for value in answer.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}="))
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age=43200"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie  # plain http in the test; https sets it (tests/accounts)
    assert web_sessions.actor_from_cookie(runtime, browser.cookies[COOKIE]) is not None
    header = browser.get("/commons").text
    assert viewer_of(browser) == "bob"
    assert 'href="/bob" id="viewer-link"' in header and 'href="/settings/account"' in header
    assert 'id="sign-out"' in header and csrf_in(header.split('class="account"', 1)[1])


def test_token_sign_in_has_the_tokens_scopes_and_ends_with_it(runtime: Runtime, people: Any) -> None:
    with runtime.database.session(write=True) as session:
        issued = accounts.issue_token(session, accounts.get_account(session, "carol"), scopes=["read"])
        value, token_id = issued.value, issued.token.id
    browser = new_browser(runtime)
    answer = sign_in_with_token(browser, value, "/talent")
    assert answer.status_code == 303 and answer.headers["location"] == "/talent"
    assert viewer_of(browser) == "carol"
    actor = web_sessions.actor_from_cookie(runtime, browser.cookies[COOKIE])
    assert actor is not None and actor.scopes == frozenset({"read"})
    with runtime.database.session(write=True) as session:
        accounts.revoke_token(session, accounts.get_account(session, "carol"), token_id)
    assert viewer_of(browser) is None


@pytest.mark.parametrize(
    ("name", "password"),
    [("bob", "not bob's password at all"), ("nobody-here", BOB), ("carol", "carol has none yet"), ("lab", BOB)],
)
def test_a_failed_sign_in_says_one_generic_thing_in_the_pages_language(
    runtime: Runtime, people: Any, name: str, password: str
) -> None:
    english = new_browser(runtime)
    answer = sign_in_with_password(english, name, password, "/commons")
    assert answer.status_code == 401 and COOKIE not in english.cookies
    assert error_of(answer.text, "login-error") == "The user name or password is wrong."
    assert 'value="/commons"' in answer.text and f'value="{name}"' in answer.text  # next and the name are kept
    korean = new_browser(runtime, KOREAN)
    answer = sign_in_with_password(korean, name, password)
    assert error_of(answer.text, "login-error") == "사용자 이름 또는 비밀번호가 틀렸습니다."


def test_a_wrong_token_is_refused_on_the_page(runtime: Runtime, people: Any) -> None:
    browser = new_browser(runtime)
    answer = sign_in_with_token(browser, "baton_not-a-real-token")
    assert answer.status_code == 401 and COOKIE not in browser.cookies
    assert error_of(answer.text, "login-error") == "That token is not valid (or was revoked)."
    assert '<details class="card sign-in-token" open id="token-sign-in">' in answer.text  # the token form, open


def test_repeated_failures_are_limited_and_the_page_says_when_to_retry(runtime: Runtime, people: Any) -> None:
    browser = new_browser(runtime)
    for _ in range(web_sessions.FAILURES_PER_NAME_AND_CLIENT.failures):
        assert sign_in_with_password(browser, "bob", "a wrong guess again").status_code == 401
    answer = sign_in_with_password(browser, "bob", BOB)  # even the right one waits
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    message = error_of(answer.text, "login-error")
    assert message == f"Too many sign-in attempts. Try again in {answer.headers['Retry-After']} seconds."
    assert COOKIE not in browser.cookies


def test_the_sign_in_form_needs_its_csrf_value_from_this_browser(runtime: Runtime, people: Any) -> None:
    victim, attacker = new_browser(runtime), new_browser(runtime)
    without_page = victim.post("/login", data={"name": "bob", "password": BOB}, follow_redirects=False)
    assert without_page.status_code == 403 and COOKIE not in victim.cookies
    assert error_of(without_page.text, "login-error").startswith("This form has expired")
    sign_in_csrf(victim)
    for csrf in ("", "0" * 64, sign_in_csrf(attacker)):
        answer = victim.post("/login", data={"name": "bob", "password": BOB, "csrf": csrf}, follow_redirects=False)
        assert answer.status_code == 403 and COOKIE not in victim.cookies, csrf
    # The refusal counted no failed sign-in, and the form still works from its own page.
    assert sign_in_with_password(victim, "bob", BOB).status_code == 303


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil.example", "/%0d%0aX:1\r\n", "javascript:x"],
)
def test_next_never_leaves_the_site(runtime: Runtime, people: Any, target: str) -> None:
    browser = new_browser(runtime)
    shown = browser.get("/login", params={"next": target}).text
    assert 'name="next" value="/"' in shown
    csrf = sign_in_csrf(browser)
    answer = browser.post(
        "/login", data={"name": "bob", "password": BOB, "next": target, "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_next_path_on_the_site_is_kept(runtime: Runtime, people: Any) -> None:
    answer = sign_in_with_password(new_browser(runtime), "bob", BOB, "/lab/tiny?tab=files")
    assert answer.headers["location"] == "/lab/tiny?tab=files"


# --- /logout -------------------------------------------------------------------------------------


def test_sign_out_needs_its_csrf_value_and_ends_the_session(runtime: Runtime, people: Any) -> None:
    browser = signed_in(runtime, "bob", BOB)
    old_cookie = browser.cookies[COOKIE]
    confirm = browser.get("/logout")
    assert confirm.status_code == 200 and 'id="confirm-sign-out"' in confirm.text
    for csrf in ("", "f" * 64):
        refused = browser.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 403
        assert viewer_of(browser) == "bob"
    answer = browser.post("/logout", data={"csrf": csrf_in(confirm.text, "logout-form")}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cleared = next(value for value in answer.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}="))
    assert "Max-Age=0" in cleared and "Path=/" in cleared
    assert viewer_of(browser) is None
    # The old value, replayed from elsewhere, opens nothing: the session ended in the database.
    replay = new_browser(runtime)
    replay.cookies.set(COOKIE, old_cookie)
    assert viewer_of(replay) is None
    assert web_sessions.actor_from_cookie(runtime, old_cookie) is None


# --- /settings/account ---------------------------------------------------------------------------


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(runtime: Runtime, people: Any) -> None:
    here, elsewhere = signed_in(runtime, "bob", BOB, "Here/1"), signed_in(runtime, "bob", BOB, "Elsewhere/2")
    old_cookie = here.cookies[COOKIE]
    page = here.get("/settings/account").text
    csrf = csrf_in(page, "password-change-form")
    form = {"current_password": BOB, "new_password": "a quiet harbour at dawn", "csrf": csrf}
    cases = [
        ({"new_password_again": "a quiet harbour at dusk"}, 400, "The two new passwords differ"),
        ({"current_password": "not it", "new_password_again": form["new_password"]}, 403, "The current password is"),
        ({"new_password": "short9", "new_password_again": "short9"}, 400, "too short: use at least 12"),
        ({"new_password": "password1234", "new_password_again": "password1234"}, 400, "too easy to guess"),
        ({"csrf": "", "new_password_again": form["new_password"]}, 403, None),
    ]
    for change, status, message in cases:
        answer = here.post("/settings/account/password", data=form | change, follow_redirects=False)
        assert answer.status_code == status, (change, answer.text)
        if message is not None:
            assert message in error_of(answer.text, "password-error")
        assert viewer_of(elsewhere) == "bob"  # nothing changed yet
    answer = here.post(
        "/settings/account/password", data=form | {"new_password_again": form["new_password"]}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/settings/account?done=password"
    assert here.cookies[COOKIE] != old_cookie  # rotated
    assert viewer_of(here) == "bob" and viewer_of(elsewhere) is None
    assert web_sessions.actor_from_cookie(runtime, old_cookie) is None
    assert "Your password was changed" in here.get("/settings/account?done=password").text
    assert sign_in_with_password(new_browser(runtime), "bob", BOB).status_code == 401
    assert sign_in_with_password(new_browser(runtime), "bob", "a quiet harbour at dawn").status_code == 303


def test_a_token_sign_in_without_a_password_cannot_set_one(runtime: Runtime, people: Any) -> None:
    browser = new_browser(runtime)
    sign_in_with_token(browser, people["carol"])
    page = browser.get("/settings/account").text
    assert 'id="no-password"' in page and 'id="password-change-form"' not in page
    form = {"new_password": "a seed planted here now", "new_password_again": "a seed planted here now"}
    answer = browser.post("/settings/account/password", data=form | {"csrf": csrf_in(page)}, follow_redirects=False)
    assert answer.status_code == 403 and "an operator sets the first one" in error_of(answer.text, "password-error")
    assert not web_sessions.has_password(runtime, "carol")


def test_an_operator_gives_the_current_password_too_on_the_page(runtime: Runtime, people: Any) -> None:
    alice = signed_in(runtime, "alice", ALICE)
    page = alice.get("/settings/account").text
    form = {"new_password": "a new lamp for the keeper", "new_password_again": "a new lamp for the keeper"}
    for current in ("", "a wrong one for the keeper"):
        data = form | {"current_password": current, "csrf": csrf_in(page)}
        answer = alice.post("/settings/account/password", data=data, follow_redirects=False)
        assert answer.status_code in (400, 403), answer.text
    assert sign_in_with_password(new_browser(runtime), "alice", ALICE).status_code == 303  # unchanged


def test_the_sessions_list_and_signing_out_everywhere_else(runtime: Runtime, people: Any) -> None:
    here = signed_in(runtime, "bob", BOB, "HereBrowser/1.0")
    others = [signed_in(runtime, "bob", BOB, f"OtherBrowser/{number}") for number in (2, 3)]
    signed_in(runtime, "alice", ALICE, "AliceBrowser/9")
    page = here.get("/settings/account").text
    table = page.split('id="sessions-table"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == 4  # the head and bob's three sessions
    assert "OtherBrowser/2" in table and "OtherBrowser/3" in table and "AliceBrowser" not in table, table
    this_row = table.split('id="this-session"', 1)[1].split("</tr>", 1)[0]
    assert "HereBrowser/1.0" in this_row and "This session" in this_row and " UTC" in this_row
    assert "The password" in this_row
    refused = here.post("/settings/account/sessions/end-others", data={"csrf": "0" * 64}, follow_redirects=False)
    assert refused.status_code == 403 and all(viewer_of(other) == "bob" for other in others)
    answer = here.post(
        "/settings/account/sessions/end-others",
        data={"csrf": csrf_in(page, "end-others-form")},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/settings/account?done=sessions"
    assert viewer_of(here) == "bob" and all(viewer_of(other) is None for other in others)
    after = here.get("/settings/account?done=sessions").text
    assert 'id="no-other-sessions"' in after and "Your other sign-ins were ended." in after


def test_account_settings_need_a_sign_in(runtime: Runtime, people: Any) -> None:
    anonymous = new_browser(runtime)
    page = anonymous.get("/settings/account", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fsettings%2Faccount"
    for path in ("/settings/account/password", "/settings/account/sessions/end-others"):
        answer = anonymous.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


# --- the operator's password page ----------------------------------------------------------------


def test_an_operator_sets_a_users_password_and_ends_their_sessions(runtime: Runtime, people: Any) -> None:
    bob = signed_in(runtime, "bob", BOB)
    alice = signed_in(runtime, "alice", ALICE)
    assert 'href="/settings/users/bob/password"' in alice.get("/bob").text
    assert 'id="set-password-link"' not in bob.get("/carol").text
    page = alice.get("/settings/users/bob/password")
    assert page.status_code == 200 and 'id="user-password-form"' in page.text
    form = {"new_password": "set by the operator today", "new_password_again": "set by the operator today"}
    refused = alice.post("/settings/users/bob/password", data=form | {"csrf": ""}, follow_redirects=False)
    assert refused.status_code == 403 and viewer_of(bob) == "bob"
    weak = alice.post(
        "/settings/users/bob/password",
        data={"new_password": "tiny", "new_password_again": "tiny", "csrf": csrf_in(page.text)},
    )
    assert weak.status_code == 400 and "too short" in error_of(weak.text, "user-password-error")
    answer = alice.post("/settings/users/bob/password", data=form | {"csrf": csrf_in(page.text)})
    assert answer.status_code == 200
    assert "1 web session was ended" in error_of(answer.text, "user-password-done")
    assert viewer_of(bob) is None and viewer_of(alice) == "alice"
    assert sign_in_with_password(new_browser(runtime), "bob", form["new_password"]).status_code == 303
    # A first password for a user who had none.
    first = alice.post("/settings/users/carol/password", data=form | {"csrf": csrf_in(page.text)})
    assert first.status_code == 200 and web_sessions.has_password(runtime, "carol")


def test_only_operators_set_other_peoples_passwords(runtime: Runtime, people: Any) -> None:
    bob = signed_in(runtime, "bob", BOB)
    csrf = csrf_in(bob.get("/settings/account").text)
    assert bob.get("/settings/users/carol/password").status_code == 403
    form = {"new_password": "bob sets carol's", "new_password_again": "bob sets carol's", "csrf": csrf}
    assert bob.post("/settings/users/carol/password", data=form).status_code == 403
    assert not web_sessions.has_password(runtime, "carol")
    # An admin signed in with a token lacking the admin scope (read and vote only) is no operator either.
    narrow = new_browser(runtime)
    with runtime.database.session(write=True) as session:
        token = accounts.issue_token(session, accounts.get_account(session, "alice"), scopes=["vote"]).value
    sign_in_with_token(narrow, token)
    assert narrow.get("/settings/users/carol/password").status_code == 403
    anonymous = new_browser(runtime).get("/settings/users/carol/password", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_operator_page_knows_only_users(runtime: Runtime, people: Any) -> None:
    alice = signed_in(runtime, "alice", ALICE)
    for name in ("nobody-here", "lab", "bad%00name"):
        assert alice.get(f"/settings/users/{name}/password").status_code == 404, name
    own = alice.get("/settings/users/alice/password", follow_redirects=False)
    assert own.status_code == 303 and own.headers["location"] == "/settings/account"


# --- downloads of gated and private files with the session cookie --------------------------------


@pytest.fixture
def files(runtime: Runtime, people: Any) -> Any:
    make_repo(runtime, "lab/secret", {"weights.bin": b"private bytes"}, private=True)
    make_repo(runtime, "lab/gated", {"weights.bin": b"gated bytes"}, gated="manual")
    make_repo(runtime, "lab/open", {"weights.bin": b"open bytes"})
    return people


ANY = {"Accept": "*/*"}


def test_a_signed_in_reader_downloads_gated_and_private_files(runtime: Runtime, files: Any) -> None:
    anonymous = new_browser(runtime)
    assert anonymous.get("/lab/secret/resolve/main/weights.bin", headers=ANY).status_code == 404
    assert anonymous.get("/lab/gated/resolve/main/weights.bin", headers=ANY).status_code == 401
    assert anonymous.get("/lab/open/resolve/main/weights.bin", headers=ANY).content == b"open bytes"
    bob = signed_in(runtime, "bob", BOB)  # a member of lab
    for repo, body in (("secret", b"private bytes"), ("gated", b"gated bytes")):
        answer = bob.get(f"/lab/{repo}/resolve/main/weights.bin", headers=ANY)
        assert answer.status_code == 200 and answer.content == body
        assert (
            answer.headers["x-content-type-options"] == "nosniff"
            and "sandbox" in answer.headers["content-security-policy"]
        )
        assert bob.head(f"/lab/{repo}/resolve/main/weights.bin", headers=ANY).status_code == 200
    # The links on the repo's page are the hub's download route.
    assert 'href="/lab/secret/resolve/main/weights.bin"' in bob.get("/lab/secret/tree/main").text


def test_a_signed_in_non_reader_is_refused_the_files(runtime: Runtime, files: Any) -> None:
    carol = new_browser(runtime)
    sign_in_with_token(carol, files["carol"])
    assert viewer_of(carol) == "carol"
    assert carol.get("/lab/secret/resolve/main/weights.bin", headers=ANY).status_code == 404
    assert carol.get("/lab/gated/resolve/main/weights.bin", headers=ANY).status_code == 403


def test_an_authorization_header_wins_over_the_cookie(runtime: Runtime, files: Any) -> None:
    bob = signed_in(runtime, "bob", BOB)
    path = "/lab/secret/resolve/main/weights.bin"
    assert bob.get(path, headers=ANY | {"Authorization": "Bearer baton_wrong"}).status_code == 401
    assert bob.get(path, headers=ANY | {"Authorization": "Basic Ym9iOmJvYg=="}).status_code == 404  # anonymous
    assert bob.get(path, headers=ANY | files.headers("carol")).status_code == 404  # carol's token, not bob's cookie


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/repos/create", {"json": {"name": "by-cookie", "organization": "lab"}}),
        ("PUT", "/api/models/lab/open/settings", {"json": {"private": True}}),
        ("POST", "/api/models/lab/open/branch/by-cookie", {"json": {}}),
        ("DELETE", "/api/repos/delete", {"json": {"name": "open", "organization": "lab", "type": "model"}}),
        ("POST", "/api/models/lab/gated/ask-access", {"json": {}}),
        ("PUT", "/api/users/bob/password", {"json": {"current_password": BOB, "new_password": "cookie made this"}}),
        (
            "POST",
            "/api/models/lab/open/commit/main",
            {
                "content": b'{"key": "header", "value": {"summary": "by cookie"}}\n'
                b'{"key": "file", "value": {"path": "c.txt", "content": "Yw==", "encoding": "base64"}}',
                "headers": {"Content-Type": "application/x-ndjson"},
            },
        ),
        ("POST", "/lab/open.git/info/lfs/objects/batch", {"json": {"operation": "upload", "objects": []}}),
        ("GET", "/api/whoami-v2", {}),
    ],
)
def test_the_cookie_alone_never_writes_through_the_api(
    runtime: Runtime, files: Any, method: str, path: str, body: dict[str, Any]
) -> None:
    bob = signed_in(runtime, "bob", BOB)  # a member of lab: with a token, each of these would succeed
    headers = {"Accept": "application/json", **body.get("headers", {})}
    options = {key: value for key, value in body.items() if key != "headers"}
    answer = bob.request(method, path, headers=headers, follow_redirects=False, **options)
    assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
    with runtime.database.session() as session:
        from baton.hub import repos

        assert repos.find_repo(session, repos.parse_repo_id("model", "lab/by-cookie")) is None
        opened = repos.find_repo(session, repos.parse_repo_id("model", "lab/open"))
        assert opened is not None and not opened.private
    assert sign_in_with_password(new_browser(runtime), "bob", BOB).status_code == 303  # password unchanged
