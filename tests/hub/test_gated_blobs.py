"""Blob reuse by hash honours the one file-access rule: gated bytes cannot be copied out.

The attack (issue 12, item 1): a user without approval for a gated repo reads a file's oid from
its public tree, asks the LFS batch API to upload that oid to their own repo, and commits a
pointer to it. Baton must ask for the bytes, refuse the pointer, and never serve them.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .test_bad_input import (
    assert_error,
    commit_ok,
    create_repo,
    files_of,
    head_of,
    lfs_op,
    lfs_upload,
    ndjson,
    post_commit,
    upload_link,
)

GATED = "lab/gated"
# Not a pickle and not text: stored through LFS, passed by the scanners whatever they look at.
WEIGHTS = b"\x00GATED-WEIGHTS" + bytes(range(256)) * 20


def gated_repo(client: TestClient, users: Any) -> str:
    """lab/gated, public and gated (manual approval), holding WEIGHTS as weights.dat; returns the oid."""
    alice = users.headers("alice")
    create_repo(client, alice, "gated", organization="lab")
    oid = lfs_upload(client, GATED, alice, WEIGHTS)
    commit_ok(client, GATED, alice, lfs_op("weights.dat", oid, len(WEIGHTS)))
    response = client.put(f"/api/models/{GATED}/settings", json={"gated": "manual"}, headers=alice)
    assert response.status_code == 200, response.text
    return oid


def test_gated_weights_cannot_be_copied_out_by_hash(client: TestClient, users: Any) -> None:
    oid = gated_repo(client, users)
    carol = users.headers("carol")
    # The oid is public: the tree of a gated repo is listed to anyone, the bytes are not.
    tree = client.get(f"/api/models/{GATED}/tree/main", headers=carol).json()
    assert {"weights.dat": oid} == {item["path"]: item["lfs"]["oid"] for item in tree if "lfs" in item}
    assert_error(client.get(f"/{GATED}/resolve/main/weights.dat", headers=carol), 403, "GatedRepo")

    create_repo(client, carol, "loot")
    before = head_of(client, "carol/loot", carol)
    # Baton holds the bytes, but carol may not read them: the batch API asks her to send them.
    answer = upload_link(client, "carol/loot", carol, WEIGHTS)
    assert "upload" in answer["actions"]
    # The verify link does not confirm the bytes are in the store without them reaching her repo.
    verify = client.post(answer["actions"]["verify"]["href"], json={"oid": oid, "size": len(WEIGHTS)}, headers=carol)
    assert_error(verify, 400, "IntegrityError")
    # A pointer to them is refused, and nothing lands.
    body = assert_error(
        post_commit(client, "carol/loot", ndjson(lfs_op("stolen.dat", oid, len(WEIGHTS))), carol),
        400,
        "IntegrityError",
    )
    assert "carol/loot" in body["message"]
    assert head_of(client, "carol/loot", carol) == before
    assert_error(client.get("/carol/loot/resolve/main/stolen.dat", headers=carol), 404, "EntryNotFound")

    # A pending request changes nothing.
    assert client.post(f"/api/models/{GATED}/ask-access", json={}, headers=carol).json() == {"status": "pending"}
    assert "upload" in upload_link(client, "carol/loot", carol, WEIGHTS)["actions"]
    assert_error(
        post_commit(client, "carol/loot", ndjson(lfs_op("stolen.dat", oid, len(WEIGHTS))), carol),
        400,
        "IntegrityError",
    )

    # Once access is granted the bytes are hers to read, so reusing them is no leak.
    granted = client.post(
        f"/api/models/{GATED}/user-access-request/grant", json={"user": "carol"}, headers=users.headers("alice")
    )
    assert granted.status_code == 200, granted.text
    assert "actions" not in upload_link(client, "carol/loot", carol, WEIGHTS)
    commit_ok(client, "carol/loot", carol, lfs_op("reused.dat", oid, len(WEIGHTS)))
    assert client.get("/carol/loot/resolve/main/reused.dat", headers=carol).content == WEIGHTS


def test_members_of_the_gated_repos_namespace_reuse_its_bytes(client: TestClient, users: Any) -> None:
    """bob writes to lab: he reads lab/gated without a request, so its bytes are his to reuse."""
    oid = gated_repo(client, users)
    bob = users.headers("bob")
    create_repo(client, bob, "copy")
    assert "actions" not in upload_link(client, "bob/copy", bob, WEIGHTS)
    commit_ok(client, "bob/copy", bob, lfs_op("weights.dat", oid, len(WEIGHTS)))
    assert files_of(client, "bob/copy", bob) == [".gitattributes", "weights.dat"]


def test_regating_closes_the_bytes_to_repos_they_never_reached(client: TestClient, users: Any) -> None:
    oid = gated_repo(client, users)
    alice, carol = users.headers("alice"), users.headers("carol")
    create_repo(client, carol, "early")
    create_repo(client, carol, "late")
    assert client.put(f"/api/models/{GATED}/settings", json={"gated": False}, headers=alice).status_code == 200
    # Ungated, anyone reads the bytes: reusing them in carol/early grants them there, as an upload would.
    assert "actions" not in upload_link(client, "carol/early", carol, WEIGHTS)
    assert client.put(f"/api/models/{GATED}/settings", json={"gated": "auto"}, headers=alice).status_code == 200
    # Gated again: a repo the bytes never reached must be sent them...
    assert "upload" in upload_link(client, "carol/late", carol, WEIGHTS)["actions"]
    assert_error(
        post_commit(client, "carol/late", ndjson(lfs_op("w.dat", oid, len(WEIGHTS))), carol), 400, "IntegrityError"
    )
    # ...while the repo they reached keeps them.
    commit_ok(client, "carol/early", carol, lfs_op("w.dat", oid, len(WEIGHTS)))
