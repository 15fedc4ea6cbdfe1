"""Bad input over the raw HTTP protocol: every refusal is clear, typed, and leaves nothing behind.

Hostile names and paths, broken payloads, oversize uploads, wrong links and tokens, unsafe
weights, broken YAML: each is answered with the one error shape and, for commits, the branch
head does not move. Also byte ranges, HEAD metadata and download counting.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pickle
import struct
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from baton.accounts import service as accounts
from baton.core.errors import ConflictError, InvalidNameError
from baton.core.ratelimit import RateLimiter, parse_limits
from baton.core.runtime import Runtime
from baton.hub.commits import GITATTRIBUTES

from .hub_support import leftover_temporaries

# --- helpers -------------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape: JSON {error, message, hint} with the code also in X-Error-Code."""
    assert response.status_code == status, response.text
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict)
    assert {"error", "message", "hint"} <= body.keys(), body
    assert body["error"] == code, body
    assert response.headers.get("x-error-code") == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["hint"], str)
    return body


def create_repo(
    client: TestClient,
    headers: dict[str, str],
    name: str,
    *,
    organization: str | None = None,
    private: bool = False,
) -> str:
    body: dict[str, Any] = {"name": name, "private": private, "type": "model"}
    if organization:
        body["organization"] = organization
    response = client.post("/api/repos/create", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["name"])


def head_of(client: TestClient, repo_id: str, headers: dict[str, str], branch: str = "main") -> str:
    response = client.get(f"/api/models/{repo_id}/refs", headers=headers)
    assert response.status_code == 200, response.text
    return next(item["targetCommit"] for item in response.json()["branches"] if item["name"] == branch)


def info_of(client: TestClient, repo_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/models/{repo_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def files_of(client: TestClient, repo_id: str, headers: dict[str, str]) -> list[str]:
    return sorted(item["rfilename"] for item in info_of(client, repo_id, headers)["siblings"])


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def file_op(path: str, content: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(content).decode()
    return {"key": "file", "value": {"path": path, "content": encoded, "encoding": "base64"}}


def lfs_op(path: str, oid: str, size: int) -> dict[str, Any]:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}}


def ndjson(*operations: dict[str, Any], summary: str = "test commit", parent: str | None = None) -> bytes:
    header: dict[str, Any] = {"summary": summary, "description": ""}
    if parent is not None:
        header["parentCommit"] = parent
    lines = [{"key": "header", "value": header}, *operations]
    return b"\n".join(json.dumps(line).encode() for line in lines) + b"\n"


def post_commit(
    client: TestClient, repo_id: str, body: bytes, headers: dict[str, str], branch: str = "main"
) -> httpx.Response:
    return client.post(
        f"/api/models/{repo_id}/commit/{branch}",
        content=body,
        headers=headers | {"Content-Type": "application/x-ndjson"},
    )


def commit_ok(client: TestClient, repo_id: str, headers: dict[str, str], *operations: dict[str, Any]) -> str:
    response = post_commit(client, repo_id, ndjson(*operations), headers)
    assert response.status_code == 200, response.text
    return str(response.json()["commitOid"])


def preupload_one(client: TestClient, repo_id: str, headers: dict[str, str], path: str) -> httpx.Response:
    """Ask preupload about one 1-byte file at ``path``."""
    return client.post(
        f"/api/models/{repo_id}/preupload/main",
        json={"files": [{"path": path, "size": 1, "sample": "eA=="}]},
        headers=headers,
    )


def lfs_batch(
    client: TestClient, repo_id: str, headers: dict[str, str], objects: list[dict[str, Any]]
) -> httpx.Response:
    return client.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": objects, "hash_algo": "sha256"},
        headers=headers | {"Accept": "application/vnd.git-lfs+json"},
    )


def upload_link(client: TestClient, repo_id: str, headers: dict[str, str], content: bytes) -> dict[str, Any]:
    """The LFS batch answer for one object (with 'actions' when the bytes must be sent)."""
    response = lfs_batch(client, repo_id, headers, [{"oid": sha256_of(content), "size": len(content)}])
    assert response.status_code == 200, response.text
    return dict(response.json()["objects"][0])


def lfs_upload(client: TestClient, repo_id: str, headers: dict[str, str], content: bytes) -> str:
    """Upload the bytes the way the HF client does (batch, signed PUT, verify); returns the oid."""
    answer = upload_link(client, repo_id, headers, content)
    if "actions" in answer:
        put = client.put(answer["actions"]["upload"]["href"], content=content)  # no token: the link is signed
        assert put.status_code == 200, put.text
        verify = client.post(
            answer["actions"]["verify"]["href"],
            json={"oid": answer["oid"], "size": len(content)},
            headers=headers,
        )
        assert verify.status_code == 200, verify.text
    return sha256_of(content)


def stored_blobs(runtime: Runtime) -> set[str]:
    return {blob.sha256 for blob in runtime.store.iter_blobs()}


class RunsCode:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo hi",))


def evil_pickle() -> bytes:
    return pickle.dumps({"weight": RunsCode()}, protocol=2)


BOB_REPO = "bob/target"


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    """bob's headers, with his public repo bob/target created."""
    headers: dict[str, str] = users.headers("bob")
    create_repo(client, headers, "target")
    return headers


# --- hostile names -------------------------------------------------------------------------------

HOSTILE_REPO_NAMES = [
    "..",
    "a..b",
    "a/b",
    "x" * 200,
    ".hidden",
    "-dash",
    "name.git",
    "모델",
    "with space",
    "nul\0byte",
    "",
]


def test_hostile_repo_names_and_namespaces_are_refused(client: TestClient, users: Any) -> None:
    headers = users.headers("alice")
    for name in HOSTILE_REPO_NAMES:
        response = client.post("/api/repos/create", json={"name": name, "type": "model"}, headers=headers)
        body = assert_error(response, 400, "InvalidName")
        assert name[:100] in body["message"] or "repo id" in body["message"], name
        assert body["hint"], name
    for namespace in ("..", "a..b", "x" * 200, "bob/lab", "-x"):
        response = client.post(
            "/api/repos/create", json={"name": "fine", "organization": namespace, "type": "model"}, headers=headers
        )
        assert_error(response, 400, "InvalidName")
    assert client.get("/api/models", headers=headers).json() == []


