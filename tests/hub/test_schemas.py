"""The hub's answers have declared shapes (``baton.hub.schemas``), and declaring them changed nothing
the Hugging Face client reads.

- Every JSON route of the hub documents its 2xx answer in ``/openapi.json``; routes with an empty
  body or file bytes say so instead. A new hub route must be sorted into one of these lists.
- Real answers of the key routes validate against their models, parse with the client's own
  classes (``ModelInfo``, ``RepoFile``, ``RepoFolder``), and keep the exact keys they had: keys the
  Hub sends only sometimes (``lfs``, ``lastCommit``, ``actions``, a sibling's ``size``) are still
  left out when they do not apply, and ``null`` values are still sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from huggingface_hub.hf_api import ModelInfo, RepoFile, RepoFolder
from pydantic import BaseModel

from baton.app import create_app
from baton.core.runtime import Runtime
from baton.hub import api, hf_api, schemas, upload_api

REPO = "/api/{type_plural}/{namespace}/{name}"
LFS = "/api/lfs/{repo_type}/{namespace}/{name}"

# (method, path) -> the media type of its 2xx JSON answer.
JSON_ROUTES = {
    ("GET", "/api/whoami-v2"): "application/json",
    ("POST", "/api/repos/create"): "application/json",
    ("PUT", f"{REPO}/settings"): "application/json",
    ("POST", "/api/validate-yaml"): "application/json",
    ("GET", REPO): "application/json",
    ("GET", f"{REPO}/revision/{{revision}}"): "application/json",
    ("GET", "/api/{type_plural}"): "application/json",
    ("GET", f"{REPO}/refs"): "application/json",
    ("GET", f"{REPO}/commits/{{revision}}"): "application/json",
    ("GET", f"{REPO}/tree/{{rest}}"): "application/json",
    ("POST", f"{REPO}/paths-info/{{revision}}"): "application/json",
    ("POST", f"{REPO}/preupload/{{revision}}"): "application/json",
    ("POST", f"{REPO}/commit/{{revision}}"): "application/json",
    ("POST", "/{namespace}/{repo_git}/info/lfs/objects/batch"): "application/vnd.git-lfs+json",
    ("POST", "/{type_plural}/{namespace}/{repo_git}/info/lfs/objects/batch"): "application/vnd.git-lfs+json",
    ("POST", f"{REPO}/ask-access"): "application/json",
    ("GET", f"{REPO}/user-access-request/{{status}}"): "application/json",
    ("POST", f"{REPO}/user-access-request/handle"): "application/json",
    ("POST", f"{REPO}/user-access-request/grant"): "application/json",
    ("GET", f"{REPO}/lineage"): "application/json",
    ("POST", f"{REPO}/holds"): "application/json",
    ("DELETE", "/api/holds/{hold_id}"): "application/json",
}
EMPTY_ROUTES = {
    ("DELETE", "/api/repos/delete"),
    ("POST", "/api/repos/move"),
    ("POST", f"{REPO}/branch/{{branch}}"),
    ("DELETE", f"{REPO}/branch/{{branch}}"),
    ("POST", f"{REPO}/tag/{{revision}}"),
    ("DELETE", f"{REPO}/tag/{{tag}}"),
    ("PUT", f"{LFS}/objects/{{oid}}/{{size}}"),
    ("PUT", f"{LFS}/parts/{{oid}}/{{size}}/{{upload_id}}/{{part}}"),
    ("POST", f"{LFS}/complete/{{oid}}/{{size}}/{{upload_id}}"),
    ("POST", f"{LFS}/verify/{{oid}}"),
    # Always a 501 (XetNotSupported), after a redirect to the advice URL: nothing to describe on success.
    ("GET", f"{REPO}/xet-read-token/{{revision}}"),
    ("GET", f"{REPO}/xet-write-token/{{revision}}"),
    ("GET", "/xet-is-not-supported-here/set-HF_HUB_DISABLE_XET=1-and-run-it-again"),
}
FILE_ROUTES = {
    (method, path)
    for method in ("GET", "HEAD")
    for path in ("/{namespace}/{name}/resolve/{rest}", "/{type_plural}/{namespace}/{name}/resolve/{rest}")
}


def _openapi_path(path: str) -> str:
    return path.replace(":path}", "}")


def _hub_routes() -> set[tuple[str, str]]:
    found = set()
    for router in (api.router, hf_api.router, upload_api.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found |= {(method, _openapi_path(route.path)) for method in route.methods}
    return found


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_shape(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with properties, or an array of such objects (possibly one of several kinds)."""
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        return _has_shape(spec, schema.get("items", {}))
    if "oneOf" in schema or "anyOf" in schema:
        choices = schema.get("oneOf") or schema.get("anyOf")
        return bool(choices) and all(_has_shape(spec, choice) for choice in choices)
    return bool(schema.get("properties"))


