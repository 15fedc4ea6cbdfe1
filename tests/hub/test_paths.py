"""Paths inside a repo: what is refused (and with which message), what is allowed, LFS choice."""

from __future__ import annotations

import pytest

from baton.core.errors import InvalidPathError
from baton.hub.paths import (
    LFS_SIZE_THRESHOLD,
    MAX_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    is_lfs_candidate,
    validate_folder_path,
    validate_repo_path,
)

VALID_PATHS = [
    "model.safetensors",
    "weights/model-00001-of-00002.safetensors",
    "한국어/모델 가중치.safetensors",  # Korean and a space
    "데이터/훈련 데이터 (1).jsonl",
    "README.md",
    ".gitattributes",  # starts with .git but is not .git
    ".github/workflows/ci.yml",
    "a/.gitignore",
    "dir.git/file",
    "...",  # three dots is a name, not a relative reference
    "a/..b/c..",
    " leading space.txt",
    "emoji 👩‍💻.txt",  # contains a zero-width joiner, which is legitimate
    "é" * 127,  # 254 bytes
    "a" * MAX_SEGMENT_BYTES,
    "/".join(["d" * 99] * 10),  # 999 bytes
]


@pytest.mark.parametrize("path", VALID_PATHS)
def test_valid_paths_are_returned_unchanged(path: str) -> None:
    assert validate_repo_path(path) == path


REFUSED_PATHS = [
    ("", "empty"),
    ("/etc/passwd", "absolute"),
    ("/", "absolute"),
    ("../secret", "'..' part"),
    ("a/../../b", "'..' part"),
    ("a/..", "'..' part"),
    ("./a", "'.' part"),
    ("a/./b", "'.' part"),
    ("a//b", "empty part"),
    ("a/", "ends with '/'"),
    ("a\0b", "NUL"),
    ("a\nb", "control character (U+000A)"),
    ("a\rb", "control character (U+000D)"),
    ("a\tb", "control character (U+0009)"),
    ("a\x1bb", "control character (U+001B)"),
    ("a\x7fb", "control character (U+007F)"),
    ("a\x85b", "control character (U+0085)"),
    ("a\u2028b", "line separator"),
    ("invoice\u202etxt.exe", "bidirectional override"),
    ("a\udc80b", "unpaired surrogate"),
    ("a\\b", "backslash"),
    ("..\\windows", "backslash"),
    (".git/config", "'.git'"),
    (".git", "'.git'"),
    ("a/.git/hooks/pre-commit", "'.git'"),
    (".GIT/config", "'.GIT'"),
    (".Git/config", "'.Git'"),
    (".git./config", "'.git.'"),
    (".git /config", "'.git '"),
    ("a" * (MAX_SEGMENT_BYTES + 1), f"at most {MAX_SEGMENT_BYTES} bytes"),
    ("가" * 86, "258 bytes"),  # 86 characters, 3 bytes each in UTF-8
    ("/".join(["d" * 100] * 10), f"limit is {MAX_PATH_BYTES} bytes"),  # 1009 bytes
]


@pytest.mark.parametrize(("path", "expected"), REFUSED_PATHS)
def test_hostile_paths_are_refused_with_the_reason(path: str, expected: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        validate_repo_path(path)
    error = caught.value
    assert expected in error.message
    assert error.code == "InvalidPath"
    assert error.status_code == 400
    assert "relative path" in error.hint


def test_the_message_names_the_path_escaped() -> None:
    with pytest.raises(InvalidPathError) as caught:
        validate_repo_path("models/../../etc/passwd")
    assert "'models/../../etc/passwd'" in caught.value.message
    with pytest.raises(InvalidPathError) as caught:
        validate_repo_path("x\0y")
    assert r"'x\x00y'" in caught.value.message  # shown escaped, not as a raw NUL


def test_a_huge_path_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidPathError) as caught:
        validate_repo_path("a/" * 100_000)
    assert len(caught.value.message) < 400


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidPathError, match="must be text"):
        validate_repo_path(b"model.bin")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("weights/", "weights"), ("a/b/", "a/b"), ("a/b", "a/b"), ("한국어 폴더/", "한국어 폴더")],
)
def test_folder_paths_drop_one_trailing_slash(path: str, expected: str) -> None:
    assert validate_folder_path(path) == expected


@pytest.mark.parametrize("path", ["", "/", "//", "a//", "../x/", "/abs/", ".git/", "a\\b/", "a/./"])
def test_hostile_folder_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidPathError):
        validate_folder_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "model.safetensors",
        "pytorch_model.bin",
        "ckpt/model.PT",
        "optimizer.pth",
        "data/train.parquet",
        "data/shard.arrow",
        "model.gguf",
        "model.onnx",
        "tokenizer.model",
        "archive.tar.gz",
        "images/cat.png",
        "audio/clip.wav",
        "report.pdf",
        "embeddings.npy",
        "runs/events.out.tfevents.1700000000.host",
    ],
)
def test_binary_extensions_go_to_lfs(path: str) -> None:
    assert is_lfs_candidate(path, 100, b"plain text")


@pytest.mark.parametrize("path", ["README.md", "config.json", "tokenizer.json", "train.py", "한국어.txt"])
def test_small_text_files_stay_regular(path: str) -> None:
    assert not is_lfs_candidate(path, 1000, "{'a': 1} 텍스트".encode())
    assert not is_lfs_candidate(path, 1000, None)


def test_large_files_go_to_lfs_whatever_their_name() -> None:
    assert is_lfs_candidate("notes.txt", LFS_SIZE_THRESHOLD, b"text")
    assert not is_lfs_candidate("notes.txt", LFS_SIZE_THRESHOLD - 1, b"text")


def test_content_with_a_nul_byte_goes_to_lfs() -> None:
    assert is_lfs_candidate("data.custom", 10, b"abc\0def")
