"""The talent API's typed responses: every JSON route documents its 2xx shape in ``/openapi.json``, and
the typed answer is byte for byte what the service built, for every audience (no key added, none
dropped, same order, same values): profiles are shown differently per viewer, and a response
model must never add a hidden item, not even as ``null``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.app import create_app
from baton.core import clock
from baton.core.runtime import Runtime
from baton.talent import api, groups, matchmaking, service
from baton.talent import consent as notices
from baton.talent.errors import ProfileNotFoundError
from baton.talent.schemas import ExportDocument
from baton.web import talent_pages
from web.sign_in_support import sign_in_with_token

from .talent_helpers import ML, NLP, Cast, cast, consent, create_profile, listed_person

__all__ = ["cast"]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def test_every_json_route_documents_its_2xx_response(runtime: Runtime) -> None:
    spec = create_app(runtime=runtime).openapi()
    routes = [route for route in api.router.routes if isinstance(route, APIRoute)]
    assert len(routes) == 48
    for route in routes:
        assert route.response_model is not None, route.path
        assert route.response_model_exclude_unset, f"{route.path} must send only the keys the service wrote"
        for method in route.methods:
            operation = spec["paths"][route.path][method.lower()]
            status = str(route.status_code or 200)
            content = operation["responses"][status]["content"]["application/json"]
            schema = _resolve(spec, content["schema"])
            described = schema.get("properties") or schema.get("items") or schema.get("additionalProperties")
            assert described, f"{method} {route.path}: no response shape in /openapi.json ({schema})"
            if "items" in schema:
                item = _resolve(spec, schema["items"])
                assert item.get("properties") or item.get("oneOf") or item.get("anyOf"), (method, route.path)
    export = next(
        route for route in talent_pages.router.routes if isinstance(route, APIRoute) and route.path == "/talent/export"
    )
    assert export.responses[200]["model"] is ExportDocument


# --- per audience: the typed answer equals the service's dict exactly --------------------------------


def _same(response: httpx.Response, expected: Any) -> None:
    assert response.status_code < 300, response.text
    # json.dumps keeps key order and tells 1 from 1.0: equal text means the same keys, order and values.
    assert json.dumps(response.json(), ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


def _actor(session: Session, name: str) -> Actor:
    return accounts.actor_for(accounts.get_account(session, name))


@pytest.fixture
def world(client: httpx.Client, cast: Cast, fake_clock: clock.ManualClock) -> dict[str, Any]:
    """dave: every item collected, listed to the pool with a few items, hidden from 'rival', provided to
    newco with others, recommendation consent; fay: few items, listed to the pool; an opening of newco."""
    dave = cast.headers("dave")
    me = create_profile(
        client,
        dave,
        optional_items=list(notices.OPTIONAL_ITEMS),
        headline="NLP researcher",
        keywords=["형태소 분석", "parsing"],
        education=[{"institution": "KAIST", "degree": "PhD", "field": "CS", "year": 2020}],
        career=[{"organization": "Lab", "role": "postdoc", "start": "2021-03-01"}],
        publications=[{"url": "https://example.org/paper", "title": "A paper"}],
        patents=[{"url": "https://example.org/patent", "number": "10-1234"}],
        desired_roles=["researcher"],
        places=["Seoul"],
        earliest_start="2026-09-01",
        service_status="expert_research_personnel",
        service_until="2027-02-28",
    )
    listed_person(client, dave, "pool", items=("name", "skills", "headline", "places"), hidden_from=["rival"])
    consent(client, dave, "provision", ["name", "contact", "skills", "career", "service_status"], recipient="newco")
    assert client.post("/api/talent/me/provisions", json={"recipient": "newco"}, headers=dave).status_code == 201
    consent(client, dave, "recommendation", ["skills", "keywords", "places"])
    assert client.post("/api/talent/me/reviews", json={"subject": "ranking"}, headers=dave).status_code == 201
    fay = cast.headers("fay")
    fay_profile = create_profile(client, fay, name="Fay Park", email="fay@example.org", skills=[ML])
    listed_person(client, fay, "pool", items=("skills",))
    consent(client, fay, "recommendation", ["skills"])
    body = {"organization": "newco", "title": "NLP", "required_skills": [NLP, ML], "places": 2, "location": "Seoul"}
    opening = client.post("/api/talent/openings", json=body, headers=cast.headers("gus"))
    assert opening.status_code == 201, opening.text
    group = client.post("/api/talent/groups", json={"members": [fay_profile["id"]]}, headers=dave)
    assert group.status_code == 201, group.text
    accepted = client.post(f"/api/talent/groups/{group.json()['id']}/accept", headers=fay)
    assert accepted.status_code == 200, accepted.text
    assert client.post("/api/talent/matching-runs", headers=cast.headers("alice")).status_code == 201
    return {"dave": me["id"], "fay": fay_profile["id"], "opening": opening.json()["id"]}


PURPOSES = notices.PURPOSES
VIEWERS = ("dave", "fay", "gus", "bob", "carol", "alice", "erin")


def test_profiles_per_audience_are_exactly_the_service_dicts(
    client: httpx.Client, cast: Cast, runtime: Runtime, world: dict[str, Any]
) -> None:
    dave = world["dave"]
    shapes: dict[str, frozenset[str]] = {}
    for viewer in (*VIEWERS, None):
        headers = cast.headers(viewer) if viewer else {}
        answer = client.get(f"/api/talent/people/{dave}", headers=headers)
        with runtime.database.session() as session:
            actor = _actor(session, viewer) if viewer else None
            try:
                expected = service.profile_json(*service.visible_profile(session, actor, dave))
            except ProfileNotFoundError:
                assert answer.status_code == 404, (viewer, answer.text)
                continue
            listing = [service.profile_json(p, items) for p, items in service.visible_profiles(session, actor)]
        _same(answer, expected)
        shapes[str(viewer)] = frozenset(answer.json())
        if viewer:
            _same(client.get("/api/talent/people", headers=headers), listing)
    # The audiences really differ: the owner sees everything, newco its provision, the pool only the pool items.
    assert set(shapes) == {"dave", "fay", "gus", "bob", "carol", "alice"}
    assert shapes["bob"] == shapes["carol"] == shapes["fay"] == {"id", "name", "skills", "headline", "places"}
    assert "contact_email" in shapes["gus"] and "keywords" not in shapes["gus"]
    assert "keywords" in shapes["dave"] and "education" in shapes["dave"]


def test_own_views_exports_and_operator_views_are_exactly_the_service_dicts(
    client: httpx.Client, cast: Cast, runtime: Runtime, world: dict[str, Any]
) -> None:
    opening = world["opening"]

    def check(viewer: str, path: str, build: Callable[[Session, Actor], Any]) -> None:
        answer = client.get(path, headers=cast.headers(viewer))
        with runtime.database.session() as session:
            _same(answer, build(session, _actor(session, viewer)))

    def own_reviews(session: Session, actor: Actor) -> Any:
        return [service.review_json(review) for review in service.own_reviews(session, actor)]

    def me(session: Session, actor: Actor) -> Any:
        profile = service.own_profile(session, actor)
        return service.own_profile_json(session, profile) | {"requests": service.request_log(session, profile)}

    for person in ("dave", "fay"):
        check(person, "/api/talent/me", me)
        check(person, "/api/talent/me/export", service.export_profile)  # the clock is frozen: same exported_at
        check(person, "/api/talent/me/recommendations", matchmaking.recommendations_for_person)
        check(person, "/api/talent/me/matches", matchmaking.own_matches)
        check(person, "/api/talent/groups", groups.own_groups)
        check(
            person, "/api/talent/me/reviews", lambda s, a: [service.review_json(r) for r in service.own_reviews(s, a)]
        )
    matches = client.get("/api/talent/me/matches", headers=cast.headers("dave")).json()
    assert {"group", "proposed"} <= {match["kind"] for match in matches}, matches  # both shapes are checked
    check("gus", "/api/talent/organizations/newco/provided", lambda s, a: service.provided_profiles(s, a, "newco"))
    check(
        "gus",
        f"/api/talent/openings/{opening}/recommendations",
        lambda s, a: matchmaking.recommendations_for_opening(s, a, opening),
    )
    check(
        "alice",
        "/api/talent/reviews",
        lambda s, a: [service.review_for_operator(s, row) for row in service.list_reviews(s, a)],
    )
    check("alice", "/api/talent/matching-runs/1", lambda s, a: matchmaking.get_matching_run(s, a, 1))
    check("alice", "/api/talent/exposure", matchmaking.exposure)
    check("carol", "/api/talent/openings", lambda s, a: [service.opening_json(s, o) for o in service.list_openings(s)])
    check(
        "carol", "/api/talent/notices", lambda s, a: [notices.current_notice(p).render("ko") for p in notices.PURPOSES]
    )
    check("carol", "/api/talent/placements", lambda s, a: service.placements_by_team(s))

    # The export download (the page) carries the same document.
    signed_in = sign_in_with_token(client, cast["dave"], "/talent")
    assert signed_in.status_code == 303, signed_in.text
    download = client.get("/talent/export")
    assert "attachment" in download.headers["content-disposition"]
    with runtime.database.session() as session:
        _same(download, service.export_profile(session, _actor(session, "dave")))


def test_an_export_without_profile_adds_no_keys(client: httpx.Client, cast: Cast, runtime: Runtime) -> None:
    from baton.challenge.events import TeamLeft
    from baton.talent.service.invitations import invite_members

    left = TeamLeft(challenge="c", team="t", stage="s", reason="eliminated", at=clock.now(), members=("carol",))
    with runtime.database.session(write=True) as session:
        invite_members(session, left)
    answer = client.get("/api/talent/me/export", headers=cast.headers("carol"))
    assert list(answer.json()) == ["account", "profile", "invitations"]
    with runtime.database.session() as session:
        _same(answer, service.export_profile(session, _actor(session, "carol")))
