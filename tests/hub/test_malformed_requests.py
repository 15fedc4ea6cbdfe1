"""Malformed hub requests are a clear 4xx, never a 500 (issue 12, item 8, the HTTP probes).

Bodies are parsed into validated shapes: a list or a string where an object is expected, a number
where text is, text where a number is, invalid JSON or invalid UTF-8. Nothing lands on refusal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.accounts import service as accounts
from baton.core.runtime import Runtime

from .test_bad_input import (
    BOB_REPO,
    assert_error,
    commit_ok,
    create_repo,
    file_op,
    head_of,
    lfs_op,
    lfs_upload,
    ndjson,
    post_commit,
)
from .test_bad_input import sha256_of as sha256

BATCH_URL = f"/{BOB_REPO}.git/info/lfs/objects/batch"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    headers: dict[str, str] = users.headers("bob")
    assert create_repo(client, headers, "target") == BOB_REPO
    return headers


@pytest.mark.parametrize(
    "url",
    [
        f"/{BOB_REPO}/resolve/main/%ff",
        f"/{BOB_REPO}/resolve/main/a%C3",
        f"/{BOB_REPO}/resolve/%ff/x",
        f"/api/models/{BOB_REPO}/tree/main/%ff",
        f"/api/models/{BOB_REPO}/tree/main/a/%80b",
    ],
)
def test_invalid_utf8_in_a_path_is_a_400(client: TestClient, bob: dict[str, str], url: str) -> None:
    body = assert_error(client.get(url, headers=bob), 400, "InvalidPath")
    assert "UTF-8" in body["message"]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "upload",
        5,
        None,
        {"operation": 1, "objects": []},
        {"operation": "upload"},
        {"operation": "upload", "objects": {"oid": "x"}},
        {"operation": "upload", "objects": [1]},
        {"operation": "upload", "objects": ["abc"]},
        {"operation": "upload", "objects": [], "transfers": 5},
        {"operation": "upload", "objects": [], "transfers": [7]},
    ],
)
def test_lfs_batch_bodies_of_the_wrong_shape_are_a_400(client: TestClient, bob: dict[str, str], payload: Any) -> None:
    body = assert_error(client.post(BATCH_URL, content=json.dumps(payload), headers=bob | JSON), 400, "BadRequest")
    assert "LFS batch request" in body["message"]


def test_lfs_batch_objects_with_wrong_values_are_refused_one_by_one(client: TestClient, bob: dict[str, str]) -> None:
    good = b"fine bytes"
    objects = [
        {"oid": 5, "size": 1},
        {"oid": sha256(b"a"), "size": "1"},
        {"oid": sha256(b"b"), "size": True},
        {"oid": {"nested": 1}, "size": 1},
        {"oid": sha256(good), "size": len(good)},
    ]
    response = client.post(BATCH_URL, json={"operation": "upload", "objects": objects}, headers=bob)
    assert response.status_code == 200, response.text
    answers = response.json()["objects"]
    assert [answer.get("error", {}).get("code") for answer in answers] == [422, 422, 422, 422, None]
    assert all(isinstance(answer["oid"], str) for answer in answers)
    assert "upload" in answers[-1]["actions"]


@pytest.mark.parametrize(
    "content", [b"[]", b'["a"]', b"5", b"{nope", b"\xff\xfe", b'{"paths": "a"}', b'{"paths": [1]}']
)
def test_paths_info_bodies_of_the_wrong_shape_are_a_400(
    client: TestClient, bob: dict[str, str], content: bytes
) -> None:
    response = client.post(f"/api/models/{BOB_REPO}/paths-info/main", content=content, headers=bob | JSON)
    body = assert_error(response, 400, "BadRequest")
    assert "paths-info" in body["message"]


def test_paths_info_still_answers_forms_and_json(client: TestClient, bob: dict[str, str]) -> None:
    url = f"/api/models/{BOB_REPO}/paths-info/main"
    by_form = client.post(url, data={"paths": [".gitattributes", "missing"]}, headers=bob)
    by_json = client.post(url, json={"paths": [".gitattributes"]}, headers=bob)
    assert [item["path"] for item in by_form.json()] == [item["path"] for item in by_json.json()] == [".gitattributes"]


@pytest.mark.parametrize("content", [b"{nope", b"[1, 2]", b'"text"', b'{"Affiliation": {"nested": 1}}', b"\xff"])
def test_ask_access_bodies_of_the_wrong_shape_are_a_400(
    client: TestClient, users: Any, bob: dict[str, str], content: bytes
) -> None:
    assert client.put(f"/api/models/{BOB_REPO}/settings", json={"gated": "auto"}, headers=bob).status_code == 200
    response = client.post(f"/api/models/{BOB_REPO}/ask-access", content=content, headers=users.headers("carol") | JSON)
    body = assert_error(response, 400, "BadRequest")
    assert "access request" in body["message"]


def commit_lines(*lines: Any) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines) + b"\n"


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (
            commit_lines({"key": "header", "value": {"summary": "s", "parentCommit": 1234}}, file_op("a", b"a")),
            "parentCommit",
        ),
        (commit_lines({"key": "header", "value": {"summary": ["s"]}}, file_op("a", b"a")), "summary"),
        (commit_lines({"key": "header", "value": 7}, file_op("a", b"a")), "header"),
        (commit_lines({"key": "file", "value": {"path": 5, "content": "YQ=="}}), "path"),
        (commit_lines({"key": "file", "value": {"path": "a", "content": 5}}), "content"),
        (commit_lines({"key": "lfsFile", "value": {"path": "a", "oid": sha256(b"a"), "size": True}}), "size"),
        (commit_lines({"key": "lfsFile", "value": {"path": "a", "oid": 1, "size": 1}}), "oid"),
        (commit_lines({"key": "deletedFile", "value": {"path": None}}), "path"),
        (commit_lines({"key": 5, "value": {}}), "unknown key"),
        (commit_lines({"key": ["file"], "value": {}}), "unknown key"),
        (b'{"key": "file", "value": {"path": "a", "content": "\xff"}}\n', "UTF-8"),
    ],
)
def test_commit_lines_of_the_wrong_shape_are_a_400_and_nothing_lands(
    client: TestClient, bob: dict[str, str], payload: bytes, named: str
) -> None:
    before = head_of(client, BOB_REPO, bob)
    body = assert_error(post_commit(client, BOB_REPO, payload, bob), 400, "BadRequest")
    assert named in body["message"]
    assert head_of(client, BOB_REPO, bob) == before


def test_a_valid_parent_commit_still_works(client: TestClient, bob: dict[str, str]) -> None:
    head = head_of(client, BOB_REPO, bob)
    response = post_commit(client, BOB_REPO, ndjson(file_op("a.txt", b"a"), parent=head), bob)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "files",
    [
        [{"path": 5, "size": 1}],
        [{"path": "a", "size": True}],
        [{"path": "a", "size": "1"}],
        [{"path": "a", "size": 1, "sample": 5}],
        [5],
        {"path": "a"},
    ],
)
def test_preupload_bodies_of_the_wrong_shape_are_a_400(client: TestClient, bob: dict[str, str], files: Any) -> None:
    response = client.post(f"/api/models/{BOB_REPO}/preupload/main", json={"files": files}, headers=bob)
    assert_error(response, 400, "BadRequest")
    response = client.post(f"/api/models/{BOB_REPO}/preupload/main", json={"files": [], "gitIgnore": 5}, headers=bob)
    assert_error(response, 400, "BadRequest")


def signed(runtime: Runtime, headers: dict[str, str], path: str) -> str:
    """``path`` signed as the LFS batch API signs it for the holder of the token in ``headers``."""
    with runtime.database.session() as session:
        _actor, token = accounts.authenticate_token(session, headers["Authorization"].removeprefix("Bearer "))
    return runtime.signer.sign(path, by=token.id)


@pytest.mark.parametrize(
    "parts",
    [
        [{"partNumber": "one", "etag": "x"}],
        [{"partNumber": 0, "etag": "x"}],
        [{"partNumber": 1.5, "etag": "x"}],
        [{"partNumber": 10**30, "etag": "x"}],
        [],
        "1",
        [1],
    ],
)
def test_multipart_completion_with_a_bad_part_number_is_a_400(
    client: TestClient, runtime: Runtime, bob: dict[str, str], parts: Any
) -> None:
    oid = sha256(b"parts")
    url = signed(runtime, bob, f"/api/lfs/model/{BOB_REPO}/complete/{oid}/5/upload1")
    assert_error(client.post(url, json={"oid": oid, "parts": parts}), 400, "BadRequest")


def test_numbers_in_signed_links_out_of_range_are_a_400(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    oid = sha256(b"x")
    too_big = signed(runtime, bob, f"/api/lfs/model/{BOB_REPO}/objects/{oid}/{2**70}")
    assert_error(client.put(too_big, content=b"x"), 400, "BadRequest")
    part = signed(runtime, bob, f"/api/lfs/model/{BOB_REPO}/parts/{oid}/1/upload1/10001")
    assert_error(client.put(part, content=b"x"), 400, "BadRequest")
    verify = signed(runtime, bob, f"/api/lfs/model/{BOB_REPO}/verify/{oid}")
    assert_error(client.post(verify, json={"oid": oid, "size": "1"}), 400, "BadRequest")


def test_lfs_pointer_lines_still_accept_what_the_client_sends(client: TestClient, bob: dict[str, str]) -> None:
    """The strict shapes take the official client's payload unchanged."""
    content = b"\x00lfs bytes"
    oid = lfs_upload(client, BOB_REPO, bob, content)
    commit_ok(client, BOB_REPO, bob, lfs_op("w.dat", oid, len(content)))


def test_signed_link_routes_check_the_link_before_reading_the_body(client: TestClient, bob: dict[str, str]) -> None:
    """Without a valid signature the answer is 401 whatever the body: it tells nothing about the shapes."""
    oid = sha256(b"x")
    for url in (f"/api/lfs/model/{BOB_REPO}/complete/{oid}/5/upload1", f"/api/lfs/model/{BOB_REPO}/verify/{oid}"):
        for content in (b"{nope", b'{"parts": "x", "size": "y"}', b"[]"):
            assert_error(client.post(url, content=content, headers=JSON), 401, "Unauthorized")
