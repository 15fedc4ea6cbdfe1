"""Untrusted input at the HTTP edge: header values and integer ids (issue 12, items 7 and 8).

- An error message holding a control character (``?lang=%08``, a repo name with ``%01``) went
  into ``X-Error-Message``; uvicorn refuses such a header and drops the connection unanswered.
- Integer ids past 2**63 raised OverflowError in SQLite's driver, past 2**31 a DataError on
  PostgreSQL (INTEGER columns): a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from baton.app import create_app
from baton.core.http import MAX_DB_ID, MAX_DB_INT, header_value, install_error_handlers
from baton.core.runtime import Runtime

CONTROL_PROBES = ["/api/talent/notices?lang=%08", "/api/models/bob/x%01", "/api/models/bob/x%7f/refs"]


def assert_header_safe(response: httpx.Response) -> None:
    for name, value in response.headers.raw:
        assert not re.search(rb"[\x00-\x1f\x7f]", value), (name, value)


@pytest.mark.parametrize("url", CONTROL_PROBES)
def test_error_messages_with_control_characters_keep_headers_sendable(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.text
    assert_header_safe(response)
    # The character is shown escaped in the header and kept as it was in the JSON body.
    assert "\\x" in response.headers["x-error-message"]
    assert {"error", "message", "hint"} <= response.json().keys()


@pytest.mark.integration
@pytest.mark.parametrize("url", CONTROL_PROBES)
def test_a_real_server_answers_those_probes_instead_of_dropping_the_connection(live_server: Any, url: str) -> None:
    response = httpx.get(live_server.url + url, timeout=10)  # a dropped connection raises here
    assert response.status_code == 400
    assert response.json()["error"] in ("InvalidConsent", "InvalidName")


def test_header_value_escapes_what_a_header_cannot_carry() -> None:
    assert header_value("plain text") == "plain text"
    assert header_value("a\x08b\x00c\x7fd") == "a\\x08b\\x00c\\x7fd"
    assert header_value("line\nbreak\r\tand tab") == "line break  and tab"
    assert header_value("한국어 \u200b") == "\\ud55c\\uad6d\\uc5b4 \\u200b"
    assert header_value("  \n edges \t") == "edges"
    assert len(header_value("\x01" * 10_000)) <= 500


def test_any_header_a_route_builds_from_input_is_made_sendable() -> None:
    """The middleware behind install_error_handlers catches headers no route escaped."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/echo")
    def echo(name: str) -> Response:
        return Response("ok", headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Plain": "fine"})

    with TestClient(app) as client:
        response = client.get("/echo", params={"name": "a\x01\nb.txt"})
    assert response.status_code == 200 and response.text == "ok"
    assert_header_safe(response)
    assert response.headers["content-disposition"] == 'attachment; filename="a\\x01 b.txt"'
    assert response.headers["x-plain"] == "fine"


# --- integer ids ----------------------------------------------------------------------------------


def api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    """Every API route of the app, through included routers (kept whole by newer FastAPI)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def integer_parameters(route: APIRoute) -> Iterator[Any]:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        for parameter in (*dependant.path_params, *dependant.query_params):
            annotation = parameter.field_info.annotation
            if annotation is int or (hasattr(annotation, "__args__") and int in annotation.__args__):
                yield parameter
        stack.extend(dependant.dependencies)


def bounds(parameter: Any) -> tuple[int | None, int | None]:
    low = high = None
    for constraint in parameter.field_info.metadata:
        low = getattr(constraint, "ge", None) if getattr(constraint, "ge", None) is not None else low
        high = getattr(constraint, "le", None) if getattr(constraint, "le", None) is not None else high
    return low, high


def test_every_integer_path_and_query_parameter_is_bounded_to_the_database(runtime: Runtime) -> None:
    """No route takes a bare int: ids use core.http.DbId, counts QueryCount (or tighter bounds)."""
    app = create_app(runtime=runtime)
    seen = []
    for route in api_routes(app.routes):
        for parameter in integer_parameters(route):
            low, high = bounds(parameter)
            where = f"{route.path} {parameter.name}"
            assert low is not None and low >= 0, f"{where}: no lower bound"
            assert high is not None and high <= MAX_DB_INT, f"{where}: no upper bound within a 64-bit column"
            if parameter.name.endswith("_id"):
                assert low >= 1 and high <= MAX_DB_ID, f"{where}: an id is 1..MAX_DB_ID (INTEGER columns)"
            seen.append(where)
    assert len(seen) >= 25  # the walk found the routes (ids of runs, reports, openings, ...)


def id_routes(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    for route in api_routes(app.routes):
        ids = [p.name for p in integer_parameters(route) if p.name.endswith("_id")]
        for method in sorted(route.methods):
            if ids:
                yield method, route.path, ids[0]


def fill(path: str, values: dict[str, str]) -> str:
    """The route's path with its parameters filled in: ``values`` where given, else 'x'."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda match: values.get(match[1], "x"), path)


@pytest.mark.parametrize("value", [2**31, 2**63, 10**30, MAX_DB_ID, 0, -1])
def test_ids_past_the_database_range_are_a_clear_4xx_on_every_route(client: TestClient, users: Any, value: int) -> None:
    app = client.app
    assert isinstance(app, FastAPI)
    probed = 0
    for method, path, id_name in id_routes(app):
        url = fill(path, {id_name: str(value)})
        response = client.request(method, url, headers=users.headers("alice"), json={})
        assert response.status_code < 500, f"{method} {url}: {response.text}"
        if not path.startswith("/api/"):  # a page: a sign-in page or an error page, never a 500
            continue
        body = response.json()
        assert {"error", "message", "hint"} <= body.keys(), f"{method} {url}: {body}"
        if value > MAX_DB_ID or value < 1:
            assert response.status_code == 400 and id_name in body["message"], f"{method} {url}: {body}"
        probed += 1
    assert probed >= 20


@pytest.mark.parametrize(
    "url",
    [
        "/api/evaluation/runs?limit=99999999999999999999",
        "/api/evaluation/runs/1/items?offset=18446744073709551616",
        "/api/talent/skills?q=x&limit=-1",
        "/api/talent/exposure?top_k=99999999999999999999",
    ],
)
def test_integer_query_parameters_out_of_range_are_a_clear_400(client: TestClient, users: Any, url: str) -> None:
    response = client.get(url, headers=users.headers("alice"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "BadRequest"