@pytest.fixture
def openapi(runtime: Runtime) -> dict[str, Any]:
    spec: dict[str, Any] = create_app(runtime=runtime).openapi()
    return spec


def test_every_hub_route_is_sorted_into_json_empty_or_file() -> None:
    served = _hub_routes()
    listed = set(JSON_ROUTES) | EMPTY_ROUTES | FILE_ROUTES
    assert not served - listed, f"sort these hub routes into a list above: {sorted(served - listed)}"
    assert not listed - served, f"these listed routes do not exist: {sorted(listed - served)}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_openapi_documents_every_hub_answer(openapi: dict[str, Any]) -> None:
    for (method, path), media_type in JSON_ROUTES.items():
        responses = openapi["paths"][path][method.lower()]["responses"]
        content = responses["200"].get("content", {})
        assert list(content) == [media_type], (method, path, content)
        assert _has_shape(openapi, content[media_type].get("schema", {})), (method, path, content)
    for method, path in EMPTY_ROUTES:
        responses = openapi["paths"][path][method.lower()]["responses"]
        assert not responses["200"].get("content"), (method, path, responses["200"])
    for method, path in FILE_ROUTES:
        responses = openapi["paths"][path][method.lower()]["responses"]
        assert list(responses["200"]["content"]) == ["application/octet-stream"], (method, path)
        assert list(responses["206"]["content"]) == ["application/octet-stream"], (method, path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_openapi_names_the_hubs_keys(openapi: dict[str, Any]) -> None:
    """The schemas carry the Hub's keys (aliases), not Baton's Python names."""

    def properties(name: str) -> set[str]:
        return set(openapi["components"]["schemas"][name]["properties"])

    assert {"_id", "id", "sha", "lastModified", "cardData", "siblings", "private", "gated"} <= properties("RepoInfo")
    assert {"rfilename", "size", "blobId", "lfs"} == properties("Sibling")
    assert {"type", "oid", "size", "path", "lfs", "lastCommit"} == properties("TreeFile")
    assert {"files", "commitOid"} == properties("PreuploadResponse")
    assert {"commitUrl", "commitOid", "pullRequestUrl", "scans"} == properties("CommitResult")
    assert {"transfer", "objects", "hash_algo"} == properties("LfsBatchResponse")


# --- real answers -----------------------------------------------------------------------------------

CARD = b"""---
license: mit
tags: [korean]
language: ko
pipeline_tag: text-generation
library_name: transformers
base_model: lab/base
---
# A model
"""
WEIGHTS = b"\x00weights\x01" * 100


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _valid(model: type[BaseModel], body: Any) -> None:
    """``body`` validates against ``model`` and dumps back (by alias, set keys only) to itself."""
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _batch(client: TestClient, headers: dict[str, str], objects: list[dict[str, Any]]) -> httpx.Response:
    return client.post(
        "/bob/typed.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": objects, "hash_algo": "sha256"},
        headers=headers | {"Accept": "application/vnd.git-lfs+json"},
    )


def _commit(client: TestClient, headers: dict[str, str], lines: list[dict[str, Any]]) -> httpx.Response:
    body = b"\n".join(json.dumps(line).encode() for line in [{"key": "header", "value": {"summary": "up"}}, *lines])
    return client.post(
        "/api/models/bob/typed/commit/main", content=body, headers=headers | {"Content-Type": "application/x-ndjson"}
    )


