"""Rules for file paths inside a hub repo, and the choice between regular and LFS storage.

A path names a file in a repo's tree, so it must stay inside that tree on every client that
checks the repo out: on Linux, macOS and Windows, through git, huggingface_hub and a browser.
We therefore refuse instead of rewriting: a path that passes is already in its one normal form,
and the caller stores exactly what the client will later ask for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
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

# Added files must also check out on every client's disk as what they say they are. Invisible
# characters would make two names that look the same: format characters (category Cf: zero-width
# spaces and joiners, bidi marks and isolates, the BOM, soft hyphen) and the Hangul fillers, letters
# that draw nothing. A zero-width joiner inside an emoji sequence (👩‍💻) is the one exception.
_INVISIBLE_LETTERS: Final = frozenset("\u115f\u1160\u3164\uffa0")
_EMOJI_JOINER: Final = "\u200d"
_EMOJI_VARIATION: Final = "\ufe0f"
# Names Windows opens as devices, whatever the case or extension ("nul.txt" is NUL too).
_WINDOWS_DEVICE_NAMES: Final = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{number}" for port in ("com", "lpt") for number in "123456789\u00b9\u00b2\u00b3"}
)

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


def validate_new_path(path: str) -> str:
    """Check the path of a file being added or rewritten, and return it.

    On top of ``validate_repo_path``, a new name must be one every client can write to its disk
    and show truthfully: no invisible characters, no Windows device names (CON, NUL.txt, COM1...),
    no part that ends in a dot or a space (Windows drops those). Reading and deleting ask only
    ``validate_repo_path``, so repos that hold such names from before stay usable.
    """
    validate_repo_path(path)
    for index, character in enumerate(path):
        if _is_invisible(path, index):
            raise _refuse(
                path,
                f"contains an invisible character (U+{ord(character):04X}) at character {index}; "
                "a name with it looks the same as one without",
            )
    for position, segment in enumerate(path.split("/"), start=1):
        if segment.endswith((".", " ")):
            raise _refuse(path, f"has a part ending in {segment[-1]!r} (part {position}), which Windows drops")
        if segment.split(".", 1)[0].rstrip(" ").lower() in _WINDOWS_DEVICE_NAMES:
            raise _refuse(path, f"has a part named {segment!r} (part {position}), which Windows reserves for a device")
    return path


def _is_invisible(path: str, index: int) -> bool:
    character = path[index]
    if character in _INVISIBLE_LETTERS:
        return True
    if unicodedata.category(character) != "Cf":
        return False
    if character != _EMOJI_JOINER or index == 0 or index == len(path) - 1:
        return True
    before, after = path[index - 1], path[index + 1]
    joins_emoji = before == _EMOJI_VARIATION or unicodedata.category(before) in ("So", "Sk")
    return not (joins_emoji and unicodedata.category(after) == "So")


def disk_key(path: str) -> str:
    """The name as a case-insensitive, normalizing disk (macOS, Windows) sees it: NFC and case-folded."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", path).casefold())


def find_disk_clash(added: Iterable[str], tree: Iterable[str]) -> tuple[str, str] | None:
    """A pair (added path, other path) that would land on one file or folder of a client's disk.

    ``tree`` is every path of the resulting tree, ``added`` among them. Two paths clash when a
    file or folder of one is spelled differently from a file or folder of the other yet has the
    same ``disk_key``: 'Case.txt' and 'case.txt', and 'A/x' with 'a/y' (folders 'A' and 'a').
    """
    spellings: dict[str, dict[str, str]] = {}  # disk key -> spelling of a file or folder -> a path holding it
    for path in tree:
        for node in _nodes(path):
            spellings.setdefault(disk_key(node), {}).setdefault(node, path)
    for path in added:
        for node in _nodes(path):
            for spelling, holder in spellings.get(disk_key(node), {}).items():
                if spelling != node:
                    return path, holder
    return None


def _nodes(path: str) -> Iterator[str]:
    """The folders a path lies in, outermost first, then the path itself: a/b/c -> a, a/b, a/b/c."""
    start = 0
    while (cut := path.find("/", start)) >= 0:
        yield path[:cut]
        start = cut + 1
    yield path


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
