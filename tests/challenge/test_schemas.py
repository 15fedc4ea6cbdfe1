"""Typed responses: every JSON route of the challenge, commons, catalogue, provenance and evaluation
modules documents its response in /openapi.json, and real responses are exactly what their models say."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from baton.app import create_app
from baton.challenge import schemas as challenge_schemas
from baton.challenge import service
from baton.commons import schemas as commons_schemas
from baton.core import clock
from baton.core.runtime import Runtime
from baton.domains import build_registry
from baton.evaluation import schemas as evaluation_schemas
from baton.provenance import schemas as provenance_schemas

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, headers, make_world, submit_all

TYPED_MODULES = {
    "baton.challenge.api",
    "baton.challenge.panel_api",
    "baton.commons.api",
    "baton.web.catalogue",
    "baton.provenance.api",
    "baton.evaluation.api",
}


def typed_routes() -> list[APIRoute]:
    found = []
    for router in build_registry().ordered_routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.endpoint.__module__ in TYPED_MODULES and route.include_in_schema:
                found.append(route)
    return found


def test_every_json_route_documents_its_response(runtime: Runtime) -> None:
    document = create_app(runtime=runtime).openapi()
    routes = typed_routes()
    assert len(routes) >= 45
    for route in routes:
        for method in route.methods - {"HEAD"}:
            operation = document["paths"][route.path_format][method.lower()]
            success = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
            assert success, f"{method} {route.path}: no 2xx response"
            for code, answer in success.items():
                content = answer.get("content") or {}
                assert content, f"{method} {route.path}: {code} names no media type"
                for media_type, described in content.items():
                    assert described.get("schema"), f"{method} {route.path}: {code} {media_type} has no schema"
            if route.response_model is not None:  # (else a download or a page, described by its media types)
                assert route.response_model_exclude_unset, f"{route.path}: absent keys would come back as nulls"


def test_downloads_say_their_media_type(runtime: Runtime) -> None:
    paths = create_app(runtime=runtime).openapi()["paths"]
    ledger = paths["/api/challenges/{slug}/ledger"]["get"]["responses"]["200"]["content"]
    assert list(ledger) == ["application/x-ndjson"]
    report = paths["/api/challenges/{challenge}/stages/{stage}/report"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "text/html"} <= set(report)
    page = paths["/api/provenance/reports/{report_id}.html"]["get"]["responses"]["200"]["content"]
    assert "text/html" in page
    decision = paths["/api/challenges/{slug}/stages/{stage}/decision"]["get"]["responses"]["200"]["content"]
    assert decision["application/json"]["schema"] == {"$ref": "#/components/schemas/DecisionRecord"}


def exactly(model: Any, answer: httpx.Response, status: int = 200) -> Any:
    """The response validates against ``model`` and is exactly what the model writes back."""
    assert answer.status_code == status, answer.text
    data = answer.json()
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    parsed = adapter.validate_python(data)
    items = parsed if isinstance(parsed, list) else [parsed]
    assert all(isinstance(item, BaseModel) for item in items)
    again = adapter.dump_python(parsed, mode="json", exclude_unset=True)
    assert json.dumps(again) == json.dumps(data)  # same keys, same order, same numbers
    return data


def test_real_responses_validate_against_their_models(runtime: Runtime, client: httpx.Client) -> None:
    world = make_world(runtime, teams=3)
    models = submit_all(world)
    feed_inputs(world, models)
    base = f"/api/challenges/{world.slug}"
    op = headers(runtime, "op")
    with clock.frozen(BEFORE_DEADLINE):
        exactly(challenge_schemas.ChallengeDetail, client.get(base))
        exactly(list[challenge_schemas.Challenge], client.get("/api/challenges"))
        teams = exactly(list[challenge_schemas.TeamOut], client.get(f"{base}/teams"))
        assert teams[0]["release_plan"]["repos"][0]["repo"] == "org-team-a/model"
        exactly(challenge_schemas.ReleasePlan, client.get(f"{base}/teams/team-a/release-plan"))
        subs = exactly(list[challenge_schemas.SubmissionOut], client.get(f"{base}/stages/stage-1/submissions"))
        assert "sealed" not in subs[0]  # a public repo's submission carries no sealed name
        exactly(list[challenge_schemas.GateResult], client.get(f"{base}/gates/queue", headers=op))
    with clock.frozen(AFTER_DEADLINE):
        decided = exactly(challenge_schemas.Decision, client.post(f"{base}/stages/stage-1/decision", headers=op), 201)
        assert "final" not in decided  # the record as computed: finality comes with GET
        appeal = exactly(
            challenge_schemas.Appeal,
            client.post(
                f"{base}/stages/stage-1/appeals",
                headers=headers(runtime, "m-team-c"),
                json={"team": "team-c", "text": "Please recount."},
            ),
            201,
        )
        record = exactly(challenge_schemas.DecisionRecord, client.get(f"{base}/stages/stage-1/decision"))
        assert record["final"] is False and record["appeals"][0]["id"] == appeal["id"]
        assert record["teams"][0]["gates"]["independence"]["source"] == "override"
        exactly(list[challenge_schemas.Appeal], client.get(f"{base}/appeals"))
        verified = exactly(challenge_schemas.Verification, client.get(f"{base}/verify"))
        assert verified["ok"] is True
        ledger = client.get(f"{base}/ledger")
        assert ledger.headers["content-type"].startswith("application/x-ndjson")
        assert "bundle" in json.loads(ledger.text.splitlines()[0])
        exactly(list[commons_schemas.ReleaseItem], client.get("/api/commons/held", headers=op))
        exactly(
            list[commons_schemas.Action],
            client.get("/api/commons/actions", params={"challenge": world.slug}, headers=op),
        )
        exactly(commons_schemas.Catalogue, client.get("/api/commons"))


def test_evaluation_and_provenance_answers_validate(runtime: Runtime, client: httpx.Client) -> None:
    world = make_world(runtime, teams=2)
    op = headers(runtime, "op")
    exactly(list[evaluation_schemas.TaskInfo], client.get("/api/evaluation/tasks"))
    run = exactly(
        evaluation_schemas.Run,
        client.post(
            "/api/evaluation/runs", json={"model": "m", "backend": "dummy", "task": "kmmlu", "limit": 2}, headers=op
        ),
        201,
    )
    assert "manifest" not in run  # the detailed view only
    detail = exactly(evaluation_schemas.Run, client.get(f"/api/evaluation/runs/{run['id']}", headers=op))
    assert "attempts" in detail
    exactly(list[evaluation_schemas.Run], client.get("/api/evaluation/runs", headers=op))
    exactly(list[evaluation_schemas.RunItem], client.get(f"/api/evaluation/runs/{run['id']}/items", headers=op))
    exactly(evaluation_schemas.Results, client.get(f"/api/evaluation/runs/{run['id']}/results", headers=op))
    provenance = exactly(
        provenance_schemas.RepoProvenance, client.get(f"/api/models/{world.repo('team-a')}/provenance", headers=op)
    )
    assert provenance["summary"]["status"] == "no references"
    queued = exactly(
        provenance_schemas.ScanQueued,
        client.post(f"/api/models/{world.repo('team-a')}/provenance/scan", headers=headers(runtime, "m-team-a")),
    )
    assert queued["status"] == "queued"
    with runtime.database.session() as session:
        assert service.has_challenge(session, world.slug)