def test_hostile_names_in_urls_are_refused(client: TestClient, users: Any) -> None:
    headers = users.headers("bob")
    for url in ("/api/models/bob/a..b", f"/api/models/bob/{'x' * 200}", "/api/models/bob/x.git/refs"):
        assert_error(client.get(url, headers=headers), 400, "InvalidName")


RESERVED = ["api", "datasets", "Datasets", "models", "resolve", "healthz"]
INVALID_ACCOUNT_NAMES = ["..", "a..b", "x" * 97, "", "-x", "ends.", "bob.git", "a/b", "a b"]


def test_reserved_and_invalid_account_names_are_refused_and_nothing_is_created(runtime: Runtime, users: Any) -> None:
    with runtime.database.session(write=True) as session:
        alice = accounts.get_account(session, "alice")
        for name in RESERVED:
            with pytest.raises(InvalidNameError) as raised:
                accounts.create_user(session, name)
            assert "reserved" in raised.value.message
            assert raised.value.hint
            with pytest.raises(InvalidNameError):
                accounts.create_organization(session, name, creator=alice)
        for name in INVALID_ACCOUNT_NAMES:
            with pytest.raises(InvalidNameError):
                accounts.create_user(session, name)
            with pytest.raises(InvalidNameError):
                accounts.create_organization(session, name, creator=alice)
    with runtime.database.session() as session:
        for name in RESERVED + INVALID_ACCOUNT_NAMES:
            assert accounts.find_account(session, name) is None


def test_account_names_differing_only_in_case_clash(runtime: Runtime, users: Any) -> None:
    with runtime.database.session(write=True) as session, pytest.raises(ConflictError) as raised:
        accounts.create_user(session, "BOB")
    assert raised.value.code == "NameTaken"


# --- hostile paths in commits --------------------------------------------------------------------

HOSTILE_PATHS = [
    "../x",
    "a/../../x",
    "/abs",
    "a\\b",
    "nul\0byte",
    ".git/config",
    "sub/.GIT/hooks/pre-commit",
    "a//b",
    "./a",
    "folder/",
    "x" * 2000,
    "d/" * 999 + "f",
    "evil\u202etxt.exe",
    "line\nbreak",
]


