"""Rules for file paths inside a hub repo, and the choice between regular and LFS storage.

A path names a file in a repo's tree, so it must stay inside that tree on every client that
checks the repo out: on Linux, macOS and Windows, through git, huggingface_hub and a browser.
We therefore refuse instead of rewriting: a path that passes is already in its one normal form,
and the caller stores exactly what the client will later ask for.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from typing import Final

from baton.core.errors import InvalidPathError

MAX_PATH_BYTES: Final = 1000
MAX_SEGMENT_BYTES: Final = 255  # the file-name limit of ext4, APFS and NTFS
LFS_SIZE_THRESHOLD: Final = 10 * 1024 * 1024

# Binary formats that git diffs badly and that are usually large: weights, archives, data, media.
# fmt: off
LFS_EXTENSIONS: Final = frozenset(
    {
        # weights and serialized models
        ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".h5", ".hdf5",
        ".keras", ".onnx", ".gguf", ".ggml", ".msgpack", ".tflite", ".pb", ".model", ".mlmodel", ".ot",
        ".ftz", ".nemo", ".engine", ".plan", ".wasm",
        # array and table data
        ".npy", ".npz", ".parquet", ".arrow", ".feather", ".avro", ".orc", ".tfrecord", ".lmdb", ".db",
        ".sqlite",
        # archives and compressed streams
        ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".lz4", ".7z", ".rar",
        # images, audio, video, documents
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico", ".wav", ".flac",
        ".mp3", ".ogg", ".opus", ".m4a", ".mp4", ".mkv", ".mov", ".avi", ".webm", ".pdf",
    }
)
# fmt: on

# Characters that make a name lie about itself on screen (bidirectional overrides: "txt.exe"
# shown as "exe.txt") or break it across lines. Control characters are checked by category.
_MISLEADING_CHARACTERS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})

_PATH_HINT: Final = (
    "Use a relative path with '/' between folders, e.g. 'weights/model.safetensors': no leading '/', "
    "no '.' or '..' parts, no '//', no backslash, no control characters, and nothing named '.git'."
)


def _shown(path: str) -> str:
    """The path as a message shows it: escaped, and cut short when an attacker made it huge."""
    return repr(path) if len(path) <= 120 else repr(path[:120]) + "…"


def _refuse(path: str, problem: str) -> InvalidPathError:
    return InvalidPathError(f"Path {_shown(path)} {problem}.", hint=_PATH_HINT)


def _check_characters(path: str) -> None:
    for index, character in enumerate(path):
        if character == "\\":
            raise _refuse(
                path,
                f"contains a backslash at character {index}; Baton paths use '/' between folders and "
                "a backslash would split the name differently on Windows",
            )
        category = unicodedata.category(character)
        if category in _REFUSED_CATEGORIES or character in _MISLEADING_CHARACTERS:
            what = "NUL" if character == "\0" else f"U+{ord(character):04X}"
            kind = {
                "Cc": "a control character",
                "Cs": "an unpaired surrogate (not valid UTF-8)",
                "Zl": "a line separator",
                "Zp": "a paragraph separator",
            }.get(category, "a bidirectional override that makes the name display differently")
            raise _refuse(path, f"contains {kind} ({what}) at character {index}")


def _check_segments(path: str) -> None:
    segments = path.split("/")
    for position, segment in enumerate(segments):
        if segment == "":
            if position == len(segments) - 1:
                raise _refuse(path, "ends with '/', so it names a folder, not a file")
            raise _refuse(path, f"has an empty part (two '/' in a row) after part {position}")
        if segment in (".", ".."):
            raise _refuse(path, f"has a '{segment}' part; paths are written without '.' and '..'")
        # Git refuses ".git" in any case and, for Windows checkouts, with trailing dots or spaces.
        if segment.rstrip(". ").lower() == ".git":
            raise _refuse(path, f"has a part named {segment!r}, which git reserves for its own data")
        size = len(segment.encode("utf-8"))
        if size > MAX_SEGMENT_BYTES:
            raise _refuse(
                path,
                f"has a part of {size} bytes in UTF-8 (part {position + 1}); "
                f"file and folder names may be at most {MAX_SEGMENT_BYTES} bytes",
            )


def validate_repo_path(path: str) -> str:
    """Check the path of a file inside a repo and return it (already in normal form).

    Raises InvalidPathError naming what is wrong. Unicode (e.g. Korean names) and spaces are fine.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"A path must be text, not {type(path).__name__}.", hint=_PATH_HINT)
    if path == "":
        raise InvalidPathError("The path is empty; name the file inside the repo.", hint=_PATH_HINT)
    _check_characters(path)  # before encoding: a lone surrogate cannot be encoded
    size = len(path.encode("utf-8"))
    if size > MAX_PATH_BYTES:
        raise _refuse(path, f"is {size} bytes long in UTF-8; the limit is {MAX_PATH_BYTES} bytes")
    if path.startswith("/"):
        raise _refuse(path, "is absolute (starts with '/'); give it relative to the repo root")
    _check_segments(path)
    return path


def validate_folder_path(path: str) -> str:
    """Check the path of a folder inside a repo (e.g. for deletedFolder); one trailing '/' is dropped."""
    if isinstance(path, str) and path.endswith("/") and path != "/":
        path = path[:-1]
        if path == "":
            raise InvalidPathError("The folder path is empty.", hint=_PATH_HINT)
    return validate_repo_path(path)


def is_lfs_candidate(path: str, size: int, sample: bytes | None) -> bool:
    """Whether a file should be stored as LFS rather than as a regular git blob.

    True for large files, for extensions of binary formats, and for content that holds a NUL byte
    (git's own test for binary); ``sample`` is the start of the file when the caller has it.
    """
    if size >= LFS_SIZE_THRESHOLD:
        return True
    name = PurePosixPath(path).name.lower()
    if PurePosixPath(name).suffix in LFS_EXTENSIONS or "tfevents" in name:
        return True
    return sample is not None and b"\0" in sample
