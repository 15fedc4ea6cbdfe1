"""The unmodified huggingface_hub client against a real Baton server on loopback."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from baton.core.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def api(live_server, users, monkeypatch, tmp_path) -> HfApi:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return HfApi(endpoint=live_server.url, token=users["bob"])


def other(api: HfApi, token: str | None) -> HfApi:
    return HfApi(endpoint=api.endpoint, token=token if token is not None else False)


def test_whoami_and_wrong_token(api: HfApi, users) -> None:  # type: ignore[no-untyped-def]
    me = api.whoami()
    assert me["name"] == "bob"
    assert [org["name"] for org in me["orgs"]] == ["lab"]
    with pytest.raises(HfHubHTTPError) as raised:
        other(api, "baton_not-a-real-token").whoami()
    assert raised.value.response.status_code == 401


def test_create_upload_download_roundtrip(api: HfApi, tmp_path: Path) -> None:
    url = api.create_repo("lab/tiny", private=False)
    assert url.repo_id == "lab/tiny"
    with pytest.raises(HfHubHTTPError) as raised:
        api.create_repo("lab/tiny")
    assert raised.value.response.status_code == 409
    api.create_repo("lab/tiny", exist_ok=True)

    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    weights = os.urandom(3 * 1024 * 1024)
    (folder / "model.safetensors").write_bytes(_safetensors(weights))
    (folder / "sub" / "notes.txt").write_text("한국어 노트")
    info = api.upload_folder(folder_path=folder, repo_id="lab/tiny", commit_message="first upload")
    assert len(info.oid) == 40

    files = api.list_repo_files("lab/tiny")
    assert sorted(files) == [".gitattributes", "config.json", "model.safetensors", "sub/notes.txt"]
    model = api.model_info("lab/tiny", files_metadata=True)
    assert model.sha == info.oid
    siblings = {s.rfilename: s for s in model.siblings or []}
    assert siblings["model.safetensors"].lfs is not None
    assert siblings["model.safetensors"].lfs.sha256 == hashlib.sha256(_safetensors(weights)).hexdigest()

    path = huggingface_hub.hf_hub_download(
        "lab/tiny", "model.safetensors", endpoint=api.endpoint, cache_dir=tmp_path / "cache"
    )
    assert Path(path).read_bytes() == _safetensors(weights)
    notes = huggingface_hub.hf_hub_download(
        "lab/tiny", "sub/notes.txt", endpoint=api.endpoint, cache_dir=tmp_path / "cache"
    )
    assert Path(notes).read_text() == "한국어 노트"

    snapshot = huggingface_hub.snapshot_download(
        "lab/tiny", endpoint=api.endpoint, local_dir=tmp_path / "snap", allow_patterns=["*.json", "sub/*"]
    )
    got = sorted(
        str(p.relative_to(snapshot)) for p in Path(snapshot).rglob("*") if p.is_file() and ".cache" not in p.parts
    )
    assert got == ["config.json", "sub/notes.txt"]
    assert api.file_exists("lab/tiny", "config.json")
    assert not api.file_exists("lab/tiny", "missing.json")
    assert api.repo_exists("lab/tiny")
    assert not api.repo_exists("lab/nope")


def test_commit_operations_delete_and_parent_commit(api: HfApi) -> None:
    api.create_repo("bob/ops")
    first = api.create_commit(
        "bob/ops",
        operations=[
            CommitOperationAdd("a/one.txt", b"1"),
            CommitOperationAdd("a/two.txt", b"2"),
            CommitOperationAdd("keep.txt", b"k"),
        ],
        commit_message="add",
    )
    api.delete_file("keep.txt", "bob/ops")
    second = api.create_commit("bob/ops", operations=[CommitOperationDelete("a/")], commit_message="drop folder")
    assert api.list_repo_files("bob/ops") == [".gitattributes"]
    # A commit based on an old head is refused, as the Hub does (412).
    with pytest.raises(HfHubHTTPError) as raised:
        api.create_commit(
            "bob/ops",
            operations=[CommitOperationAdd("late.txt", b"x")],
            commit_message="stale",
            parent_commit=first.oid,
        )
    assert raised.value.response.status_code == 412
    api.create_commit(
        "bob/ops",
        operations=[CommitOperationAdd("ok.txt", b"x")],
        commit_message="fresh",
        parent_commit=second.oid,
    )
    titles = [c.title for c in api.list_repo_commits("bob/ops")]
    assert titles[:2] == ["fresh", "drop folder"]
    assert titles[-1] == "initial commit"


def test_branches_tags_refs_and_revisions(api: HfApi, tmp_path: Path) -> None:
    api.create_repo("bob/refs")
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id="bob/refs")
    api.create_branch("bob/refs", branch="dev/feature")
    api.create_tag("bob/refs", tag="v1.0", tag_message="first")
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id="bob/refs", revision="dev/feature")
    refs = api.list_repo_refs("bob/refs")
    assert {b.name for b in refs.branches} == {"main", "dev/feature"}
    assert [t.name for t in refs.tags] == ["v1.0"]
    at_dev = huggingface_hub.hf_hub_download(
        "bob/refs", "f.txt", revision="dev/feature", endpoint=api.endpoint, cache_dir=tmp_path / "c"
    )
    assert Path(at_dev).read_bytes() == b"v2"
    at_tag = huggingface_hub.hf_hub_download(
        "bob/refs", "f.txt", revision="v1.0", endpoint=api.endpoint, cache_dir=tmp_path / "c"
    )
    assert Path(at_tag).read_bytes() == b"v1"
    with pytest.raises(RevisionNotFoundError):
        huggingface_hub.hf_hub_download(
            "bob/refs", "f.txt", revision="nope", endpoint=api.endpoint, cache_dir=tmp_path / "c"
        )
    with pytest.raises(EntryNotFoundError):
        huggingface_hub.hf_hub_download("bob/refs", "missing.txt", endpoint=api.endpoint, cache_dir=tmp_path / "c")
    api.delete_branch("bob/refs", branch="dev/feature")
    api.delete_tag("bob/refs", tag="v1.0")
    refs = api.list_repo_refs("bob/refs")
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


def test_tree_listing_paths_info_and_pagination(api: HfApi) -> None:
    api.create_repo("bob/tree")
    ops = [CommitOperationAdd(f"data/part-{i:04d}.txt", str(i).encode()) for i in range(1205)]
    ops.append(CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# hi\n"))
    api.create_commit("bob/tree", operations=ops, commit_message="many files")
    top = list(api.list_repo_tree("bob/tree"))
    assert [item.path for item in top] == [".gitattributes", "README.md", "data"]
    everything = list(api.list_repo_tree("bob/tree", recursive=True))  # > 1 page: follows Link
    assert len([item for item in everything if item.path.startswith("data/")]) == 1205
    infos = api.get_paths_info("bob/tree", ["README.md", "data", "nope"], expand=True)
    assert [i.path for i in infos] == ["README.md", "data"]
    assert infos[0].last_commit is not None and infos[0].last_commit.title == "many files"


def test_private_and_gated_access(api: HfApi, users, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api.create_repo("bob/secret", private=True)
    api.upload_file(path_or_fileobj=b"s", path_in_repo="s.txt", repo_id="bob/secret")
    carol = other(api, users["carol"])
    anonymous = other(api, None)
    with pytest.raises(RepositoryNotFoundError):
        carol.model_info("bob/secret")
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info("bob/secret")
    assert "bob/secret" not in [m.id for m in carol.list_models()]
    assert "bob/secret" in [m.id for m in api.list_models(author="bob")]

    card = "---\nlicense: mit\nextra_gated_fields:\n  Affiliation: text\n---\n# gated\n"
    api.create_repo("lab/gated")
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id="lab/gated")
    api.upload_file(path_or_fileobj=b"w", path_in_repo="w.txt", repo_id="lab/gated")
    with pytest.raises(HfHubHTTPError) as raised:  # bob only has the write role in lab
        api.update_repo_settings("lab/gated", gated="manual")
    assert raised.value.response.status_code == 403
    admin = other(api, users["alice"])
    admin.update_repo_settings("lab/gated", gated="manual")
    assert carol.model_info("lab/gated").gated == "manual"
    with pytest.raises(GatedRepoError) as raised:
        huggingface_hub.hf_hub_download(
            "lab/gated", "w.txt", endpoint=api.endpoint, token=False, cache_dir=tmp_path / "c1"
        )
    assert raised.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as raised:
        huggingface_hub.hf_hub_download(
            "lab/gated", "w.txt", endpoint=api.endpoint, token=users["carol"], cache_dir=tmp_path / "c2"
        )
    assert raised.value.response.status_code == 403
    import httpx

    response = httpx.post(
        f"{api.endpoint}/api/models/lab/gated/ask-access",
        json={"Affiliation": "KAIST"},
        headers={"Authorization": f"Bearer {users['carol']}"},
    )
    assert response.json() == {"status": "pending"}
    pending = list(admin.list_pending_access_requests("lab/gated"))
    assert [r.username for r in pending] == ["carol"]
    assert pending[0].fields == {"Affiliation": "KAIST"}
    admin.accept_access_request("lab/gated", "carol")
    path = huggingface_hub.hf_hub_download(
        "lab/gated", "w.txt", endpoint=api.endpoint, token=users["carol"], cache_dir=tmp_path / "c3"
    )
    assert Path(path).read_bytes() == b"w"
    api.update_repo_settings("bob/secret", private=False)
    assert carol.model_info("bob/secret").private is False


def test_move_delete_and_holds(api: HfApi, live_server, users) -> None:  # type: ignore[no-untyped-def]
    import httpx

    api.create_repo("bob/movable")
    api.move_repo("bob/movable", "bob/moved")
    assert api.repo_exists("bob/moved") and not api.repo_exists("bob/movable")
    head = api.model_info("bob/moved").sha
    response = httpx.post(
        f"{api.endpoint}/api/models/bob/moved/holds",
        json={"revision": head, "holder": "challenge stage 1", "reason": "submission"},
        headers={"Authorization": f"Bearer {users['alice']}"},
    )
    assert response.status_code == 200, response.text
    with pytest.raises(HfHubHTTPError) as raised:
        api.delete_repo("bob/moved")
    assert raised.value.response.status_code == 409
    assert "challenge stage 1" in raised.value.response.json()["message"]
    with pytest.raises(HfHubHTTPError):
        api.move_repo("bob/moved", "bob/again")
    released = httpx.delete(
        f"{api.endpoint}/api/holds/{response.json()['id']}",
        headers={"Authorization": f"Bearer {users['alice']}"},
    )
    assert released.status_code == 200
    api.delete_repo("bob/moved")
    assert not api.repo_exists("bob/moved")


def test_cards_lineage_and_listing(api: HfApi, runtime: Runtime) -> None:
    api.create_repo("lab/base")
    api.create_repo("bob/child")
    card = "---\nbase_model: lab/base\nbase_model_relation: finetune\nlicense: apache-2.0\ntags: [ko]\n---\n# c\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id="bob/child")
    child = api.model_info("bob/child")
    assert child.card_data is not None and child.card_data["license"] == "apache-2.0"
    assert child.base_models == ["lab/base"]
    import httpx

    lineage = httpx.get(f"{api.endpoint}/api/models/lab/base/lineage").json()
    assert lineage["derivatives"] == [{"id": "bob/child", "type": "model", "relation": "finetune"}]
    broken = "---\nlicense: mit\ntags: [a\n---\n"
    with pytest.raises((HfHubHTTPError, ValueError)) as raised:
        api.upload_file(path_or_fileobj=broken.encode(), path_in_repo="README.md", repo_id="bob/child")
    assert "line" in str(raised.value)
    found = [m.id for m in api.list_models(search="chi")]
    assert found == ["bob/child"]
    assert [m.id for m in api.list_models(author="lab", sort="created_at", limit=1)] == ["lab/base"]


def test_datasets(api: HfApi, tmp_path: Path) -> None:
    api.create_repo("lab/qa", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"q,a\n1,2\n", path_in_repo="train.csv", repo_id="lab/qa", repo_type="dataset")
    info = api.dataset_info("lab/qa")
    assert [s.rfilename for s in info.siblings or []] == [".gitattributes", "train.csv"]
    path = huggingface_hub.hf_hub_download(
        "lab/qa", "train.csv", repo_type="dataset", endpoint=api.endpoint, cache_dir=tmp_path / "c"
    )
    assert Path(path).read_bytes() == b"q,a\n1,2\n"
    assert [d.id for d in api.list_datasets(author="lab")] == ["lab/qa"]


def test_large_file_multipart_upload(api: HfApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.hub import upload_api

    monkeypatch.setattr(upload_api, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(upload_api, "PART_SIZE", 5 * 1024 * 1024)
    payload = os.urandom(12 * 1024 * 1024 + 17)
    api.create_repo("bob/big")
    api.upload_file(path_or_fileobj=payload, path_in_repo="big.dat", repo_id="bob/big")
    path = huggingface_hub.hf_hub_download("bob/big", "big.dat", endpoint=api.endpoint, cache_dir=tmp_path / "c")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_xet_is_refused_with_a_hint(api: HfApi) -> None:
    import httpx

    response = httpx.get(
        f"{api.endpoint}/api/models/lab/x/xet-write-token/main",
        headers={"Authorization": f"Bearer {api.token}"},
        follow_redirects=True,
    )
    assert response.status_code == 501
    assert "HF_HUB_DISABLE_XET=1" in response.json()["hint"]
    # The URL the client ends on is itself the advice: hf_xet prints only the status and the URL.
    assert "set-HF_HUB_DISABLE_XET=1-and-run-it-again" in str(response.url)


def test_an_unmodified_client_with_hf_xet_is_told_the_fix_in_its_own_error(api: HfApi, tmp_path: Path) -> None:
    """huggingface_hub with hf_xet installed and HF_HUB_DISABLE_XET unset (a newcomer's setup)."""
    import subprocess
    import sys

    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(_safetensors(os.urandom(4096)))
    api.create_repo("bob/xet")
    script = (
        "from huggingface_hub import HfApi\n"
        f"HfApi(endpoint={api.endpoint!r}, token={api.token!r}).upload_folder(folder_path={str(folder)!r}, "
        "repo_id='bob/xet')\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "HF_HUB_DISABLE_XET"}
    environment["HF_HOME"] = str(tmp_path / "hf-home")
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "set-HF_HUB_DISABLE_XET=1-and-run-it-again" in last, result.stderr[-2000:]


def _safetensors(payload: bytes) -> bytes:
    import json
    import struct

    header = json.dumps({"w": {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + payload


def test_gitignore_in_repo_skips_ignored_files(api: HfApi, tmp_path: Path) -> None:
    api.create_repo("bob/ignoring")
    api.upload_file(path_or_fileobj=b"*.log\ncache/\n", path_in_repo=".gitignore", repo_id="bob/ignoring")
    folder = tmp_path / "up"
    (folder / "cache").mkdir(parents=True)
    (folder / "run.log").write_text("noise")
    (folder / "cache" / "x.txt").write_text("noise")
    (folder / "keep.txt").write_text("signal")
    api.upload_folder(folder_path=folder, repo_id="bob/ignoring")
    assert sorted(api.list_repo_files("bob/ignoring")) == [".gitattributes", ".gitignore", "keep.txt"]


def test_gated_weights_cannot_be_copied_out_through_the_client(api: HfApi, users, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 item 1 with the official client: carol forges the upload info of a gated file she cannot read."""
    from huggingface_hub.lfs import UploadInfo

    weights = b"\x00GATED-WEIGHTS" + os.urandom(4096)
    admin = other(api, users["alice"])
    admin.create_repo("lab/gated-weights")
    admin.upload_file(path_or_fileobj=weights, path_in_repo="weights.dat", repo_id="lab/gated-weights")
    admin.update_repo_settings("lab/gated-weights", gated="manual")

    carol = other(api, users["carol"])
    listed = {item.path: item for item in carol.list_repo_tree("lab/gated-weights")}
    lfs = listed["weights.dat"].lfs  # type: ignore[union-attr]
    assert lfs is not None and lfs.sha256 == hashlib.sha256(weights).hexdigest()
    carol.create_repo("carol/loot")
    decoy = b"\x00decoy"
    forged = CommitOperationAdd(path_in_repo="stolen.dat", path_or_fileobj=decoy)
    forged.upload_info = UploadInfo(sha256=bytes.fromhex(lfs.sha256), size=lfs.size, sample=decoy)
    # Baton asks for the bytes; the client sends the decoy, which does not match the oid.
    with pytest.raises(RuntimeError, match=r"uploading 'stolen\.dat'") as raised:
        carol.create_commit("carol/loot", [forged], commit_message="copy")
    refused = raised.value.__cause__
    assert isinstance(refused, HfHubHTTPError) and refused.response.status_code == 400
    assert "stolen.dat" not in carol.list_repo_files("carol/loot")
    with pytest.raises(EntryNotFoundError):
        huggingface_hub.hf_hub_download(
            "carol/loot", "stolen.dat", endpoint=api.endpoint, token=users["carol"], cache_dir=tmp_path / "c"
        )
    with pytest.raises(GatedRepoError):
        huggingface_hub.hf_hub_download(
            "lab/gated-weights", "weights.dat", endpoint=api.endpoint, token=users["carol"], cache_dir=tmp_path / "g"
        )
