"""Where a backend's model files come from: a local folder, or a hub repo revision snapshotted to disk.

A hub revision is copied blob by blob from the store into ``<data_dir>/evaluation/snapshots/<commit>``
(written to a temporary folder and renamed, so a half-copied snapshot is never used), and reused
by later runs of the same commit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from baton.core.errors import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from baton.core.runtime import Runtime
    from baton.hub.commits import FileEntry

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
ONNX_SUFFIXES = (".onnx", ".onnx.data", ".onnx_data")  # a graph and its external weights
HASH_CHUNK = 1 << 20


class ModelWeightsMissingError(BadRequestError):
    code = "ModelWeightsMissing"
    default_hint = "Point --model at a folder saved with save_pretrained (config.json and *.safetensors)."


@dataclass(frozen=True)
class ResolvedModel:
    path: Path  # a folder transformers can load
    repo_id: str | None  # the hub repo, when the model came from the hub
    revision: str | None  # as asked (branch, tag or commit), when from the hub
    commit_oid: str | None
    weight_hash: str  # sha256 over the weight files' names and sha256s


def _is_weight_file(name: str, suffixes: tuple[str, ...] = WEIGHT_SUFFIXES) -> bool:
    return name.endswith(suffixes)


def _described(suffixes: tuple[str, ...]) -> str:
    return ", ".join(f"*{suffix}" for suffix in suffixes)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def combined_weight_hash(files: dict[str, str]) -> str:
    """One hash for a checkpoint: sha256 of the sorted ``name:sha256`` lines of its weight files."""
    lines = "".join(f"{name}:{sha}\n" for name, sha in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def check_weights(folder: Path, suffixes: tuple[str, ...] = WEIGHT_SUFFIXES) -> list[Path]:
    weights = sorted(path for path in folder.rglob("*") if path.is_file() and _is_weight_file(path.name, suffixes))
    if not weights:
        raise ModelWeightsMissingError(f"The model folder {folder} holds no weights (no {_described(suffixes)} file).")
    return weights


def resolve_local(folder: Path, suffixes: tuple[str, ...] = WEIGHT_SUFFIXES) -> ResolvedModel:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ModelWeightsMissingError(f"{folder} is a file, not a model folder.")
    weights = check_weights(folder, suffixes)
    hashes = {str(path.relative_to(folder)): _file_sha256(path) for path in weights}
    return ResolvedModel(folder, None, None, None, combined_weight_hash(hashes))


def _snapshot(runtime: Runtime, entries: list[FileEntry], commit_oid: str) -> Path:
    root = Path(runtime.settings.data_dir) / "evaluation" / "snapshots"
    target = root / commit_oid
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{commit_oid}.", dir=root))
    try:
        for entry in entries:
            destination = staging / entry.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            with destination.open("wb") as handle:
                if entry.size:
                    for chunk in runtime.store.open_range(entry.sha256, 0, entry.size - 1):
                        handle.write(chunk)
        try:
            os.rename(staging, target)
        except OSError:  # another process made the same snapshot first: theirs is as good
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_hub(
    runtime: Runtime,
    spec: str,
    user: str | None = None,
    *,
    system: bool = False,
    suffixes: tuple[str, ...] = WEIGHT_SUFFIXES,
) -> ResolvedModel:
    """Resolve ``namespace/name[@revision]`` to its commit and a local snapshot of its files.

    ``system`` reads as Baton itself (a background job whose submitter's access was checked when
    the run was submitted), so private and gated repos are readable; else as ``user`` (None: anonymous).
    """
    from baton.accounts import service as accounts
    from baton.hub import commits, repos

    repo_id, _, revision = spec.partition("@")
    repo_id = repo_id.removeprefix("models/")
    with runtime.database.session() as session:
        account = accounts.act_as(session, user) if user is not None else None
        key = repos.parse_repo_id("model", repo_id)
        if system:
            found = repos.find_repo(session, key)
            if found is None:
                raise NotFoundError(f"Repository not found: {key}", code="RepoNotFound")
            repo = found
        else:
            repo = repos.get_repo(session, account, key)
            repos.check_file_access(session, account, repo)
        commit = commits.resolve_revision(session, repo, revision or None)
        entries = commits.tree_entries(session, commit.tree_id)
        commit_oid, shown = commit.oid, str(key)
        asked = revision or repo.default_branch
    weights = {entry.path: entry.sha256 for entry in entries if _is_weight_file(entry.path, suffixes)}
    if not weights:
        raise ModelWeightsMissingError(
            f"The hub repo {shown}@{asked} (commit {commit_oid}) holds no weight files ({_described(suffixes)})."
        )
    path = _snapshot(runtime, entries, commit_oid)
    return ResolvedModel(path, shown, asked, commit_oid, combined_weight_hash(weights))


def resolve_model(
    spec: str,
    runtime: Runtime | None = None,
    user: str | None = None,
    *,
    system: bool = False,
    suffixes: tuple[str, ...] = WEIGHT_SUFFIXES,
) -> ResolvedModel:
    """A local folder when one exists, else a hub model repo id with an optional ``@revision``.

    ``suffixes``: the names of the files that are the weights (hashed, and required to be there).
    """
    local = Path(spec).expanduser()
    if local.exists():
        return resolve_local(local, suffixes)
    if spec.startswith(("/", ".", "~")) or spec.partition("@")[0].count("/") != 1 or runtime is None:
        raise NotFoundError(
            f"No model folder at {spec!r}, and it is not a hub repo id that can be looked up",
            code="ModelNotFound",
            hint="Give an existing folder, or a hub repo id such as 'namespace/name@revision' with a data dir.",
        )
    return resolve_hub(runtime, spec, user, system=system, suffixes=suffixes)
