"""Arbitrary bodies at the hub's upload endpoints: every answer is < 500 and, if an error, the one shape.

Hypothesis throws JSON of any shape (and some non-JSON bytes) at the LFS batch, paths-info,
preupload and NDJSON commit endpoints through the in-process client, mixing wholly random
values with objects that carry the real field names holding random values, so that the
parsers behind each field are reached too. Bounded: 50 examples per endpoint and database.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = "bob/fuzz"
FUZZ = settings(
    # A few seconds in the fast suite; BATON_FUZZ_EXAMPLES=2000 for a deeper run by hand.
    max_examples=int(os.environ.get("BATON_FUZZ_EXAMPLES", "50")),
    deadline=None,  # database round trips vary; the bound is the number of examples
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
SHA256 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
SIZES = st.integers(min_value=-2, max_value=2**70) | ANY_JSON
PATHS = st.sampled_from(["a.txt", "w/model.bin", "", "../x", "CON", "a\u200b"]) | st.text(max_size=30) | ANY_JSON


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Objects with (some of) the real field names, each holding a plausible or a random value."""
    return st.fixed_dictionaries({}, optional={name: values | ANY_JSON for name, values in fields.items()})


LFS_OBJECT = shaped({"oid": SHA256, "size": SIZES})
LFS_BATCH = shaped(
    {
        "operation": st.sampled_from(["upload", "download"]),
        "objects": st.lists(LFS_OBJECT | ANY_JSON, max_size=3),
        "transfers": st.lists(st.sampled_from(["basic", "multipart"]), max_size=2),
        "hash_algo": st.just("sha256"),
    }
)
PATHS_INFO = shaped({"paths": st.lists(PATHS, max_size=3), "expand": st.booleans()})
PREUPLOAD = shaped(
    {
        "files": st.lists(
            shaped({"path": PATHS, "size": SIZES, "sample": st.sampled_from(["", "eA==", "!"])}), max_size=3
        ),
        "gitIgnore": st.sampled_from(["", "*.log\n", "**/x"]),
    }
)
COMMIT_VALUES = {
    "header": shaped({"summary": st.text(max_size=10), "description": st.text(max_size=10), "parentCommit": SHA256}),
    "file": shaped({"path": PATHS, "content": st.sampled_from(["", "eA==", "%%"]), "encoding": st.just("base64")}),
    "lfsFile": shaped({"path": PATHS, "oid": SHA256, "size": SIZES, "algo": st.just("sha256")}),
    "deletedFile": shaped({"path": PATHS}),
    "deletedFolder": shaped({"path": PATHS}),
}
COMMIT_LINE = st.one_of(
    *(st.fixed_dictionaries({"key": st.just(key), "value": value}) for key, value in COMMIT_VALUES.items()),
    shaped({"key": st.sampled_from(list(COMMIT_VALUES)), "value": ANY_JSON}),
    ANY_JSON,
)
RAW = st.binary(max_size=64)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def as_ndjson(lines: list[Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    headers: dict[str, str] = users.headers("bob")
    response = client.post("/api/repos/create", json={"name": "fuzz", "type": "model"}, headers=headers)
    assert response.status_code == 200, response.text
    return headers


def assert_answered(response: httpx.Response) -> None:
    """No 5xx, headers a server can send, and every error in the one shape."""
    assert response.status_code < 500, response.text
    for name, value in response.headers.raw:
        assert not re.search(rb"[\x00-\x1f\x7f]", value), (name, value)
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and {"error", "message", "hint"} <= body.keys(), body
        assert all(isinstance(body[key], str) for key in ("error", "message", "hint")), body
        assert response.headers["x-error-code"] == body["error"]


def post(client: TestClient, url: str, content: bytes, headers: dict[str, str], media: str) -> None:
    assert_answered(client.post(url, content=content, headers=headers | {"Content-Type": media}))


@FUZZ
@given(body=st.one_of(LFS_BATCH.map(as_json), ANY_JSON.map(as_json), RAW))
def test_lfs_batch(client: TestClient, bob: dict[str, str], body: bytes) -> None:
    post(client, f"/{REPO}.git/info/lfs/objects/batch", body, bob, "application/vnd.git-lfs+json")


@FUZZ
@given(body=st.one_of(PATHS_INFO.map(as_json), ANY_JSON.map(as_json), RAW))
def test_paths_info(client: TestClient, bob: dict[str, str], body: bytes) -> None:
    post(client, f"/api/models/{REPO}/paths-info/main", body, bob, "application/json")


@FUZZ
@given(body=st.one_of(PREUPLOAD.map(as_json), ANY_JSON.map(as_json), RAW))
def test_preupload(client: TestClient, bob: dict[str, str], body: bytes) -> None:
    post(client, f"/api/models/{REPO}/preupload/main", body, bob, "application/json")


@FUZZ
@given(body=st.one_of(st.lists(COMMIT_LINE, max_size=4).map(as_ndjson), RAW))
def test_commit(client: TestClient, bob: dict[str, str], body: bytes) -> None:
    post(client, f"/api/models/{REPO}/commit/main", body, bob, "application/x-ndjson")
