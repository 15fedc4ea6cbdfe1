from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from baton.core.errors import BadRequestError
from baton.hub import gitignore
from baton.hub.gitignore import IgnoreRules, is_ignored

from .hub_support import headers_with_repo

RULES = """
# comment
*.log
/build/
cache/
!keep.log
docs/**/*.tmp
data/[ab]?.csv
"""


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("a.log", True),
        ("deep/dir/b.log", True),
        ("keep.log", False),
        ("build/out.bin", True),
        ("src/build/out.bin", False),
        ("src/cache/x", True),
        ("cache", False),
        ("docs/a/b/c.tmp", True),
        ("docs/c.tmp", True),
        ("data/a1.csv", True),
        ("data/c1.csv", False),
        ("model.safetensors", False),
    ],
)
def test_gitignore_rules(path: str, ignored: bool) -> None:
    assert is_ignored(path, RULES) is ignored


def test_empty_rules_ignore_nothing() -> None:
    assert not is_ignored("a.log", "\n# only a comment\n")


# --- linear work (issue 12, item 2) ----------------------------------------------------------------


def linear_bound(path: str) -> int:
    """Steps allowed for one pattern: a few per byte of the path, whatever the pattern."""
    return 3 * (len(path.encode()) + 1)


def test_nested_globstars_take_linear_work() -> None:
    # A backtracking matcher tries every split of 15 folders among 15 '**/': 32 s in a regex.
    rules = IgnoreRules.parse("**/" * 15 + "x")
    path = "/".join(["d"] * 15) + "/x"
    assert rules.is_ignored(path)
    assert 0 < rules.steps <= linear_bound(path)
    assert not rules.is_ignored("/".join(["d"] * 15) + "/y")


def test_many_stars_take_linear_work() -> None:
    rules = IgnoreRules.parse("*a" * 10 + "*b")
    name = "a" * 60  # no 'b': every way of placing the stars fails, which backtracking tries
    assert not rules.is_ignored(name)
    assert 0 < rules.steps <= linear_bound(name)
    assert IgnoreRules.parse("*a" * 10 + "*b").is_ignored("a" * 59 + "b")


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("**/" * 340 + "x", "/".join(["d"] * 400) + "/xy"),
        ("*a" * 500 + "*b", "a" * 900),
        ("a/**/" * 200 + "b", "a/" * 400 + "c"),
        ("[a-z]*" * 150 + "?", "q" * 900),
    ],
)
def test_work_does_not_grow_with_the_pattern(pattern: str, path: str) -> None:
    rules = IgnoreRules.parse(pattern)
    rules.is_ignored(path)
    classes = pattern.count("[")  # each distinct byte consults each class once
    assert 0 < rules.steps <= linear_bound(path) + len(set(path)) * (1 + classes)


def test_a_request_has_a_budget_of_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitignore, "MAX_MATCH_STEPS", 500)
    rules = IgnoreRules.parse("*a*b\n*c*d\n")
    with pytest.raises(BadRequestError) as caught:
        for number in range(100):
            rules.is_ignored(f"folder{number}/" + "ac" * 20)
    assert "500 matching steps" in caught.value.message
    assert "fewer files" in caught.value.hint


# --- limits ------------------------------------------------------------------------------------------


def test_pattern_count_is_capped() -> None:
    at_limit = "# comments and blank lines do not count\n\n" + "\n".join(f"f{n}" for n in range(1000))
    assert IgnoreRules.parse(at_limit).is_ignored("f999")
    with pytest.raises(BadRequestError) as caught:
        IgnoreRules.parse(at_limit + "\nf1000", source="the request's gitIgnore")
    assert caught.value.code == "GitIgnoreTooLarge"
    assert caught.value.status_code == 400
    assert "the request's gitIgnore has more than 1000 patterns" in caught.value.message
    assert "Merge patterns" in caught.value.hint


def test_pattern_length_is_capped() -> None:
    assert IgnoreRules.parse("x" * 1024).is_ignored("x" * 1024)
    with pytest.raises(BadRequestError) as caught:
        IgnoreRules.parse("a\n" + "y" * 1025)
    assert "line 2" in caught.value.message and "1025 characters" in caught.value.message
    assert "at most 1024" in caught.value.message
    assert caught.value.hint


def test_over_the_limits_a_committed_file_keeps_its_first_patterns() -> None:
    text = "\n".join(["z" * 2000, "*.log", *(f"f{n}" for n in range(1200))])
    rules = IgnoreRules.parse(text, skip_over_limit=True)
    assert rules.is_ignored("a.log")
    assert rules.is_ignored("f998")  # pattern 1000 (the long one is left out, not counted)
    assert not rules.is_ignored("f999")
    assert not rules.is_ignored("z" * 2000)


# --- git's semantics, with git itself as the reference --------------------------------------------

