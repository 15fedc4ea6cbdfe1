"""Names that would collide or lie on a client's disk (issue 12, items 9 and 10).

Repo ids differing only in case are one name, for create and move alike. A commit may not add a
file whose path equals another's once NFC-normalized and case-folded (folders included), nor a
name with invisible characters, a Windows device name, or a part ending in a dot or space.
Repos that already hold such names stay readable and deletable.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.hub import commits, paths, repos
from baton.hub.commits import FileEntry, PreparedCommit

from .test_bad_input import (
    BOB_REPO,
    assert_error,
    commit_ok,
    create_repo,
    file_op,
    files_of,
    head_of,
    ndjson,
    post_commit,
    preupload_one,
)


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    headers: dict[str, str] = users.headers("bob")
    assert create_repo(client, headers, "target") == BOB_REPO
    return headers


# --- repo names (item 9) -------------------------------------------------------------------------


def move(client: TestClient, headers: dict[str, str], source: str, target: str) -> Any:
    return client.post("/api/repos/move", json={"fromRepo": source, "toRepo": target}, headers=headers)


def test_move_refuses_a_case_variant_of_an_existing_repo_as_create_does(client: TestClient, users: Any) -> None:
    alice = users.headers("alice")
    create_repo(client, alice, "CaseRepo")
    create_repo(client, alice, "other")
    assert_error(client.post("/api/repos/create", json={"name": "CASEREPO"}, headers=alice), 409, "RepoExists")
    body = assert_error(move(client, alice, "alice/other", "alice/CASEREPO"), 409, "RepoExists")
    assert "alice/CaseRepo" in body["message"]
    assert client.get("/api/models/alice/other", headers=alice).status_code == 200
    assert client.get("/api/models/alice/CASEREPO", headers=alice).status_code == 404
    # Across namespaces too: lab/caserepo and alice/CaseRepo are different names, lab/x and lab/X are not.
    create_repo(client, alice, "X", organization="lab")
    assert_error(move(client, alice, "alice/other", "lab/x"), 409, "RepoExists")
    assert move(client, alice, "alice/other", "lab/caserepo").status_code == 200


def test_a_repo_may_change_the_case_of_its_own_name_but_not_move_onto_itself(client: TestClient, users: Any) -> None:
    alice = users.headers("alice")
    create_repo(client, alice, "CaseRepo")
    assert move(client, alice, "alice/CaseRepo", "alice/caserepo").status_code == 200
    assert client.get("/api/models/alice/caserepo", headers=alice).json()["id"] == "alice/caserepo"
    assert_error(move(client, alice, "alice/caserepo", "alice/caserepo"), 409, "RepoExists")


# --- file names (item 10) ------------------------------------------------------------------------

NFC_NAME = unicodedata.normalize("NFC", "café.txt")
NFD_NAME = unicodedata.normalize("NFD", "café.txt")


@pytest.mark.parametrize(
    ("existing", "added"),
    [
        ("Case.txt", "case.txt"),
        (NFC_NAME, NFD_NAME),
        (NFD_NAME, NFC_NAME.upper()),
        ("A/x.txt", "a/y.txt"),  # folders A and a
        ("Readme", "README/notes.txt"),  # file Readme, folder README
        ("data/Straße.txt", "data/STRASSE.TXT"),  # full case folding
    ],
)
def test_a_path_equal_to_another_on_a_case_insensitive_disk_is_refused_naming_both(
    client: TestClient, bob: dict[str, str], existing: str, added: str
) -> None:
    commit_ok(client, BOB_REPO, bob, file_op(existing, b"first"))
    before = head_of(client, BOB_REPO, bob)
    body = assert_error(post_commit(client, BOB_REPO, ndjson(file_op(added, b"second")), bob), 409, "PathConflict")
    assert repr(added) in body["message"] and repr(existing) in body["message"]
    assert "case" in body["message"] and body["hint"]
    assert head_of(client, BOB_REPO, bob) == before


def test_clashes_inside_one_commit_are_refused_and_nothing_lands(client: TestClient, bob: dict[str, str]) -> None:
    before = head_of(client, BOB_REPO, bob)
    for pair in (("Model.txt", "model.txt"), ("w/A/1.txt", "w/a/2.txt"), (NFC_NAME, NFD_NAME)):
        operations = [file_op(path, b"x\n") for path in pair]
        body = assert_error(post_commit(client, BOB_REPO, ndjson(*operations), bob), 409, "PathConflict")
        assert all(repr(path) in body["message"] for path in pair)
    assert head_of(client, BOB_REPO, bob) == before


def test_renaming_by_case_in_one_commit_is_allowed(client: TestClient, bob: dict[str, str]) -> None:
    commit_ok(client, BOB_REPO, bob, file_op("Notes.txt", b"n"))
    commit_ok(client, BOB_REPO, bob, {"key": "deletedFile", "value": {"path": "Notes.txt"}}, file_op("notes.txt", b"n"))
    assert files_of(client, BOB_REPO, bob) == [".gitattributes", "notes.txt"]


HOSTILE_NEW_NAMES = [
    ("model.bin\u200b", "U+200B"),  # zero-width space
    ("mo\u200cdel.bin", "U+200C"),  # zero-width non-joiner
    ("a\u200db.txt", "U+200D"),  # zero-width joiner outside an emoji
    ("\u2060x.txt", "U+2060"),  # word joiner
    ("\ufeffx.txt", "U+FEFF"),  # byte-order mark
    ("x\u200e.txt", "U+200E"),  # left-to-right mark
    ("x\u061c.txt", "U+061C"),  # Arabic letter mark
    ("x\u00ad.txt", "U+00AD"),  # soft hyphen
    ("\u3164.txt", "U+3164"),  # Hangul filler: a letter that shows nothing
    ("CON", "device"),
    ("nul.txt", "device"),
    ("weights/Lpt1.tar.gz", "device"),
    ("a/com3/b.txt", "device"),
    ("COM\u00b9", "device"),
    ("aux .txt", "device"),
    ("model.bin.", "ending in '.'"),
    ("model.bin ", "ending in ' '"),
    ("dir./x.txt", "ending in '.'"),
    ("dir /x.txt", "ending in ' '"),
]


@pytest.mark.parametrize(("path", "expected"), HOSTILE_NEW_NAMES)
def test_names_that_lie_or_break_on_a_disk_are_refused_in_commits_and_preupload(
    client: TestClient, bob: dict[str, str], path: str, expected: str
) -> None:
    before = head_of(client, BOB_REPO, bob)
    body = assert_error(post_commit(client, BOB_REPO, ndjson(file_op(path, b"x")), bob), 400, "InvalidPath")
    assert expected in body["message"]
    assert_error(preupload_one(client, BOB_REPO, bob, path), 400, "InvalidPath")
    assert head_of(client, BOB_REPO, bob) == before


ORDINARY_NAMES = [
    "emoji 👩\u200d💻.txt",
    "family 👨\u200d👩\u200d👧.md",
    "console.log",
    "nullable.txt",
    "com10.txt",
    "한국어/모델 가중치.txt",
    ".hidden",
    "x.y.z",
]


@pytest.mark.parametrize("path", ORDINARY_NAMES)
def test_ordinary_names_near_the_rules_are_accepted(client: TestClient, bob: dict[str, str], path: str) -> None:
    commit_ok(client, BOB_REPO, bob, file_op(path, b"fine"))
    assert path in files_of(client, BOB_REPO, bob)


def seed_legacy_names(runtime: Runtime, names: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Put names into bob/target as an older Baton accepted them, without today's checks."""
    with runtime.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repo = repos.get_writable_repo(session, bob, repos.parse_repo_id("model", BOB_REPO))
        prepared = PreparedCommit()
        for path, content in names.items():
            info = runtime.store.put([content])
            prepared.additions[path] = FileEntry(path, info.sha256, info.size, False, commits.git_blob_oid(content))
        with monkeypatch.context() as patch:
            patch.setattr(paths, "find_disk_clash", lambda added, tree: None)
            commits.apply_commit(session, runtime.store, runtime.settings, bob, repo, "main", prepared, title="old")


