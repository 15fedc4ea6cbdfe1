"""Garbage collection of blobs, deduplication, and the hub running on an S3 blob store.

Uploads go through the raw HTTP protocol (LFS batch, signed PUT, NDJSON commit) in-process;
the S3 round trip uses the official huggingface_hub client against a real uvicorn server and a
real S3-protocol server process (moto).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.hub.commits import GITATTRIBUTES
from baton.hub.maintenance import collect_garbage
from baton.hub.models import BlobGrant
from baton.storage import LocalBlobStore

HOUR = 3600


# --- helpers -------------------------------------------------------------------------------------


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def create_repo(client: TestClient, headers: dict[str, str], name: str, organization: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "type": "model"}
    if organization:
        body["organization"] = organization
    response = client.post("/api/repos/create", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["name"])


def batch(client: TestClient, repo_id: str, headers: dict[str, str], content: bytes) -> dict[str, Any]:
    response = client.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": sha256_of(content), "size": len(content)}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["objects"][0])


def lfs_upload(client: TestClient, repo_id: str, headers: dict[str, str], content: bytes) -> bool:
    """Upload through the LFS protocol; returns whether the bytes had to be sent."""
    answer = batch(client, repo_id, headers, content)
    if "actions" not in answer:
        return False
    response = client.put(answer["actions"]["upload"]["href"], content=content)
    assert response.status_code == 200, response.text
    return True


def commit(
    client: TestClient,
    repo_id: str,
    headers: dict[str, str],
    *,
    inline: dict[str, bytes] | None = None,
    lfs: dict[str, bytes] | None = None,
    branch: str = "main",
) -> httpx.Response:
    lines: list[dict[str, Any]] = [{"key": "header", "value": {"summary": "upload"}}]
    for path, content in (inline or {}).items():
        lines.append({"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode()}})
    for path, content in (lfs or {}).items():
        value = {"path": path, "algo": "sha256", "oid": sha256_of(content), "size": len(content)}
        lines.append({"key": "lfsFile", "value": value})
    body = b"\n".join(json.dumps(line).encode() for line in lines)
    return client.post(
        f"/api/models/{repo_id}/commit/{branch}",
        content=body,
        headers=headers | {"Content-Type": "application/x-ndjson"},
    )


def commit_ok(client: TestClient, repo_id: str, headers: dict[str, str], **files: Any) -> str:
    response = commit(client, repo_id, headers, **files)
    assert response.status_code == 200, response.text
    return str(response.json()["commitOid"])


def local_store(runtime: Runtime) -> LocalBlobStore:
    assert isinstance(runtime.store, LocalBlobStore)
    return runtime.store


def blob_files(runtime: Runtime) -> list[Path]:
    """Every blob file on disk (not through the store's own listing)."""
    return sorted(path for path in local_store(runtime).blobs_dir.rglob("*") if path.is_file())


def age(runtime: Runtime, content: bytes | None = None, seconds: int = 2 * HOUR) -> None:
    """Make one blob (or all of them) and its upload grants look ``seconds`` old."""
    store = local_store(runtime)
    moment = time.time() - seconds
    targets = [store.blob_path(sha256_of(content))] if content is not None else blob_files(runtime)
    for path in targets:
        os.utime(path, (moment, moment))
    grants = update(BlobGrant).values(created_at=datetime.fromtimestamp(moment, UTC))
    if content is not None:
        grants = grants.where(BlobGrant.sha256 == sha256_of(content))
    with runtime.database.session(write=True) as session:
        session.execute(grants)


def download(client: TestClient, repo_id: str, path: str, revision: str = "main") -> bytes:
    response = client.get(f"/{repo_id}/resolve/{revision}/{path}")
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    headers: dict[str, str] = users.headers("bob")
    create_repo(client, headers, "target")
    return headers


# --- garbage collection --------------------------------------------------------------------------


def test_uncommitted_upload_is_kept_within_the_grace_period_and_collected_after(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    pending = os.urandom(1000)
    assert lfs_upload(client, "bob/target", bob, pending)
    assert runtime.store.exists(sha256_of(pending))

    report = collect_garbage(runtime, grace_seconds=HOUR)
    assert report.deleted == 0 and report.freed_bytes == 0
    assert runtime.store.exists(sha256_of(pending))
    # Within the grace period the commit that references it may still arrive.
    commit_ok(client, "bob/target", bob, lfs={"kept.dat": pending})

    abandoned = os.urandom(700)
    assert lfs_upload(client, "bob/target", bob, abandoned)
    age(runtime, abandoned)
    report = collect_garbage(runtime, grace_seconds=HOUR)
    assert report.deleted == 1 and report.freed_bytes == 700
    assert not runtime.store.exists(sha256_of(abandoned))
    assert runtime.store.exists(sha256_of(pending))  # committed: kept although just as unreferenced before
    # The repo's claim on the bytes went with them: a commit naming them is refused, the batch API
    # asks for them again, and sending them again works.
    refused = commit(client, "bob/target", bob, lfs={"late.dat": abandoned})
    assert refused.status_code == 400 and refused.json()["error"] == "IntegrityError"
    assert lfs_upload(client, "bob/target", bob, abandoned)
    commit_ok(client, "bob/target", bob, lfs={"late.dat": abandoned})
    assert download(client, "bob/target", "late.dat") == abandoned


def test_grace_zero_collects_every_unreferenced_blob(client: TestClient, runtime: Runtime, bob: dict[str, str]) -> None:
    uploads = [os.urandom(100 + index) for index in range(3)]
    for content in uploads:
        lfs_upload(client, "bob/target", bob, content)
    before = len(blob_files(runtime))
    age(runtime, seconds=1)  # the blobs' times lie before "now" (set, not slept for)
    report = collect_garbage(runtime, grace_seconds=0)
    assert report.deleted == 3
    assert report.freed_bytes == sum(len(content) for content in uploads)
    assert len(blob_files(runtime)) == before - 3
    assert report.kept == len(blob_files(runtime)) == 1  # the committed .gitattributes


def test_blobs_referenced_by_any_commit_are_never_deleted(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    first, second = os.urandom(300), os.urandom(300)
    old_text, new_text = b"version one\n", b"version two\n"
    for content in (first, second):
        lfs_upload(client, "bob/target", bob, content)
    old = commit_ok(client, "bob/target", bob, inline={"notes.txt": old_text}, lfs={"w.dat": first})
    # Only history holds the old versions now; a branch holds a file main never had.
    commit_ok(client, "bob/target", bob, inline={"notes.txt": new_text}, lfs={"w.dat": second})
    assert client.post("/api/models/bob/target/branch/dev", json={}, headers=bob).status_code == 200
    branch_only = os.urandom(200)
    lfs_upload(client, "bob/target", bob, branch_only)
    commit_ok(client, "bob/target", bob, lfs={"dev.dat": branch_only}, branch="dev")
    referenced = {GITATTRIBUTES, first, second, old_text, new_text, branch_only}
    assert {path.name for path in blob_files(runtime)} == {sha256_of(content) for content in referenced}

    age(runtime, seconds=30 * 24 * HOUR)
    for dry_run in (True, False):
        report = collect_garbage(runtime, grace_seconds=0, dry_run=dry_run)
        assert report.deleted == 0 and report.kept == len(referenced)
    assert {path.name for path in blob_files(runtime)} == {sha256_of(content) for content in referenced}
    assert download(client, "bob/target", "w.dat", old) == first
    assert download(client, "bob/target", "notes.txt", old) == old_text
    assert download(client, "bob/target", "dev.dat", "dev") == branch_only


def test_blobs_of_a_deleted_repo_are_collected(
    client: TestClient, runtime: Runtime, users: Any, bob: dict[str, str]
) -> None:
    create_repo(client, bob, "doomed")
    unique_inline, unique_lfs, shared = b"only in doomed\n", os.urandom(500), os.urandom(400)
    lfs_upload(client, "bob/doomed", bob, unique_lfs)
    lfs_upload(client, "bob/doomed", bob, shared)
    commit_ok(client, "bob/doomed", bob, inline={"a.txt": unique_inline}, lfs={"w.dat": unique_lfs, "s.dat": shared})
    commit_ok(client, "bob/target", bob, lfs={"s.dat": shared})  # no upload needed: visible in bob/doomed
    response = client.request("DELETE", "/api/repos/delete", json={"name": "doomed", "type": "model"}, headers=bob)
    assert response.status_code == 200, response.text
    age(runtime)

    # A dry run reports what a real run then deletes, and deletes nothing.
    preview = collect_garbage(runtime, grace_seconds=HOUR, dry_run=True)
    assert runtime.store.exists(sha256_of(unique_lfs)) and runtime.store.exists(sha256_of(unique_inline))
    report = collect_garbage(runtime, grace_seconds=HOUR)
    assert report == preview
    assert report.deleted == 2 and report.freed_bytes == len(unique_inline) + len(unique_lfs)
    assert not runtime.store.exists(sha256_of(unique_lfs))
    assert not runtime.store.exists(sha256_of(unique_inline))
    # Still used by bob/target: kept, and still downloadable.
    assert runtime.store.exists(sha256_of(GITATTRIBUTES))
    assert download(client, "bob/target", "s.dat") == shared
    # A second run finds nothing more.
    assert collect_garbage(runtime, grace_seconds=HOUR).deleted == 0


def test_the_same_file_in_several_repos_is_stored_once(
    client: TestClient, runtime: Runtime, users: Any, bob: dict[str, str]
) -> None:
    carol = users.headers("carol")
    create_repo(client, bob, "copy", organization="lab")
    create_repo(client, carol, "mine")
    weights, config = os.urandom(4096), b'{"hidden_size": 8}'
    assert lfs_upload(client, "bob/target", bob, weights)
    commit_ok(client, "bob/target", bob, inline={"config.json": config}, lfs={"w.dat": weights})
    # Visible in a public repo: nobody has to send the bytes again.
    assert not lfs_upload(client, "lab/copy", bob, weights)
    assert not lfs_upload(client, "carol/mine", carol, weights)
    commit_ok(client, "lab/copy", bob, inline={"config.json": config}, lfs={"w.dat": weights})
    commit_ok(client, "carol/mine", carol, inline={"config.json": config}, lfs={"w.dat": weights})
    # Sending the same bytes again anyway (another client) still stores them once.
    with runtime.database.session() as session:
        carol_token = accounts.authenticate(session, carol["Authorization"].removeprefix("Bearer ")).token_id
    response = client.put(
        runtime.signer.sign(f"/api/lfs/model/carol/mine/objects/{sha256_of(weights)}/{len(weights)}", by=carol_token),
        content=weights,
    )
    assert response.status_code == 200, response.text

    names = [path.name for path in blob_files(runtime)]
    assert names.count(sha256_of(weights)) == 1
    assert names.count(sha256_of(config)) == 1
    assert names.count(sha256_of(GITATTRIBUTES)) == 1
    assert len(names) == 3
    for repo_id in ("bob/target", "lab/copy", "carol/mine"):
        assert download(client, repo_id, "w.dat") == weights
        info = client.get(f"/api/models/{repo_id}").json()
        assert info["usedStorage"] == len(GITATTRIBUTES) + len(config) + len(weights)


# --- the hub on S3 -------------------------------------------------------------------------------


def _safetensors(payload: bytes) -> bytes:
    header = json.dumps({"w": {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + payload


class TestHubOnS3:
    """The whole hub with BATON_STORAGE_URL=s3://bucket/prefix, against a moto server process."""

    @pytest.fixture
    def settings(
        self, settings: Settings, s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Settings]:
        monkeypatch.setenv("BATON_S3_ENDPOINT_URL", s3_endpoint)
        prefix = f"hub-{uuid.uuid4().hex[:12]}"
        yield Settings(
            data_dir=settings.data_dir,
            database_url=settings.database_url,
            storage_url=f"s3://{s3_bucket}/{prefix}",
        )

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the blob store is the point here
    def test_upload_download_and_gc_through_s3(
        self, live_server: Any, runtime: Runtime, users: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import huggingface_hub
        from huggingface_hub import HfApi

        from baton.storage.s3 import S3BlobStore

        store = runtime.store
        assert isinstance(store, S3BlobStore)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        api = HfApi(endpoint=live_server.url, token=users["bob"])
        api.create_repo("bob/on-s3")
        folder = tmp_path / "model"
        folder.mkdir()
        weights = _safetensors(os.urandom(200_000))
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "config.json").write_text('{"layers": 2}')
        info = api.upload_folder(folder_path=folder, repo_id="bob/on-s3", commit_message="to s3")

        for name in ("model.safetensors", "config.json"):
            path = huggingface_hub.hf_hub_download(
                "bob/on-s3", name, endpoint=live_server.url, cache_dir=tmp_path / "cache", revision=info.oid
            )
            assert Path(path).read_bytes() == (folder / name).read_bytes()
        # The bytes live in the bucket under the prefix, not in the data folder.
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.folder_key("blobs"))
        keys = {item["Key"].rsplit("/", 1)[-1] for item in listed.get("Contents", [])}
        assert {sha256_of(weights), sha256_of(b'{"layers": 2}'), sha256_of(GITATTRIBUTES)} <= keys
        local_blobs = Path(runtime.settings.data_dir) / "blobs"
        assert not local_blobs.exists() or not any(path.is_file() for path in local_blobs.rglob("*"))
        # A byte range is served from S3 too.
        response = httpx.get(
            f"{live_server.url}/bob/on-s3/resolve/main/model.safetensors", headers={"Range": "bytes=8-15"}
        )
        assert response.status_code == 206 and response.content == weights[8:16]

        # A scan that must read the header from S3 refuses a broken file, and nothing is committed.
        broken = tmp_path / "broken.safetensors"
        broken.write_bytes(struct.pack("<Q", 10**6) + b"{}")
        with pytest.raises(huggingface_hub.errors.HfHubHTTPError) as raised:
            api.upload_file(path_or_fileobj=broken, path_in_repo="broken.safetensors", repo_id="bob/on-s3")
        assert raised.value.response.status_code == 400
        assert api.model_info("bob/on-s3").sha == info.oid

        # Garbage collection works on S3: the unreferenced broken upload and, once the repo is gone,
        # its blobs are deleted from the bucket.
        time.sleep(1.1)  # S3 times have one-second resolution
        report = collect_garbage(runtime, grace_seconds=0)
        assert report.deleted == 1
        assert not store.exists(sha256_of(broken.read_bytes()))
        assert store.exists(sha256_of(weights))
        api.delete_repo("bob/on-s3")
        report = collect_garbage(runtime, grace_seconds=0)
        assert report.deleted == 3
        assert not store.exists(sha256_of(weights))


def test_a_reused_blob_is_shielded_from_gc_until_its_commit(
    client: TestClient, runtime: Runtime, bob: dict[str, str]
) -> None:
    """The batch API lets a repo reuse bytes it can read without uploading; gc must wait for the commit."""
    shared = os.urandom(900)
    assert lfs_upload(client, "bob/target", bob, shared)
    commit_ok(client, "bob/target", bob, lfs={"one.dat": shared})
    create_repo(client, bob, "second")
    # The second repo may reuse the bytes: no upload action comes back.
    batch = client.post(
        "/bob/second.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": sha256_of(shared), "size": 900}]},
        headers=bob,
    )
    assert "actions" not in batch.json()["objects"][0]
    # Now the first repo goes away, the blob ages, and gc runs before the second commit arrives.
    deleted = client.request("DELETE", "/api/repos/delete", json={"name": "target", "type": "model"}, headers=bob)
    assert deleted.status_code == 200, deleted.text
    store = local_store(runtime)
    moment = time.time() - 2 * HOUR
    os.utime(store.blob_path(sha256_of(shared)), (moment, moment))
    assert collect_garbage(runtime, grace_seconds=HOUR).deleted == 0
    commit_ok(client, "bob/second", bob, lfs={"two.dat": shared})
    assert download(client, "bob/second", "two.dat") == shared