def test_hostile_file_paths_in_commits_are_refused(client: TestClient, runtime: Runtime, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    for path in HOSTILE_PATHS:
        response = post_commit(client, BOB_REPO, ndjson(file_op("ok.txt", b"fine"), file_op(path, b"pwned")), bob)
        body = assert_error(response, 400, "InvalidPath")
        assert len(body["message"]) < 400, path  # a 2000-character path is cut short in the message
        assert "relative path" in body["hint"]
        assert head_of(client, BOB_REPO, bob) == before, path
    assert files_of(client, BOB_REPO, bob) == [".gitattributes"]


def test_hostile_paths_are_refused_by_every_operation(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    oid = lfs_upload(client, BOB_REPO, bob, b"weights")
    for path in ("../x", "/abs", "a\\b", ".git/config", "a\0b"):
        for operation in (
            lfs_op(path, oid, 7),
            {"key": "deletedFile", "value": {"path": path}},
            {"key": "deletedFolder", "value": {"path": path}},
        ):
            assert_error(post_commit(client, BOB_REPO, ndjson(operation), bob), 400, "InvalidPath")
        assert_error(preupload_one(client, BOB_REPO, bob, path), 400, "InvalidPath")
    assert head_of(client, BOB_REPO, bob) == before


def test_hostile_path_in_a_download_url_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    assert_error(client.get(f"/{BOB_REPO}/resolve/main/..%2F..%2Fsecret.key", headers=bob), 400, "InvalidPath")
    assert_error(client.get(f"/{BOB_REPO}/resolve/main/.git%2Fconfig", headers=bob), 400, "InvalidPath")


# --- malformed commit payloads -------------------------------------------------------------------


def test_invalid_base64_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    line = {"key": "file", "value": {"path": "a.txt", "content": "not base64!!", "encoding": "base64"}}
    body = assert_error(post_commit(client, BOB_REPO, ndjson(line), bob), 400, "BadRequest")
    assert "line 2" in body["message"] and "base64" in body["message"]
    assert head_of(client, BOB_REPO, bob) == before


def test_unknown_ndjson_key_is_refused_and_named(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    body = ndjson(file_op("a.txt", b"a"), {"key": "symlink", "value": {"path": "b", "target": "/etc/passwd"}})
    error = assert_error(post_commit(client, BOB_REPO, body, bob), 400, "BadRequest")
    assert "symlink" in error["message"]
    assert "lfsFile" in error["hint"]
    assert head_of(client, BOB_REPO, bob) == before


def test_malformed_ndjson_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    for body in (b"{not json}\n", b"[1, 2]\n", b'{"key": "file", "value": "text"}\n', b"", b"\xff\xfe\n"):
        assert_error(post_commit(client, BOB_REPO, body, bob), 400, "BadRequest")
    assert head_of(client, BOB_REPO, bob) == before


def test_lfs_file_with_bad_oid_or_size_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    for operation, code in (
        (lfs_op("w.bin", "../../etc/passwd", 3), "InvalidOid"),
        (lfs_op("w.bin", "A" * 64, 3), "InvalidOid"),
        (lfs_op("w.bin", "a" * 64, -1), "BadRequest"),
        ({"key": "lfsFile", "value": {"path": "w.bin", "algo": "md5", "oid": "a" * 64, "size": 3}}, "BadRequest"),
    ):
        assert_error(post_commit(client, BOB_REPO, ndjson(operation), bob), 400, code)


def test_lfs_file_never_uploaded_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    body = assert_error(
        post_commit(client, BOB_REPO, ndjson(lfs_op("w.bin", sha256_of(b"never sent"), 10)), bob), 400, "IntegrityError"
    )
    assert "never uploaded" in body["message"]
    assert head_of(client, BOB_REPO, bob) == before


def test_lfs_file_with_wrong_declared_size_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    oid = lfs_upload(client, BOB_REPO, bob, b"0123456789")
    assert_error(post_commit(client, BOB_REPO, ndjson(lfs_op("w.bin", oid, 11)), bob), 400, "IntegrityError")
    assert head_of(client, BOB_REPO, bob) == before


def test_blob_of_another_users_private_repo_cannot_be_claimed(
    client: TestClient, users: Any, bob: dict[str, str]
) -> None:
    """Knowing a sha256 is not access: bob must send the bytes himself (hub/commits.py _may_use_blob)."""
    carol = users.headers("carol")
    create_repo(client, carol, "secret", private=True)
    committed = b"carol's private weights" * 10
    commit_ok(client, "carol/secret", carol, lfs_op("w.dat", lfs_upload(client, "carol/secret", carol, committed), 230))
    only_uploaded = b"uploaded, not committed yet"
    lfs_upload(client, "carol/secret", carol, only_uploaded)

    for content in (committed, only_uploaded):
        before = head_of(client, BOB_REPO, bob)
        # The batch API asks bob for the bytes although Baton has them.
        answer = upload_link(client, BOB_REPO, bob, content)
        assert "upload" in answer["actions"]
        # Committing the oid without sending them is refused.
        body = assert_error(
            post_commit(client, BOB_REPO, ndjson(lfs_op("stolen.dat", sha256_of(content), len(content))), bob),
            400,
            "IntegrityError",
        )
        assert BOB_REPO in body["message"]
        assert head_of(client, BOB_REPO, bob) == before
        # Once bob has sent the same bytes, he may commit them.
        lfs_upload(client, BOB_REPO, bob, content)
        commit_ok(client, BOB_REPO, bob, lfs_op("mine.dat", sha256_of(content), len(content)))

    # Bytes in a public repo are usable by anyone who can see them: no upload is asked for.
    create_repo(client, bob, "second")
    assert "actions" not in upload_link(client, "bob/second", bob, committed)


def test_lfs_batch_refuses_bad_objects_one_by_one(client: TestClient, bob: dict[str, str]) -> None:
    good = b"good bytes"
    response = lfs_batch(
        client,
        BOB_REPO,
        bob,
        [
            {"oid": "../../etc/passwd", "size": 3},
            {"oid": sha256_of(b"x"), "size": -5},
            {"oid": sha256_of(good), "size": len(good)},
        ],
    )
    assert response.status_code == 200
    objects = response.json()["objects"]
    assert objects[0]["error"]["code"] == 422 and "actions" not in objects[0]
    assert objects[1]["error"]["code"] == 422 and "actions" not in objects[1]
    assert "error" not in objects[2] and "upload" in objects[2]["actions"]


def test_lfs_batch_refuses_malformed_requests(client: TestClient, bob: dict[str, str]) -> None:
    url = f"/{BOB_REPO}.git/info/lfs/objects/batch"
    assert_error(client.post(url, content=b"{nope", headers=bob), 400, "BadRequest")
    assert_error(client.post(url, json={"operation": "download", "objects": []}, headers=bob), 400, "BadRequest")
    assert_error(client.post(url, json={"operation": "upload", "objects": "x"}, headers=bob), 400, "BadRequest")
    assert_error(
        client.post(
            "/bob/missing.git/info/lfs/objects/batch", json={"operation": "upload", "objects": []}, headers=bob
        ),
        404,
        "RepoNotFound",
    )


# --- oversize uploads ----------------------------------------------------------------------------


def test_preupload_refuses_files_over_the_limit(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_file_size", 1000)
    monkeypatch.setattr(runtime.settings, "max_regular_file_size", 100)
    url = f"/api/models/{BOB_REPO}/preupload/main"
    sample = base64.b64encode(b"text").decode()
    body = assert_error(
        client.post(url, json={"files": [{"path": "big.txt", "size": 1001, "sample": sample}]}, headers=bob),
        413,
        "QuotaExceeded",
    )
    assert "big.txt" in body["message"]
    assert "BATON_MAX_FILE_SIZE" in body["hint"]
    # Under the file limit but over the inline limit: sent through LFS, whatever the extension.
    answer = client.post(
        url,
        json={
            "files": [
                {"path": "medium.txt", "size": 101, "sample": sample},
                {"path": "small.txt", "size": 100, "sample": sample},
            ]
        },
        headers=bob,
    )
    assert answer.status_code == 200, answer.text
    assert [item["uploadMode"] for item in answer.json()["files"]] == ["lfs", "regular"]
    for files in ([{"path": "a.txt", "size": -1, "sample": ""}], [{"path": "a.txt", "size": 1, "sample": "!!"}], "x"):
        assert_error(client.post(url, json={"files": files}, headers=bob), 400, "BadRequest")


def test_lfs_batch_refuses_objects_over_the_limit(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_file_size", 1000)
    response = lfs_batch(client, BOB_REPO, bob, [{"oid": "a" * 64, "size": 1001}, {"oid": "b" * 64, "size": 1000}])
    assert response.status_code == 200
    too_big, fits = response.json()["objects"]
    assert too_big["error"]["code"] == 413
    assert "limit" in too_big["error"]["message"]
    assert "actions" not in too_big
    assert "upload" in fits["actions"]


def test_upload_put_refuses_bytes_over_the_limit(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(2000)
    href = upload_link(client, BOB_REPO, bob, content)["actions"]["upload"]["href"]
    monkeypatch.setattr(runtime.settings, "max_file_size", 1000)  # lowered after the link was given
    assert_error(client.put(href, content=content), 413, "QuotaExceeded")
    assert not runtime.store.exists(sha256_of(content))
    assert leftover_temporaries(runtime) == []


def test_commit_refuses_files_over_the_limits(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(300)
    oid = lfs_upload(client, BOB_REPO, bob, big)
    before = head_of(client, BOB_REPO, bob)
    monkeypatch.setattr(runtime.settings, "max_regular_file_size", 100)
    monkeypatch.setattr(runtime.settings, "max_file_size", 200)
    body = assert_error(
        post_commit(client, BOB_REPO, ndjson(file_op("inline.txt", b"x" * 101)), bob), 413, "QuotaExceeded"
    )
    assert "inline" in body["message"] and "LFS" in body["hint"]
    assert_error(post_commit(client, BOB_REPO, ndjson(lfs_op("w.bin", oid, 300)), bob), 413, "QuotaExceeded")
    assert head_of(client, BOB_REPO, bob) == before
    assert files_of(client, BOB_REPO, bob) == [".gitattributes"]


def test_commit_refuses_to_grow_a_repo_over_its_limit(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_repo_size", len(GITATTRIBUTES) + 100)
    first = commit_ok(client, BOB_REPO, bob, file_op("a.txt", b"a" * 60))
    body = assert_error(post_commit(client, BOB_REPO, ndjson(file_op("b.txt", b"b" * 60)), bob), 413, "QuotaExceeded")
    assert BOB_REPO in body["message"]
    assert head_of(client, BOB_REPO, bob) == first
    # Replacing a file counts its new size only: this fits.
    commit_ok(client, BOB_REPO, bob, file_op("a.txt", b"c" * 100))
    assert info_of(client, BOB_REPO, bob)["usedStorage"] == len(GITATTRIBUTES) + 100


# --- signed upload links -------------------------------------------------------------------------


def _split(href: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(href)
    return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_wrong_expired_or_tampered_upload_links_are_refused(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    content = b"signed upload"
    answer = upload_link(client, BOB_REPO, bob, content)
    path, query = _split(answer["actions"]["upload"]["href"])
    other_oid = sha256_of(b"other")
    flipped = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
    attempts = {
        "unsigned": path,
        "no signature": f"{path}?expires={query['expires']}",
        "tampered signature": f"{path}?expires={query['expires']}&signature={flipped}",
        "later expiry": f"{path}?expires={int(query['expires']) + 3600}&signature={query['signature']}",
        "non-numeric expiry": f"{path}?expires=soon&signature={query['signature']}",
        "signature of another object": path.replace(answer["oid"], other_oid).rsplit("/", 1)[0]
        + f"/6?expires={query['expires']}&signature={query['signature']}",
        "expired": runtime.signer.sign(path, ttl_seconds=-60),
        "signed with another key": "/".join(path.split("/")[:-1])
        + f"/{len(content)}?expires={query['expires']}&signature={'f' * 64}",
    }
    for what, url in attempts.items():
        response = client.put(url, content=content)
        body = assert_error(response, 401, "Unauthorized")
        assert "link" in body["message"], what
        assert "batch" in body["hint"].lower() or "link" in body["hint"].lower(), what
    assert "expired" in client.put(attempts["expired"], content=content).json()["message"]
    assert not runtime.store.exists(sha256_of(content))
    # Verify links are checked the same way.
    verify_path, _ = _split(answer["actions"]["verify"]["href"])
    assert_error(client.post(verify_path, json={"oid": answer["oid"], "size": len(content)}), 401, "Unauthorized")
    # The real link still works.
    assert client.put(answer["actions"]["upload"]["href"], content=content).status_code == 200
    assert runtime.store.exists(sha256_of(content))


def test_upload_whose_bytes_do_not_match_is_refused_and_not_stored(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    declared = b"the real weights"
    answer = upload_link(client, BOB_REPO, bob, declared)
    href = answer["actions"]["upload"]["href"]
    forged = b"the fake weights"  # same length, other bytes
    body = assert_error(client.put(href, content=forged), 400, "IntegrityError")
    assert "sha256" in body["message"]
    assert_error(client.put(href, content=declared + b"!"), 400, "IntegrityError")
    assert_error(client.put(href, content=declared[:-1]), 400, "IntegrityError")
    assert not runtime.store.exists(sha256_of(declared))
    assert not runtime.store.exists(sha256_of(forged))
    assert leftover_temporaries(runtime) == []
    verify = client.post(answer["actions"]["verify"]["href"], json={"oid": answer["oid"], "size": len(declared)})
    assert_error(verify, 400, "IntegrityError")
    # Nothing to commit either.
    assert_error(
        post_commit(client, BOB_REPO, ndjson(lfs_op("w.bin", answer["oid"], len(declared))), bob), 400, "IntegrityError"
    )


# --- tokens and roles ----------------------------------------------------------------------------


def _token_checked_requests(repo_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET", "/api/whoami-v2", {}),
        ("GET", "/api/models", {}),
        ("GET", f"/api/models/{repo_id}", {}),
        ("GET", f"/api/models/{repo_id}/refs", {}),
        ("GET", f"/api/models/{repo_id}/tree/main", {}),
        ("GET", f"/api/models/{repo_id}/commits/main", {}),
        ("GET", f"/{repo_id}/resolve/main/.gitattributes", {}),
        ("HEAD", f"/{repo_id}/resolve/main/.gitattributes", {}),
        ("POST", f"/api/models/{repo_id}/paths-info/main", {"data": {"paths": [".gitattributes"]}}),
        ("POST", "/api/repos/create", {"json": {"name": "new", "type": "model"}}),
        ("POST", f"/api/models/{repo_id}/preupload/main", {"json": {"files": []}}),
        ("POST", f"/{repo_id}.git/info/lfs/objects/batch", {"json": {"operation": "upload", "objects": []}}),
        ("POST", f"/api/models/{repo_id}/commit/main", {"content": ndjson(file_op("a.txt", b"a"))}),
    ]


def test_wrong_and_revoked_tokens_are_refused_everywhere(
    client: TestClient, runtime: Runtime, users: Any, bob: dict[str, str]
) -> None:
    with runtime.database.session(write=True) as session:
        user = accounts.get_account(session, "bob")
        issued = accounts.issue_token(session, user, name="soon revoked")
        token_id, revoked_value = issued.token.id, issued.value
    revoked_headers = {"Authorization": f"Bearer {revoked_value}"}
    assert client.get(f"/api/models/{BOB_REPO}", headers=revoked_headers).status_code == 200
    with runtime.database.session(write=True) as session:
        accounts.revoke_token(session, accounts.get_account(session, "bob"), token_id)

    # Many wrong tokens from one address in a row: lift that limit (tested in tests/accounts) for this walk.
    runtime.rate_limiter = RateLimiter(parse_limits("failed-auth=off"))
    for token in ("garbage", "baton_" + "x" * 43, revoked_value, users["bob"] + "x"):
        for method, url, extra in _token_checked_requests(BOB_REPO):
            response = client.request(method, url, headers={"Authorization": f"Bearer {token}"}, **extra)
            assert response.status_code == 401, (method, url, response.text)
            assert response.headers["x-error-code"] == "Unauthorized"
            assert "Bearer" in response.headers["www-authenticate"]
            if method != "HEAD":
                assert_error(response, 401, "Unauthorized")
    # Anonymous public reads still work; a wrong token is never silently treated as anonymous.
    assert client.get(f"/api/models/{BOB_REPO}").status_code == 200
    assert head_of(client, BOB_REPO, bob)


def test_writing_without_a_role_is_forbidden(client: TestClient, users: Any) -> None:
    bob, carol = users.headers("bob"), users.headers("carol")
    create_repo(client, bob, "shared", organization="lab")
    create_repo(client, bob, "hidden", private=True)
    before = head_of(client, "lab/shared", bob)

    def forbidden(response: httpx.Response) -> None:
        body = assert_error(response, 403, "Forbidden")
        assert "carol" in body["message"] and body["hint"]

    forbidden(post_commit(client, "lab/shared", ndjson(file_op("a.txt", b"a")), carol))
    forbidden(client.post("/api/models/lab/shared/preupload/main", json={"files": []}, headers=carol))
    forbidden(lfs_batch(client, "lab/shared", carol, [{"oid": "a" * 64, "size": 1}]))
    forbidden(client.post("/api/repos/create", json={"name": "mine", "organization": "lab"}, headers=carol))
    forbidden(client.post("/api/models/lab/shared/branch/dev", json={}, headers=carol))
    assert_error(
        client.request("DELETE", "/api/repos/delete", json={"name": "shared", "organization": "lab"}, headers=carol),
        403,
        "Forbidden",
    )
    # bob may write to lab but not administer it.
    assert_error(client.put("/api/models/lab/shared/settings", json={"private": True}, headers=bob), 403, "Forbidden")
    # A private repo is not even revealed to outsiders.
    assert_error(post_commit(client, "bob/hidden", ndjson(file_op("a.txt", b"a")), carol), 404, "RepoNotFound")
    assert_error(client.get("/bob/hidden/resolve/main/.gitattributes", headers=carol), 404, "RepoNotFound")
    assert head_of(client, "lab/shared", bob) == before
    assert info_of(client, "lab/shared", bob)["private"] is False


def test_a_read_only_token_reads_but_cannot_write(client: TestClient, runtime: Runtime, users: Any) -> None:
    bob = users.headers("bob")
    create_repo(client, bob, "private", private=True)
    create_repo(client, bob, "team", organization="lab", private=True)
    with runtime.database.session(write=True) as session:
        for name in ("bob", "alice"):
            issued = accounts.issue_token(session, accounts.get_account(session, name), name="ro", scopes=["read"])
            users[f"{name}-ro"] = issued.value
    for name, repo_id in (("bob-ro", "bob/private"), ("bob-ro", "lab/team"), ("alice-ro", "bob/private")):
        read_only = users.headers(name)
        before = head_of(client, repo_id, bob)
        # Reading works, private repos included.
        assert client.get(f"/api/models/{repo_id}", headers=read_only).status_code == 200
        assert client.get(f"/{repo_id}/resolve/main/.gitattributes", headers=read_only).status_code == 200
        # Writing does not, whatever the user's role.
        assert_error(post_commit(client, repo_id, ndjson(file_op("a.txt", b"a")), read_only), 403, "InsufficientScope")
        preupload = client.post(f"/api/models/{repo_id}/preupload/main", json={"files": []}, headers=read_only)
        assert_error(preupload, 403, "InsufficientScope")
        assert_error(lfs_batch(client, repo_id, read_only, [{"oid": "a" * 64, "size": 1}]), 403, "InsufficientScope")
        settings = client.put(f"/api/models/{repo_id}/settings", json={"private": False}, headers=read_only)
        assert_error(settings, 403, "InsufficientScope")
        assert head_of(client, repo_id, bob) == before
    created = client.post("/api/repos/create", json={"name": "new"}, headers=users.headers("bob-ro"))
    assert_error(created, 403, "InsufficientScope")
    whoami = client.get("/api/whoami-v2", headers=users.headers("bob-ro")).json()
    assert whoami["auth"]["accessToken"]["role"] == "read"
    # The same user's write token still writes.
    commit_ok(client, "bob/private", bob, file_op("a.txt", b"a"))


# --- YAML ----------------------------------------------------------------------------------------

BROKEN_CARD = "---\nlicense: mit\n\tpipeline_tag: text-generation\n---\n# Model\n"


def test_validate_yaml_names_the_broken_line(client: TestClient) -> None:
    response = client.post("/api/validate-yaml", json={"content": BROKEN_CARD, "repoType": "model"})
    body = assert_error(response, 400, "InvalidYaml")
    assert "line 3" in body["message"]
    assert "tab" in body["message"]
    assert body["errors"] and "line 3" in body["errors"][0]["message"]
    flow = client.post("/api/validate-yaml", json={"content": "---\ntags: [a, b\nlicense: mit\n---\n"})
    assert "line 2" in assert_error(flow, 400, "InvalidYaml")["message"]
    assert_error(client.post("/api/validate-yaml", json={"content": 5}), 400, "BadRequest")
    fine = client.post("/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n", "repoType": "model"})
    assert fine.status_code == 200 and fine.json()["errors"] == []


def test_readme_with_broken_yaml_is_refused_in_a_commit(client: TestClient, bob: dict[str, str]) -> None:
    commit_ok(client, BOB_REPO, bob, file_op("README.md", b"---\nlicense: mit\n---\n# Fine\n"))
    before = head_of(client, BOB_REPO, bob)
    body = ndjson(file_op("weights.txt", b"w"), file_op("README.md", BROKEN_CARD.encode()))
    error = assert_error(post_commit(client, BOB_REPO, body, bob), 400, "InvalidYaml")
    assert "line 3" in error["message"]
    assert "README.md" in error["hint"]
    assert head_of(client, BOB_REPO, bob) == before
    info = info_of(client, BOB_REPO, bob)
    assert info["cardData"] == {"license": "mit"}
    assert sorted(item["rfilename"] for item in info["siblings"]) == [".gitattributes", "README.md"]
    # The same card through LFS is refused too.
    oid = lfs_upload(client, BOB_REPO, bob, BROKEN_CARD.encode())
    assert_error(
        post_commit(client, BOB_REPO, ndjson(lfs_op("README.md", oid, len(BROKEN_CARD))), bob), 400, "InvalidYaml"
    )
    assert head_of(client, BOB_REPO, bob) == before


# --- unsafe weights ------------------------------------------------------------------------------

SYSTEM_GLOBAL = f"{os.system.__module__}.system"


def test_unsafe_pickle_committed_inline_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    body = assert_error(
        post_commit(client, BOB_REPO, ndjson(file_op("config.json", b"{}"), file_op("model.bin", evil_pickle())), bob),
        400,
        "UnsafeFile",
    )
    assert SYSTEM_GLOBAL in body["message"]
    assert "model.bin" in body["message"]
    assert "safetensors" in body["hint"]
    assert head_of(client, BOB_REPO, bob) == before
    assert files_of(client, BOB_REPO, bob) == [".gitattributes"]


def test_unsafe_pickle_uploaded_through_lfs_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    data = evil_pickle()
    oid = lfs_upload(client, BOB_REPO, bob, data)
    for path in ("model.bin", "sub/pytorch_model.pt", "x.pkl"):
        body = assert_error(post_commit(client, BOB_REPO, ndjson(lfs_op(path, oid, len(data))), bob), 400, "UnsafeFile")
        assert SYSTEM_GLOBAL in body["message"] and path in body["message"]
    assert head_of(client, BOB_REPO, bob) == before
    assert files_of(client, BOB_REPO, bob) == [".gitattributes"]


def _safetensors(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


MALFORMED_SAFETENSORS = {
    "huge header length": struct.pack("<Q", 10**12) + b"{}",
    "header not JSON": _safetensors(b"{not json"),
    "tensor past the end": _safetensors(
        json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode(), b"\0" * 8
    ),
    "overlapping tensors": _safetensors(
        json.dumps(
            {
                "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            }
        ).encode(),
        b"\0" * 12,
    ),
    "truncated": b"\x01\x02",
}


def test_malformed_safetensors_is_refused(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    for what, content in MALFORMED_SAFETENSORS.items():
        oid = lfs_upload(client, BOB_REPO, bob, content)
        body = assert_error(
            post_commit(client, BOB_REPO, ndjson(lfs_op("model.safetensors", oid, len(content))), bob),
            400,
            "InvalidSafetensors",
        )
        assert "model.safetensors" in body["message"], what
        assert "safetensors" in body["hint"], what
        # Inline, the same bytes are refused the same way.
        inline = post_commit(client, BOB_REPO, ndjson(file_op("m.safetensors", content)), bob)
        assert_error(inline, 400, "InvalidSafetensors")
    assert head_of(client, BOB_REPO, bob) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # torch is slow; the database is not the point
def test_valid_torch_checkpoint_is_accepted(client: TestClient, bob: dict[str, str]) -> None:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"weight": torch.randn(4, 3), "bias": torch.zeros(3)}, buffer)
    data = buffer.getvalue()
    oid = lfs_upload(client, BOB_REPO, bob, data)
    new = commit_ok(client, BOB_REPO, bob, lfs_op("pytorch_model.bin", oid, len(data)))
    assert head_of(client, BOB_REPO, bob) == new
    download = client.get(f"/{BOB_REPO}/resolve/main/pytorch_model.bin")
    assert download.status_code == 200 and download.content == data
    loaded = torch.load(io.BytesIO(download.content), weights_only=True)
    assert loaded["weight"].shape == (4, 3)


# --- ranges, HEAD and download counts -------------------------------------------------------------

TEXT = b"0123456789" * 100  # 1000 bytes


@pytest.fixture
def text_file(client: TestClient, bob: dict[str, str]) -> str:
    return commit_ok(client, BOB_REPO, bob, file_op("data.txt", TEXT), file_op("README.md", b"# hi\n"))


RANGES = [
    ("bytes=10-19", 10, 19),
    ("bytes=-5", 995, 999),  # suffix: the last 5 bytes
    ("bytes=-5000", 0, 999),  # a suffix longer than the file is the whole file
    ("bytes=990-", 990, 999),
    ("bytes=995-5000", 995, 999),  # an end past the file is clamped
    ("bytes=0-0", 0, 0),
]


def test_range_requests(client: TestClient, text_file: str) -> None:
    url = f"/{BOB_REPO}/resolve/main/data.txt"
    for header, start, end in RANGES:
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {start}-{end}/1000", header
        assert response.headers["content-length"] == str(end - start + 1), header
        assert response.content == TEXT[start : end + 1], header
    for header in ("bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=20-10"):
        body = assert_error(client.get(url, headers={"Range": header}), 416, "RangeNotSatisfiable")
        assert "range" in body["message"].lower(), header
    # Forms Baton does not serve are answered with the whole file, as RFC 9110 allows.
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=a-b"):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 200 and response.content == TEXT, header


def test_head_returns_file_metadata(client: TestClient, bob: dict[str, str], text_file: str) -> None:
    response = client.head(f"/{BOB_REPO}/resolve/main/data.txt")
    assert response.status_code == 200
    assert response.content == b""
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(TEXT) + TEXT).hexdigest()
    assert response.headers["etag"] == f'"{git_sha1}"'
    assert response.headers["x-repo-commit"] == text_file == head_of(client, BOB_REPO, bob)
    assert response.headers["x-linked-size"] == "1000"
    assert response.headers["content-length"] == "1000"
    assert response.headers["accept-ranges"] == "bytes"
    # LFS files: the ETag is the sha256 of the content.
    weights = os.urandom(64)
    commit_ok(client, BOB_REPO, bob, lfs_op("w.dat", lfs_upload(client, BOB_REPO, bob, weights), 64))
    lfs = client.head(f"/{BOB_REPO}/resolve/main/w.dat")
    assert lfs.headers["etag"] == f'"{sha256_of(weights)}"'
    assert lfs.headers["x-linked-size"] == "64"
    # A pinned revision answers with that commit; a matching ETag gets 304.
    old = client.head(f"/{BOB_REPO}/resolve/{text_file}/data.txt")
    assert old.headers["x-repo-commit"] == text_file
    cached = client.get(f"/{BOB_REPO}/resolve/main/data.txt", headers={"If-None-Match": f'"{git_sha1}"'})
    assert cached.status_code == 304 and cached.content == b""


def test_downloads_are_counted_by_get_not_head(client: TestClient, bob: dict[str, str], text_file: str) -> None:
    def counts() -> tuple[int, dict[str, int]]:
        info = info_of(client, BOB_REPO, bob)
        return info["downloads"], info["fileDownloads"]

    assert counts() == (0, {})
    client.head(f"/{BOB_REPO}/resolve/main/data.txt")
    assert counts() == (0, {})
    client.get(f"/{BOB_REPO}/resolve/main/data.txt")
    client.get(f"/{BOB_REPO}/resolve/main/data.txt", headers={"Range": "bytes=0-9"})
    downloads, files = counts()
    assert downloads == 2 and files["data.txt"] == 2
    # Resuming a download (a range not at the start) is not another download.
    client.get(f"/{BOB_REPO}/resolve/main/data.txt", headers={"Range": "bytes=500-"})
    assert counts()[0] == 2
    # README.md is looked at, not downloaded: it does not count toward the repo.
    client.get(f"/{BOB_REPO}/resolve/main/README.md")
    downloads, files = counts()
    assert downloads == 2 and files.get("data.txt") == 2
    # Failed downloads do not count.
    client.get(f"/{BOB_REPO}/resolve/main/missing.txt")
    client.get(f"/{BOB_REPO}/resolve/main/data.txt", headers={"Range": "bytes=5000-"})
    assert counts()[0] == 2
    listed = client.get("/api/models", params={"author": "bob"}).json()
    assert listed[0]["downloads"] == 2


# --- one error shape everywhere ------------------------------------------------------------------


def test_every_error_has_the_one_shape(client: TestClient, runtime: Runtime, users: Any, bob: dict[str, str]) -> None:
    """Like datasette's one-error-shape test: walk many failing requests across the API."""
    alice, carol = users.headers("alice"), users.headers("carol")
    head = head_of(client, BOB_REPO, bob)
    never_uploaded = sha256_of(b"never uploaded")
    with runtime.database.session() as session:
        bob_token = accounts.authenticate(session, bob["Authorization"].removeprefix("Bearer ")).token_id
    verify_link = runtime.signer.sign(f"/api/lfs/model/bob/target/verify/{never_uploaded}", by=bob_token)
    nd = {"Content-Type": "application/x-ndjson"}
    commit_url = f"/api/models/{BOB_REPO}/commit/main"
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/api/whoami-v2", {}, 401, "Unauthorized"),
        ("GET", "/api/whoami-v2", {"headers": {"Authorization": "Bearer nope"}}, 401, "Unauthorized"),
        ("GET", "/api/models/bob/missing", {}, 404, "RepoNotFound"),
        ("GET", "/api/datasets/bob/target", {}, 404, "RepoNotFound"),
        ("GET", "/api/models/bob/a..b", {}, 400, "InvalidName"),
        ("GET", "/api/widgets/bob/target", {}, 400, "BadRequest"),
        ("GET", "/api/widgets", {}, 400, "BadRequest"),
        ("GET", "/api/models?limit=many", {}, 400, "BadRequest"),
        ("GET", "/api/models?sort=bogus", {}, 400, "BadRequest"),
        ("GET", f"/api/models/{BOB_REPO}/revision/nobranch", {}, 404, "RevisionNotFound"),
        ("GET", f"/api/models/{BOB_REPO}/tree/main/nofolder", {}, 404, "EntryNotFound"),
        ("GET", f"/api/models/{BOB_REPO}/tree/nobranch", {}, 404, "RevisionNotFound"),
        ("GET", f"/api/models/{BOB_REPO}/commits/main?p=x", {}, 400, "BadRequest"),
        ("GET", f"/{BOB_REPO}/resolve/main/missing.txt", {}, 404, "EntryNotFound"),
        ("GET", f"/{BOB_REPO}/resolve/{'0' * 40}/.gitattributes", {}, 404, "RevisionNotFound"),
        ("GET", f"/{BOB_REPO}/resolve/main/..%2Fx", {}, 400, "InvalidPath"),
        (
            "GET",
            f"/{BOB_REPO}/resolve/main/.gitattributes",
            {"headers": {"Range": "bytes=9999-"}},
            416,
            "RangeNotSatisfiable",
        ),
        ("GET", "/datasets/bob/target/resolve/main/x", {}, 404, "RepoNotFound"),
        ("GET", "/widgets/bob/target/resolve/main/x", {}, 404, "EntryNotFound"),
        ("GET", f"/api/models/{BOB_REPO}/xet-read-token/main", {}, 501, "XetNotSupported"),
        ("GET", "/api/no/such/route/at/all", {}, 404, "NotFound"),
        ("DELETE", "/api/whoami-v2", {}, 405, "MethodNotAllowed"),
        ("POST", "/api/repos/create", {"json": {"name": "x"}}, 401, "Unauthorized"),
        ("POST", "/api/repos/create", {"json": {"name": ".."}, "headers": bob}, 400, "InvalidName"),
        ("POST", "/api/repos/create", {"json": {"name": "target"}, "headers": bob}, 409, "RepoExists"),
        ("POST", "/api/repos/create", {"json": {"name": "x", "type": "widget"}, "headers": bob}, 400, "BadRequest"),
        (
            "POST",
            "/api/repos/create",
            {"json": {"name": "x", "organization": "nobody"}, "headers": bob},
            404,
            "NotFound",
        ),
        (
            "POST",
            "/api/repos/create",
            {"json": {"name": "x", "visibility": "secret"}, "headers": bob},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/repos/create",
            {"content": b"not json", "headers": bob | {"Content-Type": "application/json"}},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/repos/move",
            {"json": {"fromRepo": BOB_REPO, "toRepo": BOB_REPO}, "headers": bob},
            409,
            "RepoExists",
        ),
        ("DELETE", "/api/repos/delete", {"json": {"name": "missing"}, "headers": bob}, 404, "RepoNotFound"),
        (
            "DELETE",
            "/api/repos/delete",
            {"json": {"name": "target", "organization": "bob"}, "headers": carol},
            403,
            "Forbidden",
        ),
        (
            "PUT",
            f"/api/models/{BOB_REPO}/settings",
            {"json": {"gated": "sometimes"}, "headers": bob},
            400,
            "BadRequest",
        ),
        ("POST", f"/api/models/{BOB_REPO}/ask-access", {"json": {}, "headers": carol}, 400, "BadRequest"),
        ("POST", f"/api/models/{BOB_REPO}/holds", {"json": {}, "headers": bob}, 403, "NotOperator"),
        ("DELETE", "/api/holds/999999", {"headers": alice}, 404, "NotFound"),
        ("POST", f"/api/models/{BOB_REPO}/branch/bad..name", {"json": {}, "headers": bob}, 400, "InvalidRef"),
        ("POST", f"/api/models/{BOB_REPO}/branch/main", {"json": {}, "headers": bob}, 409, "RefExists"),
        ("DELETE", f"/api/models/{BOB_REPO}/branch/main", {"headers": bob}, 400, "BadRequest"),
        ("DELETE", f"/api/models/{BOB_REPO}/tag/v9", {"headers": bob}, 404, "RevisionNotFound"),
        ("POST", "/api/validate-yaml", {"json": {"content": BROKEN_CARD}}, 400, "InvalidYaml"),
        ("POST", f"/api/models/{BOB_REPO}/preupload/main", {"json": {"files": "x"}, "headers": bob}, 400, "BadRequest"),
        (
            "POST",
            f"/{BOB_REPO}.git/info/lfs/objects/batch",
            {"json": {"operation": "download"}, "headers": bob},
            400,
            "BadRequest",
        ),
        (
            "POST",
            f"/{BOB_REPO}.git/info/lfs/objects/batch",
            {"json": {"operation": "upload", "objects": []}},
            401,
            "Unauthorized",
        ),
        ("PUT", f"/api/lfs/model/bob/target/objects/{never_uploaded}/3", {"content": b"abc"}, 401, "Unauthorized"),
        ("POST", verify_link, {"json": {"oid": never_uploaded, "size": 3}}, 400, "IntegrityError"),
        ("POST", commit_url, {"content": b"{oops\n", "headers": bob | nd}, 400, "BadRequest"),
        ("POST", commit_url, {"content": ndjson({"key": "nope", "value": {}}), "headers": bob | nd}, 400, "BadRequest"),
        ("POST", commit_url, {"content": ndjson(), "headers": bob | nd}, 400, "BadRequest"),
        (
            "POST",
            commit_url,
            {"content": ndjson(file_op("a", b"a"), parent="f" * 40), "headers": bob | nd},
            412,
            "PreconditionFailed",
        ),
        (
            "POST",
            f"/api/models/{BOB_REPO}/commit/nobranch",
            {"content": ndjson(file_op("a", b"a")), "headers": bob | nd},
            404,
            "RevisionNotFound",
        ),
        (
            "POST",
            commit_url + "?create_pr=1",
            {"content": ndjson(file_op("a", b"a")), "headers": bob | nd},
            400,
            "NotSupported",
        ),
        (
            "POST",
            commit_url,
            {"content": ndjson({"key": "deletedFile", "value": {"path": "gone.txt"}}), "headers": bob | nd},
            404,
            "EntryNotFound",
        ),
        (
            "POST",
            commit_url,
            {"content": ndjson(file_op(".gitattributes/x", b"a")), "headers": bob | nd},
            409,
            "PathConflict",
        ),
        ("POST", commit_url, {"content": ndjson(file_op("../a", b"a")), "headers": bob | nd}, 400, "InvalidPath"),
        (
            "POST",
            commit_url,
            {"content": ndjson(file_op("m.bin", evil_pickle())), "headers": bob | nd},
            400,
            "UnsafeFile",
        ),
    ]
    seen: set[str] = set()
    for method, url, extra, status, code in cases:
        response = client.request(method, url, **extra)
        try:
            assert_error(response, status, code)
        except AssertionError as error:
            raise AssertionError(f"{method} {url}: {error}") from error
        seen.add(code)
    assert len(seen) >= 20
    assert head_of(client, BOB_REPO, bob) == head