def test_repos_holding_such_names_from_before_stay_readable_and_deletable(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = {"Case.txt": b"upper", "case.txt": b"lower", "nul": b"device", "trail.": b"dot", "zw\u200b.txt": b"zw"}
    seed_legacy_names(runtime, legacy, monkeypatch)
    for path, content in legacy.items():
        response = client.get(f"/{BOB_REPO}/resolve/main/{path}", headers=bob)
        assert response.status_code == 200 and response.content == content, path
    # A commit that adds an unrelated file is not blocked by the old clash, and an old file can be rewritten.
    commit_ok(client, BOB_REPO, bob, file_op("new.txt", b"new"), file_op("Case.txt", b"rewritten"))
    assert client.get(f"/{BOB_REPO}/resolve/main/Case.txt", headers=bob).content == b"rewritten"
    # Every old name can be deleted.
    commit_ok(client, BOB_REPO, bob, *({"key": "deletedFile", "value": {"path": path}} for path in legacy))
    assert files_of(client, BOB_REPO, bob) == [".gitattributes", "new.txt"]


# --- the rules themselves ------------------------------------------------------------------------


def test_disk_key_and_clashes() -> None:
    assert paths.disk_key(NFD_NAME) == paths.disk_key(NFC_NAME.upper()) == NFC_NAME
    tree = ["A/x", "b/c/d", "e"]
    assert paths.find_disk_clash(["a/y"], [*tree, "a/y"]) == ("a/y", "A/x")
    assert paths.find_disk_clash(["B/c"], [*tree, "B/c"]) == ("B/c", "b/c/d")  # file B/c, folder b/c
    assert paths.find_disk_clash(["E"], [*tree, "E"]) == ("E", "e")
    assert paths.find_disk_clash(["A/z", "f"], [*tree, "A/z", "f"]) is None
    # Only added paths are judged: an old clash between kept files is left alone.
    assert paths.find_disk_clash(["f"], ["X", "x", "f"]) is None


def test_new_path_rules_leave_reading_rules_unchanged() -> None:
    for path, _expected in HOSTILE_NEW_NAMES:
        assert paths.validate_repo_path(path) == path  # still readable and deletable
    assert paths.validate_new_path("👩\u200d💻") == "👩\u200d💻"