def test_real_answers_validate_and_keep_the_keys_the_client_reads(client: TestClient, users: Any) -> None:
    bob = users.headers("bob")
    created = _ok(client.post("/api/repos/create", json={"name": "typed", "type": "model"}, headers=bob))
    _valid(schemas.RepoUrl, created)
    assert set(created) == {"url", "name", "id"}

    # whoami: the client reads name, orgs, auth.accessToken.role.
    me = _ok(client.get("/api/whoami-v2", headers=bob))
    _valid(schemas.WhoAmI, me)
    assert me["name"] == "bob" and me["orgs"][0]["name"] == "lab"
    assert me["auth"]["accessToken"]["role"] == "write"
    assert "expiresAt" in me["auth"]["accessToken"]  # null is still sent

    # preupload: a new big binary goes through LFS; oid and commitOid are sent even when null.
    sample = base64.b64encode(WEIGHTS[:512]).decode()
    asked = {"files": [{"path": "weights.dat", "size": len(WEIGHTS), "sample": sample}]}
    preupload = _ok(client.post("/api/models/bob/typed/preupload/main", json=asked, headers=bob))
    _valid(schemas.PreuploadResponse, preupload)
    assert set(preupload) == {"files", "commitOid"}
    assert set(preupload["files"][0]) == {"path", "uploadMode", "shouldIgnore", "oid"}
    assert preupload["files"][0]["oid"] is None

    # LFS batch: new bytes get actions (a single PUT: header {}; verify: href only); bad ones an error.
    oid = _sha256(WEIGHTS)
    response = _batch(client, bob, [{"oid": oid, "size": len(WEIGHTS)}, {"oid": "nothex", "size": 1}])
    assert response.headers["content-type"].startswith("application/vnd.git-lfs+json")
    batch = _ok(response)
    _valid(schemas.LfsBatchResponse, batch)
    assert batch["transfer"] == "basic" and batch["hash_algo"] == "sha256"
    wanted, refused = batch["objects"]
    assert set(wanted) == {"oid", "size", "authenticated", "actions"}
    assert wanted["actions"]["upload"]["header"] == {} and set(wanted["actions"]["verify"]) == {"href"}
    assert set(refused) == {"oid", "size", "error"} and refused["error"]["code"] == 422
    assert _ok_empty(client.put(wanted["actions"]["upload"]["href"], content=WEIGHTS))
    again = _ok(_batch(client, bob, [{"oid": oid, "size": len(WEIGHTS)}]))
    _valid(schemas.LfsBatchResponse, again)
    assert set(again["objects"][0]) == {"oid", "size", "authenticated"}  # Baton has the bytes: no actions

    # commit: commitOid and commitUrl are what the client reads; pullRequestUrl is sent as null.
    readme = {"key": "file", "value": {"path": "README.md", "content": base64.b64encode(CARD).decode()}}
    weights = {
        "key": "lfsFile",
        "value": {"path": "weights.dat", "algo": "sha256", "oid": oid, "size": len(WEIGHTS)},
    }
    committed = _ok(_commit(client, bob, [readme, weights]))
    _valid(schemas.CommitResult, committed)
    assert set(committed) == {"commitUrl", "commitOid", "pullRequestUrl", "scans"}
    assert committed["pullRequestUrl"] is None and committed["commitUrl"].endswith(committed["commitOid"])

    # model info, without and with blobs: the client's ModelInfo parses it.
    info = _ok(client.get("/api/models/bob/typed", headers=bob))
    _valid(schemas.RepoInfo, info)
    assert info["sha"] == committed["commitOid"]
    assert info["cardData"]["license"] == "mit" and "license:mit" in info["tags"]
    assert info["baseModels"] == ["lab/base"] and "baseModelRelation" in info  # sent, as null
    assert info["baseModelRelation"] is None
    assert {"_id", "modelId", "pipeline_tag", "library_name", "spaces", "lineage", "fileDownloads"} <= set(info)
    assert all(set(item) == {"rfilename"} for item in info["siblings"])
    parsed = ModelInfo(**info)
    assert parsed.id == "bob/typed" and parsed.sha == committed["commitOid"]
    assert parsed.card_data is not None and parsed.card_data["license"] == "mit"
    assert parsed.siblings is not None and {"README.md", "weights.dat"} <= {s.rfilename for s in parsed.siblings}
    detailed = _ok(client.get("/api/models/bob/typed", params={"blobs": "true"}, headers=bob))
    _valid(schemas.RepoInfo, detailed)
    by_name = {item["rfilename"]: item for item in detailed["siblings"]}
    assert set(by_name["README.md"]) == {"rfilename", "size", "blobId"}
    assert set(by_name["weights.dat"]) == {"rfilename", "size", "blobId", "lfs"}
    assert set(by_name["weights.dat"]["lfs"]) == {"sha256", "size", "pointerSize"}
    siblings = ModelInfo(**detailed).siblings
    assert siblings is not None
    lfs_sibling = next(s for s in siblings if s.rfilename == "weights.dat")
    assert lfs_sibling.lfs is not None and lfs_sibling.lfs.sha256 == oid

    # the listing: summaries, with cardData only when asked.
    listing = _ok(client.get("/api/models", params={"author": "bob"}, headers=bob))
    for item in listing:
        _valid(schemas.RepoSummary, item)
    assert listing[0]["id"] == "bob/typed" and "cardData" not in listing[0] and "siblings" not in listing[0]
    assert "cardData" in _ok(client.get("/api/models", params={"author": "bob", "cardData": "true"}))[0]

    # the tree: files and folders as RepoFile and RepoFolder; lfs only for LFS files; lastCommit with expand.
    _ok(_commit(client, bob, [{"key": "file", "value": {"path": "docs/a.txt", "content": "YQ=="}}]))
    tree = _ok(client.get("/api/models/bob/typed/tree/main", headers=bob))
    for item in tree:
        _valid(schemas.TreeFile if item["type"] == "file" else schemas.TreeFolder, item)
    by_path = {item["path"]: item for item in tree}
    assert set(by_path["README.md"]) == {"type", "oid", "size", "path"}
    assert set(by_path["weights.dat"]) == {"type", "oid", "size", "path", "lfs"}
    assert set(by_path["weights.dat"]["lfs"]) == {"oid", "size", "pointerSize"}
    assert by_path["docs"] == {"type": "directory", "oid": by_path["docs"]["oid"], "size": 0, "path": "docs"}
    assert RepoFile(**by_path["weights.dat"]).lfs is not None
    assert RepoFolder(**by_path["docs"]).path == "docs"
    expanded = _ok(client.get("/api/models/bob/typed/tree/main", params={"expand": "true"}, headers=bob))
    assert all(set(item["lastCommit"]) == {"id", "title", "date"} for item in expanded)
    assert RepoFile(**next(i for i in expanded if i["path"] == "README.md")).last_commit is not None

    # paths-info: the same entries, by path.
    info_form = {"paths": ["README.md", "docs", "missing"]}
    found = _ok(client.post("/api/models/bob/typed/paths-info/main", data=info_form, headers=bob))
    assert [item["path"] for item in found] == ["README.md", "docs"]
    assert found == [by_path["README.md"], by_path["docs"]]

    # refs and commits.
    refs = _ok(client.get("/api/models/bob/typed/refs", headers=bob))
    _valid(schemas.GitRefs, refs)
    assert set(refs) == {"branches", "tags", "converts", "pullRequests"}
    history = _ok(client.get("/api/models/bob/typed/commits/main", params={"limit": 1}, headers=bob))
    assert len(history) == 1 and set(history[0]) == {"id", "title", "message", "date", "authors"}
    _valid(schemas.CommitInfo, history[0])


def _ok_empty(response: httpx.Response) -> bool:
    assert response.status_code == 200, response.text
    return response.content == b""


def test_lfs_multipart_answer_keeps_its_part_links(
    client: TestClient, users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_api, "MULTIPART_THRESHOLD", 10)
    monkeypatch.setattr(upload_api, "PART_SIZE", 600)
    bob = users.headers("bob")
    _ok(client.post("/api/repos/create", json={"name": "typed", "type": "model"}, headers=bob))
    response = client.post(
        "/models/bob/typed.git/info/lfs/objects/batch",  # the typed form of the batch URL
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": [{"oid": _sha256(WEIGHTS), "size": len(WEIGHTS)}],
        },
        headers=bob,
    )
    answer = _ok(response)
    _valid(schemas.LfsBatchResponse, answer)
    assert answer["transfer"] == "multipart"
    header = answer["objects"][0]["actions"]["upload"]["header"]
    assert set(header) == {"chunk_size", "00001", "00002"} and header["chunk_size"] == "600"