ORACLE_PATTERNS = [
    "*.log", "/build/", "cache/", "docs/**/*.tmp", "data/[ab]?.csv", "**/x", "x/**", "a/**/b", "**",
    "*", "/*", "/*.txt", "a/*", "a/*/c", "?", "??", "[!a]*", "[^a]*", "[a-c]", "[]a]", "[!]]",
    "[a-]", "[[:digit:]]*", "[[:upper:][:digit:]]", "[[:alpha:]", "[:", "\\*", "\\#x", "#x", "\\!x",
    "!x", "x\\ ", "x ", "a\\", "a//b", "a/", "/a", "a/b/", "**/b/", "b/**/", "a**", "a**/c", "**a",
    "a/**b", "*/", "é", "?b", "[é]", "a*b*c", "**/**/**", "/**/c", "x[", "*.[ch]", "[[]",
]  # fmt: skip
ORACLE_PATHS = [
    "a", "b", "x", "a.log", "logs/a.log", "build/out.bin", "src/build/out.bin", "src/cache/x",
    "cache", "docs/a/b/c.tmp", "docs/c.tmp", "data/a1.csv", "data/c1.csv", "a/b", "a/x/b", "a/x/y/b",
    "a/c", "a/b/c", "b/a/c", "x/y", "y/x", "z/y/x", "ab", "abc", "a1b2c3", "]", "1", "9z", "Q",
    "[", "*", "#x", "!x", "x ", "a b", "é", "aé", "éb", "e.c", "e.h", "e.o", "a/é/b", "abc/c", "x/a",
]  # fmt: skip


def git_verdicts(repo: Path, rules: str, paths: list[str]) -> dict[str, bool]:
    """What `git check-ignore` says of each path under ``rules`` (paths need not exist)."""
    (repo / ".gitignore").write_text(rules, encoding="utf-8")
    settings = ["-c", "core.excludesFile=/dev/null", "-c", "core.ignoreCase=false"]
    completed = subprocess.run(
        ["git", *settings, "check-ignore", "--no-index", "--verbose", "--non-matching", "-z", "--stdin"],
        cwd=repo,
        input=b"".join(b"./" + path.encode() + b"\0" for path in paths),  # './': no pathspec magic
        capture_output=True,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    fields = completed.stdout.split(b"\0")
    verdicts = {}
    for start in range(0, len(fields) - 1, 4):
        _source, _line, pattern, path = fields[start : start + 4]
        verdicts[path.decode().removeprefix("./")] = bool(pattern) and not pattern.startswith(b"!")
    assert set(verdicts) == set(paths)
    return verdicts


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed as the reference for .gitignore semantics")
    repo = tmp_path_factory.mktemp("gitignore-oracle")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_each_pattern_agrees_with_git(git_repo: Path) -> None:
    disagreements = []
    for pattern in ORACLE_PATTERNS:
        expected = git_verdicts(git_repo, pattern + "\n", ORACLE_PATHS)
        rules = IgnoreRules.parse(pattern + "\n")
        disagreements += [(pattern, path) for path in ORACLE_PATHS if rules.is_ignored(path) != expected[path]]
    assert disagreements == []


@pytest.mark.parametrize(
    "text",
    [
        RULES,
        "a/\n!a/b\n",  # nothing inside an ignored folder can be re-included
        "*\n!*/\n!*.txt\n",
        "*.log\n!keep.log\n*.log\n",  # the last match wins
        "\ufeff*.log\r\n# c\r\n!a.log\r\n",  # a byte-order mark and CRLF line ends
        "x/\n!x\n",
        "/a/b\n/a/x/\n!b\n",
        "   \n\t\n\\ \n",
    ],
)
def test_rule_sets_agree_with_git(git_repo: Path, text: str) -> None:
    expected = git_verdicts(git_repo, text, ORACLE_PATHS)
    rules = IgnoreRules.parse(text)
    assert {path: rules.is_ignored(path) for path in ORACLE_PATHS} == expected


# --- the preupload route ----------------------------------------------------------------------------


def preupload(client: TestClient, headers: dict[str, str], paths: list[str], **extra: Any) -> httpx.Response:
    files = [{"path": path, "size": 1, "sample": ""} for path in paths]
    return client.post("/api/models/bob/rules/preupload/main", json={"files": files, **extra}, headers=headers)


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    return headers_with_repo(client, users, "bob", "rules")


def test_preupload_answers_the_freezing_request_at_once(client: TestClient, bob: dict[str, str]) -> None:
    deep = "/".join(["d"] * 15)
    response = preupload(client, bob, [f"{deep}/x", f"{deep}/y"], gitIgnore="**/" * 15 + "x")
    assert response.status_code == 200, response.text
    assert [item["shouldIgnore"] for item in response.json()["files"]] == [True, False]


def test_preupload_refuses_rules_over_the_limits(client: TestClient, bob: dict[str, str]) -> None:
    response = preupload(client, bob, ["a.txt"], gitIgnore="\n".join(f"f{n}" for n in range(1001)))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "GitIgnoreTooLarge"
    assert "gitIgnore has more than 1000 patterns" in body["message"]
    assert body["hint"]
    response = preupload(client, bob, ["a.txt"], gitIgnore="q" * 1025)
    assert response.status_code == 400 and "at most 1024 characters" in response.json()["message"]


def test_preupload_reads_the_committed_gitignore_within_the_limits(client: TestClient, bob: dict[str, str]) -> None:
    text = "\n".join(["z" * 2000, *(f"f{n}" for n in range(1100)), "*.log"])
    content = base64.b64encode(text.encode()).decode()
    lines = [
        {"key": "header", "value": {"summary": "rules"}},
        {"key": "file", "value": {"path": ".gitignore", "content": content, "encoding": "base64"}},
    ]
    committed = client.post(
        "/api/models/bob/rules/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers=bob | {"Content-Type": "application/x-ndjson"},
    )
    assert committed.status_code == 200, committed.text
    response = preupload(client, bob, ["f1", "f999", "f1050", "a.log"])
    assert response.status_code == 200, response.text
    assert [item["shouldIgnore"] for item in response.json()["files"]] == [True, True, False, False]
