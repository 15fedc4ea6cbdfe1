"""Every route is declared in ``baton.access`` and behaves as its rule says, for every kind of caller.

The static test reads the routes' dependencies; the walk calls every route of a small world (a
challenge with three teams, their repos, a talent opening) as anonymous, with a read-only token of
a member, with a full token of someone outside the team, as the member, and as the operator, and
checks what the rule promises each of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from baton import access
from baton.accounts import service as accounts
from baton.core.ratelimit import RateLimiter
from baton.core.runtime import Runtime
from baton.domains import build_registry
from challenge.ce_support import make_world, submit_all  # tests/ is on the path: its folders are packages

NLP = "10010179"  # an ACM CCS code: natural language processing
TOKEN_DEPENDENCIES = {"required_user", "write_user", "vote_user", "review_user", "operator_user"}


def _routes() -> Iterator[tuple[str, str, APIRoute]]:
    for router in build_registry().ordered_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            for method in sorted(route.methods):
                yield method, route.path, route


def _dependency_names(route: APIRoute) -> set[str]:
    names: set[str] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        names.add(getattr(dependency.call, "__name__", ""))
        pending.extend(dependency.dependencies)
    return names


def test_every_route_is_declared_once_and_enforces_its_rule() -> None:
    served = {(method, path) for method, path, _route in _routes()}
    undeclared = sorted(served - set(access.ROUTES))
    assert not undeclared, f"declare these routes in baton.access.ROUTES: {undeclared}"
    stale = sorted(set(access.ROUTES) - served)
    assert not stale, f"baton.access.ROUTES names routes that do not exist: {stale}"
    for method, path, route in _routes():
        rule = access.ROUTES[(method, path)]
        names = _dependency_names(route)
        needed = access.ENFORCED_BY.get(rule)
        if needed is not None:
            assert needed in names, f"{method} {path} is {rule} but does not depend on {needed}: {sorted(names)}"
        if rule in (access.PUBLIC, access.SIGNED_LINK):
            assert not names & TOKEN_DEPENDENCIES, f"{method} {path} is {rule} but requires a token"
        if method not in ("GET", "HEAD") and rule in (access.PUBLIC, access.SIGNED_IN):
            # Only sign-in, sign-out, reads by POST and the YAML check change nothing or need no token.
            assert path in {"/login", "/logout", "/api/validate-yaml"} or "paths-info" in path, (
                f"{method} {path} changes state but is {rule}"
            )


# --- the walk ------------------------------------------------------------------------------------

OPERATOR, MEMBER, OUTSIDER = "op", "m-team-a", "m-team-b"


@dataclass
class Caller:
    name: str
    headers: dict[str, str]


def _token(runtime: Runtime, user: str, scopes: list[str]) -> dict[str, str]:
    with runtime.database.session(write=True) as session:
        value = accounts.issue_token(session, accounts.get_account(session, user), scopes=scopes).value
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def world(runtime: Runtime, client: TestClient) -> dict[str, Any]:
    challenge = make_world(runtime)
    submit_all(challenge)
    runtime.rate_limiter = RateLimiter({})  # hundreds of calls from one address: not what this test is about
    callers = {
        "anonymous": Caller("anonymous", {}),
        "reader": Caller("reader", _token(runtime, MEMBER, ["read"])),
        "outsider": Caller("outsider", _token(runtime, OUTSIDER, ["write"])),
        "member": Caller("member", _token(runtime, MEMBER, ["write"])),
        "operator": Caller("operator", _token(runtime, OPERATOR, ["write"])),
    }
    opening = client.post(
        "/api/talent/openings",
        json={"organization": "org-team-a", "title": "Research engineer", "required_skills": [NLP], "places": 1},
        headers=callers["member"].headers,
    )
    assert opening.status_code in (200, 201), opening.text
    return {"slug": challenge.slug, "opening": opening.json()["id"], "callers": callers}


def _path_values(world: dict[str, Any]) -> dict[str, str]:
    return {
        "type_plural": "models",
        "repo_type": "model",
        "namespace": "org-team-a",
        "name": "model",
        "repo_git": "model.git",
        "revision": "main",
        "rest": "main",
        "branch": "feature",
        "tag": "v1",
        "status": "pending",
        "slug": world["slug"],
        "challenge": world["slug"],
        "stage": "stage-1",
        "team": "team-a",
        "gate": "independence",
        "opening_id": str(world["opening"]),
        "organization": "org-team-a",
        "oid": "a" * 64,
        "size": "3",
        "upload_id": "upload",
        "part": "1",
        "purpose": "pool",
        "version": "1",
        "public_id": "nobody",
        "answer": "accept",
    }


def _url(path: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name == "rest" and "resolve" in path:
            return "main/notes.txt"
        return values.get(name, "1")

    return re.sub(r"\{([^}]+)\}", fill, path)


def _ndjson(*lines: dict[str, Any]) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines)


# Valid bodies for the routes whose rule is MEMBER: the outsider must be refused for who they are,
# not for a malformed request.
MEMBER_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/repos/create"): {"json": {"name": "another", "organization": "org-team-a"}},
    ("DELETE", "/api/repos/delete"): {"json": {"name": "model", "organization": "org-team-a", "type": "model"}},
    ("POST", "/api/repos/move"): {"json": {"fromRepo": "org-team-a/model", "toRepo": "org-team-a/moved"}},
    ("PUT", "/api/{type_plural}/{namespace}/{name}/settings"): {"json": {"private": False}},
    ("POST", "/api/{type_plural}/{namespace}/{name}/branch/{branch:path}"): {"json": {}},
    ("POST", "/api/{type_plural}/{namespace}/{name}/tag/{revision:path}"): {"json": {"tag": "v1"}},
    ("POST", "/api/{type_plural}/{namespace}/{name}/preupload/{revision:path}"): {"json": {"files": []}},
    ("POST", "/api/{type_plural}/{namespace}/{name}/commit/{revision:path}"): {
        "content": _ndjson(
            {"key": "header", "value": {"summary": "probe"}},
            {"key": "file", "value": {"path": "probe.txt", "content": "cHJvYmU=", "encoding": "base64"}},
        ),
        "headers": {"Content-Type": "application/x-ndjson"},
    },
    ("POST", "/{namespace}/{repo_git}/info/lfs/objects/batch"): {"json": {"operation": "upload", "objects": []}},
    ("POST", "/{type_plural}/{namespace}/{repo_git}/info/lfs/objects/batch"): {
        "json": {"operation": "upload", "objects": []}
    },
    ("POST", "/api/{type_plural}/{namespace}/{name}/user-access-request/handle"): {
        "json": {"user": OUTSIDER, "status": "accepted"}
    },
    ("POST", "/api/{type_plural}/{namespace}/{name}/user-access-request/grant"): {"json": {"user": OUTSIDER}},
    ("PUT", "/api/challenges/{slug}/teams/{team}/release-plan"): {
        "json": {"repos": [{"repo": "org-team-a/model", "kind": "model", "license": "apache-2.0", "access": "public"}]}
    },
    ("POST", "/api/challenges/{slug}/stages/{stage}/submissions"): {
        "json": {"team": "team-a", "repo": "org-team-a/model"}
    },
    ("POST", "/api/challenges/{slug}/stages/{stage}/appeals"): {"json": {"team": "team-a", "text": "We object."}},
    ("POST", "/api/challenges/{slug}/stages/{stage}/applications"): {"json": {"team": "team-a"}},
    ("POST", "/api/talent/openings"): {
        "json": {"organization": "org-team-a", "title": "Another opening", "required_skills": [NLP]}
    },
    ("PATCH", "/api/talent/openings/{opening_id}"): {"json": {"title": "Renamed"}},
    ("PUT", "/api/talent/openings/{opening_id}/preferences"): {"json": {"people": []}},
    ("POST", "/api/talent/openings/{opening_id}/hires"): {"json": {"person": "nobody"}},
}
# Routes that would take the world apart if an allowed caller ran them here: checked for refusals only.
DESTRUCTIVE = {
    ("DELETE", "/api/repos/delete"),
    ("POST", "/api/repos/move"),
    ("POST", "/api/talent/openings/{opening_id}/close"),
    ("DELETE", "/api/talent/me"),
    ("POST", "/api/challenges/{slug}/stages/{stage}/decision"),
    ("POST", "/api/challenges/finalize"),
}


def _call(client: TestClient, method: str, path: str, url: str, caller: Caller) -> Any:
    request = MEMBER_BODIES.get((method, path), {"json": {}} if method in ("POST", "PUT", "PATCH") else {})
    headers = caller.headers | request.get("headers", {})
    options = {key: value for key, value in request.items() if key != "headers"}
    return client.request(method, url, headers=headers, follow_redirects=False, **options)


def _code(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


# Codes that mean "this caller, as such, may not": the ones an allowed caller must never get.
REFUSED_FOR_WHO = ("InsufficientScope", "NotOperator")


def _expectations(rule: str, caller: str) -> str | None:
    """What the rule promises this caller: refused-401, refused-scope, refused, allowed, page, or None."""
    if caller == "anonymous":
        if rule == access.PUBLIC:
            return "allowed"
        if rule == access.PAGE:
            return "page"
        return "refused-401"
    if rule in (access.WRITE, access.MEMBER, access.VOTE, access.REVIEW) and caller == "reader":
        return "refused-scope"
    if rule == access.OPERATOR and caller != "operator":
        return "refused"
    if rule == access.MEMBER and caller == "outsider":
        return "refused"
    if rule == access.SIGNED_LINK:
        return "refused-401"  # no signature: whoever calls
    if rule == access.OPERATOR or (rule == access.MEMBER and caller == "member"):
        return "allowed"
    if rule in (access.PUBLIC, access.SIGNED_IN) or (rule in (access.WRITE, access.VOTE, access.REVIEW)):
        return "allowed"
    return None


def test_every_route_answers_each_caller_as_its_rule_says(client: TestClient, world: dict[str, Any]) -> None:
    values = _path_values(world)
    callers: dict[str, Caller] = world["callers"]
    problems: list[str] = []
    checked = 0
    # Refusals first, then the callers who may act (whose calls change the world), the operator last.
    for caller_name in ("anonymous", "reader", "outsider", "member", "operator"):
        caller = callers[caller_name]
        for method, path, _route in _routes():
            rule = access.ROUTES[(method, path)]
            expected = _expectations(rule, caller_name)
            if expected is None or (expected == "allowed" and (method, path) in DESTRUCTIVE):
                continue
            if path == "/login":
                continue  # signing in with a token: tests/accounts and the page tests cover it
            response = _call(client, method, path, _url(path, values), caller)
            status, code = response.status_code, _code(response)
            where = f"{caller_name} {method} {path} ({rule}) -> {status} {code}"
            checked += 1
            if status >= 500 and code != "XetNotSupported":  # 501 on purpose: Baton speaks LFS, not Xet
                problems.append(where + ": server error")
            elif expected == "refused-401" and status != 401:
                problems.append(where + ": expected 401")
            elif expected == "refused-scope" and (status != 403 or code != "InsufficientScope"):
                problems.append(where + ": expected 403 InsufficientScope")
            elif expected == "refused" and status not in (403, 404):
                problems.append(where + ": expected 403 or 404")
            elif expected == "allowed" and (
                status == 401 or (status == 403 and code in ("InsufficientScope", "NotOperator"))
            ):
                problems.append(where + ": the rule allows this caller")
            elif expected == "page" and method == "GET" and (status in (401, 403) or not 200 <= status < 500):
                problems.append(where + ": a page answers or asks to sign in")
            elif expected == "page" and method != "GET" and 200 <= status < 300:
                problems.append(where + ": a form acted without a sign-in")
    assert not problems, "\n".join(problems)
    # Every route, for most callers (pages are walked as anonymous only: their own tests sign in).
    assert checked > 4 * sum(1 for rule in access.ROUTES.values() if rule != access.PAGE)
