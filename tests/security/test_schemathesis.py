"""Schemathesis over /openapi.json against a real server: no 5xx, no dropped connection, and every
successful JSON answer conforms to the response schema the route declares, on any operation.

Every operation in the schema gets generated requests (valid and invalid parameters and bodies),
sent over a real socket to uvicorn, once with an operator's token (the deepest code paths) and
once without (the refusals). A 5xx other than the intended 501 for Xet, a connection that closes
without an answer, or a 2xx JSON body that does not match its declared schema (a renamed or missing
key, a wrong type) fails the test with the request that caused it.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from baton.core.ratelimit import RateLimiter
from baton.core.runtime import Runtime

# Examples per operation and caller; SCHEMATHESIS_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))


def _seed(live_server: Any, tokens: Any) -> None:
    """A little of everything for the generated requests to land on."""
    base = live_server.url
    for name, organization in (("model", "lab"), ("open", None)):
        body = {"name": name} | ({"organization": organization} if organization else {})
        created = requests.post(f"{base}/api/repos/create", json=body, headers=tokens.headers("bob"), timeout=30)
        assert created.status_code == 200, created.text


def _intended(response: requests.Response) -> bool:
    """A 501 for Xet is Baton saying what it does not speak, on purpose."""
    try:
        body = response.json()
    except ValueError:
        return False
    return response.status_code == 501 and isinstance(body, dict) and body.get("error") == "XetNotSupported"


# One database is enough for the fuzzing run (the route tests run on both).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_operation_answers_5xx_or_breaks_its_response_schema(live_server: Any, runtime: Runtime, users: Any) -> None:
    runtime.rate_limiter = RateLimiter({})  # thousands of requests from one address
    _seed(live_server, users)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    failures: list[str] = []
    session = requests.Session()
    callers = {"operator": users.headers("alice"), "anonymous": {}}
    operations = 0

    def probe_for(operation: Any, caller: str, headers: dict[str, str]) -> Any:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(case=operation.as_strategy())
        def probe(case: schemathesis.Case) -> None:
            label = f"{caller} {case.method} {case.formatted_path}"
            try:
                response = case.call(base_url=live_server.url, session=session, headers=headers, timeout=60)
            except requests.ConnectionError as error:
                failures.append(f"{label}: connection dropped ({type(error).__name__}): {case.as_curl_command()}")
                return
            if response.status_code >= 500 and not _intended(response):
                failures.append(f"{label}: {response.status_code} {response.text[:200]}: {case.as_curl_command()}")
            elif 200 <= response.status_code < 300 and "json" in response.headers.get("content-type", ""):
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except Exception as error:  # noqa: BLE001 - schemathesis raises a group of what the body breaks
                    failures.append(f"{label}: answer does not match its schema: {str(error)[:300]}")

        return probe

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for caller, headers in callers.items():
            try:
                probe_for(operation, caller, headers)()
            except hypothesis.errors.Unsatisfiable:
                continue
    assert operations > 100
    assert not failures, "\n".join(sorted(set(failures))[:40])
