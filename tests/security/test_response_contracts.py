"""The API's contract is written down: /openapi.json types the 2xx JSON answers, and no JSON route
answers an untyped ``dict[str, Any]``.

A client can be generated from the schema, and a renamed key is caught (by mypy in the handlers that
build the models, and by the schemathesis run that checks real answers against the schema).
"""

from __future__ import annotations

import typing
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from baton.app import create_app
from baton.core.runtime import Runtime

TARGET = 0.95  # the share of 2xx JSON answers the schema must type (the bar)


def _typed(schema: dict[str, Any] | None) -> bool:
    """A schema that says something: a reference, a type, or a union of such."""
    if not schema:
        return False
    if "$ref" in schema or "type" in schema:
        return True
    return any(_typed(part) for key in ("anyOf", "oneOf", "allOf") for part in schema.get(key, []))


def _json_answers(document: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    answers = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media_type, content in (response.get("content") or {}).items():
                    if "json" in media_type:
                        answers.append((f"{method.upper()} {path} {status} {media_type}", content.get("schema")))
    return answers


def test_the_schema_types_the_json_answers(runtime: Runtime) -> None:
    document = create_app(runtime=runtime).openapi()
    answers = _json_answers(document)
    untyped = sorted(label for label, schema in answers if not _typed(schema))
    assert len(answers) > 100
    share = 1 - len(untyped) / len(answers)
    assert share >= TARGET, f"{share:.1%} typed; untyped: {untyped}"
    assert untyped == [], f"answers with no schema: {untyped}"


def test_no_json_route_answers_an_untyped_dict(runtime: Runtime) -> None:
    loose, checked = [], 0
    for route in (route for router in runtime.registry.ordered_routers() for route in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if not issubclass(
            route.response_class if isinstance(route.response_class, type) else JSONResponse, JSONResponse
        ):
            continue  # files, pages, streams and empty answers declare their media types instead
        model = route.response_model
        checked += 1
        bare = model in (None, dict, typing.Any) or typing.get_origin(model) is dict
        if bare:
            loose.append(f"{sorted(route.methods)} {route.path} -> {model!r}")
    assert checked > 100
    assert loose == [], "JSON routes without a response model:\n" + "\n".join(loose)
