"""Commits, trees and refs: the versioned content of a repo.

A commit is applied in two phases. ``prepare_commit`` does everything slow without holding any
lock: it validates paths, stores inline files in the blob store, checks that LFS blobs exist
and may be used here, and scans every added file by its content (pickles wherever they hide,
safetensors headers). ``apply_commit`` then takes the branch (a row lock on PostgreSQL, the write
lock on SQLite), checks ``parent_commit``, writes the tree and the commit and moves the branch in
one transaction: a commit lands whole or not at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr
from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core import events
from baton.core.blobs import check_sha256
from baton.core.bodies import parse_body
from baton.core.database import utcnow
from baton.core.errors import (
    BadRequestError,
    ConflictError,
    EntryNotFoundError,
    IntegrityError,
    PreconditionFailedError,
    QuotaExceededError,
    RevisionNotFoundError,
)
from baton.core.settings import Settings
from baton.hub import cards, paths, scanning, variants
from baton.hub import search as search_index
from baton.hub.events import MAX_LISTED_PATHS, CommitLanded
from baton.hub.models import BlobGrant, Commit, FileScan, Ref, Repo, TreeEntry
from baton.hub.repos import blob_readable_by, refuse_if_commit_held, set_lineage
from baton.storage import BlobStore

COMMIT_OID_PATTERN = re.compile(r"^[0-9a-f]{40}$")
BRANCH_NAME_PATTERN = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9._/-]{1,255}(?<!/)$")
GITATTRIBUTES = (
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    b"*.gguf filter=lfs diff=lfs merge=lfs -text\n"
)


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int
    is_lfs: bool
    git_oid: str


# Operations a commit carries, as the Hub's NDJSON commit endpoint names them.
@dataclass(frozen=True)
class AddInline:
    path: str
    content: bytes


@dataclass(frozen=True)
class AddLfs:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = AddInline | AddLfs | DeleteFile | DeleteFolder


@dataclass
class PreparedCommit:
    """Operations whose content is stored, verified and scanned, ready to apply."""

    additions: dict[str, FileEntry] = field(default_factory=dict)
    deletions: list[DeleteFile | DeleteFolder] = field(default_factory=list)
    # The parsed card when README.md is added by this commit, and its text's search terms.
    card: cards.CardData | None = None
    card_terms: dict[str, int] = field(default_factory=dict)
    # What each added file was found to be (format, compression, what its pickles import).
    scans: dict[str, scanning.ScanResult] = field(default_factory=dict)


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def entry_etag(entry: FileEntry) -> str:
    """The Hub's ETag: sha256 for LFS files, the git blob SHA-1 for regular files."""
    return entry.sha256 if entry.is_lfs else entry.git_oid


# Revisions -----------------------------------------------------------------------------------


def check_branch_name(name: str) -> str:
    if not BRANCH_NAME_PATTERN.match(name) or name.startswith("refs/") or COMMIT_OID_PATTERN.match(name):
        raise BadRequestError(
            f"'{name[:100]}' is not a valid branch or tag name",
            code="InvalidRef",
            hint="Use letters, digits, '.', '_', '-' and '/', without '..' or a 40-hex-digit name.",
        )
    return name


def find_ref(session: Session, repo: Repo, kind: str, name: str) -> Ref | None:
    return session.scalar(select(Ref).where(Ref.repo_id == repo.id, Ref.kind == kind, Ref.name == name))


def resolve_revision(session: Session, repo: Repo, revision: str | None) -> Commit:
    """A branch, a tag (``refs/heads/x``, ``refs/tags/x`` too) or a full commit oid."""
    revision = revision or repo.default_branch
    kinds: tuple[str, ...] = ("branch", "tag")
    if revision.startswith("refs/heads/"):
        revision, kinds = revision.removeprefix("refs/heads/"), ("branch",)
    elif revision.startswith("refs/tags/"):
        revision, kinds = revision.removeprefix("refs/tags/"), ("tag",)
    for kind in kinds:
        ref = find_ref(session, repo, kind, revision)
        if ref is not None:
            commit = session.get(Commit, ref.commit_oid)
            if commit is not None:
                return commit
    if COMMIT_OID_PATTERN.match(revision):
        commit = session.get(Commit, revision)
        if commit is not None and commit.repo_id == repo.id:
            return commit
    raise RevisionNotFoundError(f"Invalid rev id: {revision} (not a branch, tag or commit of {repo.repo_id})")


def default_heads(session: Session, repos: list[Repo]) -> dict[int, str]:
    """Head commit oid of each repo's default branch, in one query (for listings)."""
    if not repos:
        return {}
    defaults = {repo.id: repo.default_branch for repo in repos}
    rows = session.execute(
        select(Ref.repo_id, Ref.name, Ref.commit_oid).where(Ref.repo_id.in_(defaults), Ref.kind == "branch")
    ).all()
    return {repo_id: oid for repo_id, name, oid in rows if defaults[repo_id] == name}


def tree_entries(session: Session, tree_id: str) -> list[FileEntry]:
    rows = session.execute(
        select(TreeEntry.path, TreeEntry.sha256, TreeEntry.size, TreeEntry.is_lfs, TreeEntry.git_oid)
        .where(TreeEntry.tree_id == tree_id)
        .order_by(TreeEntry.path)
    ).all()
    return [FileEntry(*row) for row in rows]


def get_entry(session: Session, commit: Commit, path: str) -> FileEntry:
    row = session.execute(
        select(TreeEntry.path, TreeEntry.sha256, TreeEntry.size, TreeEntry.is_lfs, TreeEntry.git_oid).where(
            TreeEntry.tree_id == commit.tree_id, TreeEntry.path == path
        )
    ).first()
    if row is None:
        raise EntryNotFoundError(f"{path} does not exist at revision {commit.oid}")
    return FileEntry(*row)


def history(session: Session, repo: Repo, start: Commit, limit: int) -> list[Commit]:
    """``start`` and its ancestors, newest first, at most ``limit``: one recursive query, bounded by ``limit``."""
    limit = max(0, min(limit, 10_000))
    if limit == 0:
        return []
    chain = (
        select(Commit.oid.label("oid"), Commit.parent_oid.label("parent_oid"), literal(1).label("depth"))
        .where(Commit.oid == start.oid, Commit.repo_id == repo.id)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Commit.oid, Commit.parent_oid, chain.c.depth + 1)
        .join(chain, Commit.oid == chain.c.parent_oid)
        .where(Commit.repo_id == repo.id, chain.c.depth < limit)
    )
    rows = session.execute(
        select(Commit).join(chain, Commit.oid == chain.c.oid).order_by(chain.c.depth).limit(limit)
    ).scalars()
    return list(rows)


def folder_entries(session: Session, tree_id: str, folder: str, limit: int) -> list[FileEntry]:
    """The files of a tree under ``folder`` ("" for all), sorted by path, at most ``limit`` of them."""
    query = select(TreeEntry.path, TreeEntry.sha256, TreeEntry.size, TreeEntry.is_lfs, TreeEntry.git_oid).where(
        TreeEntry.tree_id == tree_id
    )
    if folder:
        escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(TreeEntry.path.like(escaped + "/%", escape="\\"))
    rows = session.execute(query.order_by(TreeEntry.path).limit(limit)).all()
    return [FileEntry(*row) for row in rows]


def file_scans(session: Session, entries: list[FileEntry]) -> dict[tuple[str, str], FileScan]:
    """What the content scan recorded for each of ``entries``, by (sha256, path); unrecorded ones are absent."""
    found: dict[tuple[str, str], FileScan] = {}
    wanted = {(entry.sha256, entry.path) for entry in entries}
    hashes = sorted({sha256 for sha256, _path in wanted})
    for start in range(0, len(hashes), 500):
        for scan in session.scalars(select(FileScan).where(FileScan.sha256.in_(hashes[start : start + 500]))):
            if (scan.sha256, scan.path) in wanted:
                found[(scan.sha256, scan.path)] = scan
    return found


def _record_scans(session: Session, prepared: PreparedCommit) -> None:
    """Keep what the scan found of each added file (once per bytes and path; concurrent commits may race)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    for path, scan in prepared.scans.items():
        entry = prepared.additions.get(path)
        if entry is None:
            continue
        statement = insert(FileScan).values(
            sha256=entry.sha256,
            path=path,
            format=scan.format[:64],
            description=scan.description,
            imports=list(scan.globals_found),
            created_at=utcnow(),
        )
        session.execute(statement.on_conflict_do_nothing(index_elements=[FileScan.sha256, FileScan.path]))


def list_commits(session: Session, repo: Repo, head: Commit, limit: int | None = None) -> Iterator[Commit]:
    commit: Commit | None = head
    count = 0
    while commit is not None and (limit is None or count < limit):
        yield commit
        count += 1
        commit = session.get(Commit, commit.parent_oid) if commit.parent_oid else None


# Commit preparation (no lock held) ------------------------------------------------------------


class CommitHeader(BaseModel):
    """The ``header`` line of an NDJSON commit."""

    summary: StrictStr | None = None
    description: StrictStr | None = None
    parentCommit: StrictStr | None = None


class _InlineFileLine(BaseModel):
    path: StrictStr
    content: StrictStr = ""
    encoding: StrictStr = "base64"


class _LfsFileLine(BaseModel):
    path: StrictStr
    oid: StrictStr
    size: StrictInt = Field(ge=0)
    algo: StrictStr = "sha256"


class _PathLine(BaseModel):
    path: StrictStr


_LINE_SHAPES: dict[str, type[BaseModel]] = {
    "header": CommitHeader,
    "file": _InlineFileLine,
    "lfsFile": _LfsFileLine,
    "deletedFile": _PathLine,
    "deletedFolder": _PathLine,
}


def parse_ndjson_operations(lines: list[dict[str, Any]]) -> tuple[CommitHeader, list[Operation]]:
    """Turn the Hub's NDJSON commit payload into a header and typed operations."""
    header = CommitHeader()
    operations: list[Operation] = []
    for number, line in enumerate(lines, start=1):
        key = line.get("key")
        shape = _LINE_SHAPES.get(key) if isinstance(key, str) else None
        if shape is None:
            raise BadRequestError(
                f"Commit payload line {number}: unknown key {str(key)[:40]!r}",
                hint="Use header, file, lfsFile, deletedFile or deletedFolder.",
            )
        value = parse_body(shape, line.get("value"), f"Commit payload line {number} ({key})")
        if isinstance(value, CommitHeader):
            header = value
        elif isinstance(value, _InlineFileLine):
            if value.encoding != "base64":
                raise BadRequestError(f"Commit payload line {number}: only base64 encoding is supported")
            try:
                content = base64.b64decode(value.content, validate=True)
            except binascii.Error as error:
                raise BadRequestError(f"Commit payload line {number}: content is not valid base64") from error
            operations.append(AddInline(value.path, content))
        elif isinstance(value, _LfsFileLine):
            if value.algo != "sha256":
                raise BadRequestError(f"Commit payload line {number}: only sha256 LFS objects are supported")
            operations.append(AddLfs(value.path, check_sha256(value.oid), value.size))
        elif isinstance(value, _PathLine):
            operations.append((DeleteFile if key == "deletedFile" else DeleteFolder)(value.path))
    return header, operations


def _scan_blob(store: BlobStore, sha256: str, path: str, size: int) -> scanning.ScanResult:
    """Classify a file by its content (every file: names prove nothing) and refuse it when a
    loader would run code from it; see baton.hub.scanning."""
    local = store.local_path(sha256)
    if local is not None:
        with open(local, "rb") as handle:
            return scanning.scan_file(handle, path, size)
    with _BlobReader(store, sha256, size) as handle:
        return scanning.scan_file(handle, path, size)  # type: ignore[arg-type]


def prepare_commit(
    session: Session,
    store: BlobStore,
    settings: Settings,
    user: Actor,
    repo: Repo,
    operations: list[Operation],
) -> PreparedCommit:
    if not operations:
        raise BadRequestError("A commit needs at least one operation", hint="Add, change or delete a file.")
    prepared = PreparedCommit()
    for operation in operations:
        if isinstance(operation, AddInline):
            path = paths.validate_new_path(operation.path)
            if len(operation.content) > settings.max_regular_file_size:
                raise QuotaExceededError(
                    f"{path} is {len(operation.content)} bytes, over the inline limit",
                    hint="Upload it as an LFS file (the client does so when preupload says 'lfs').",
                )
            if path == "README.md":
                readme = operation.content.decode("utf-8", errors="replace")
                prepared.card = cards.parse_card(readme)
                prepared.card_terms = search_index.card_terms(readme)
            info = store.put([operation.content], max_size=settings.max_file_size)
            prepared.scans[path] = _scan_blob(store, info.sha256, path, info.size)
            prepared.additions[path] = FileEntry(path, info.sha256, info.size, False, git_blob_oid(operation.content))
        elif isinstance(operation, AddLfs):
            path = paths.validate_new_path(operation.path)
            if operation.size > settings.max_file_size:
                raise QuotaExceededError(f"{path} is {operation.size} bytes, over the per-file limit")
            if not store.exists(operation.sha256):
                raise IntegrityError(
                    f"{path}: LFS object {operation.sha256} was never uploaded",
                    hint="Upload the file through the LFS batch API before committing it.",
                )
            stored_size = store.size(operation.sha256)
            if stored_size != operation.size:
                raise IntegrityError(f"{path}: declared size {operation.size} but the object has {stored_size}")
            if not _may_use_blob(session, user, repo, operation.sha256):
                raise IntegrityError(
                    f"{path}: LFS object {operation.sha256} was not uploaded to {repo.repo_id}",
                    hint="Upload the file's bytes to this repo through the LFS batch API first.",
                )
            prepared.scans[path] = _scan_blob(store, operation.sha256, path, operation.size)
            if path == "README.md":
                text = b"".join(store.open_range(operation.sha256)).decode("utf-8", errors="replace")
                prepared.card = cards.parse_card(text)
                prepared.card_terms = search_index.card_terms(text)
            pointer = lfs_pointer(operation.sha256, operation.size)
            prepared.additions[path] = FileEntry(path, operation.sha256, operation.size, True, git_blob_oid(pointer))
        elif isinstance(operation, DeleteFile):
            prepared.deletions.append(DeleteFile(paths.validate_repo_path(operation.path)))
        else:
            prepared.deletions.append(DeleteFolder(paths.validate_folder_path(operation.path)))
    return prepared


def _may_use_blob(session: Session, user: Actor, repo: Repo, sha256: str) -> bool:
    """The bytes were sent to this repo, or the user may read them where they already are."""
    return has_grant(session, repo, sha256) or blob_readable_by(session, user, sha256)


def has_grant(session: Session, repo: Repo, sha256: str) -> bool:
    """Whether the bytes were uploaded to ``repo`` (or reused there by someone who could read them)."""
    granted = session.scalar(select(BlobGrant.id).where(BlobGrant.sha256 == sha256, BlobGrant.repo_id == repo.id))
    return granted is not None


def grant_blob(session: Session, repo: Repo, sha256: str, size: int) -> None:
    """Let ``repo`` commit this blob. Refreshing the time also shields it from gc for a grace period."""
    grant = session.scalar(select(BlobGrant).where(BlobGrant.sha256 == sha256, BlobGrant.repo_id == repo.id))
    if grant is None:
        session.add(BlobGrant(sha256=sha256, repo_id=repo.id, size=size))
    else:
        grant.created_at = utcnow()
    session.flush()


def blob_needs_upload(session: Session, store: BlobStore, user: Actor, repo: Repo, sha256: str) -> bool:
    """The LFS batch answer: skip the upload only when the bytes are here and usable by this repo."""
    if not store.exists(sha256):
        return True
    return not _may_use_blob(session, user, repo, sha256)


# Commit application (branch locked) -----------------------------------------------------------


def _tree_id(repo: Repo, entries: dict[str, FileEntry]) -> str:
    # The repo is part of the name: trees are shared by the commits of one repo only, so the
    # trees of a deleted repo, which gc removes, can never be picked up again by a new commit.
    digest = hashlib.sha1(f"repo {repo.id}\n".encode(), usedforsecurity=False)
    for path in sorted(entries):
        entry = entries[path]
        digest.update(f"{path}\0{entry.sha256}\0{entry.size}\0{int(entry.is_lfs)}\n".encode())
    return digest.hexdigest()


def _store_tree(session: Session, repo: Repo, entries: dict[str, FileEntry]) -> str:
    tree_id = _tree_id(repo, entries)
    if session.scalar(select(TreeEntry.id).where(TreeEntry.tree_id == tree_id).limit(1)) is None:
        session.add_all(
            TreeEntry(tree_id=tree_id, path=e.path, sha256=e.sha256, size=e.size, is_lfs=e.is_lfs, git_oid=e.git_oid)
            for e in entries.values()
        )
        session.flush()
    return tree_id


def _new_commit(
    session: Session, repo: Repo, tree_id: str, parent: str | None, author: str, title: str, message: str
) -> Commit:
    created = utcnow()
    oid = hashlib.sha1(
        f"tree {tree_id}\nparent {parent}\nrepo {repo.id}\nauthor {author} {created.isoformat()}\n"
        f"nonce {uuid.uuid4().hex}\n\n{title}\n\n{message}".encode(),
        usedforsecurity=False,
    ).hexdigest()
    commit = Commit(
        oid=oid,
        repo_id=repo.id,
        tree_id=tree_id,
        parent_oid=parent,
        author=author,
        title=title,
        message=message,
        created_at=created,
    )
    session.add(commit)
    session.flush()
    return commit


def _lock_branch(session: Session, repo: Repo, branch: str) -> Ref:
    ref = session.scalar(
        select(Ref).where(Ref.repo_id == repo.id, Ref.kind == "branch", Ref.name == branch).with_for_update()
    )
    if ref is None:
        raise RevisionNotFoundError(
            f"Branch '{branch}' does not exist in {repo.repo_id}",
            hint="Create it first with create_branch, or commit to an existing branch.",
        )
    return ref


def apply_commit(
    session: Session,
    store: BlobStore,
    settings: Settings,
    user: Actor,
    repo: Repo,
    branch: str,
    prepared: PreparedCommit,
    *,
    title: str,
    message: str = "",
    parent_commit: str | None = None,
) -> Commit:
    ref = _lock_branch(session, repo, branch)
    if parent_commit is not None and parent_commit != ref.commit_oid:
        raise PreconditionFailedError(
            f"parent_commit {parent_commit[:12]} is not the head of '{branch}' (now {ref.commit_oid[:12]})"
        )
    head = session.get(Commit, ref.commit_oid)
    assert head is not None
    files = {entry.path: entry for entry in tree_entries(session, head.tree_id)}
    # Only names new to the tree are checked for clashes: files a repo already holds stay usable.
    new_paths = [path for path in prepared.additions if path not in files]
    for deletion in prepared.deletions:
        if isinstance(deletion, DeleteFile):
            if deletion.path not in files:
                raise EntryNotFoundError(f"Cannot delete {deletion.path}: no such file on '{branch}'")
            del files[deletion.path]
        else:
            prefix = deletion.path.rstrip("/") + "/"
            doomed = [path for path in files if path.startswith(prefix)]
            if not doomed:
                raise EntryNotFoundError(f"Cannot delete folder {deletion.path}: no such folder on '{branch}'")
            for path in doomed:
                del files[path]
    for path, entry in prepared.additions.items():
        if entry.is_lfs and not store.exists(entry.sha256):
            raise IntegrityError(
                f"{path}: LFS object {entry.sha256} disappeared before the commit landed",
                hint="Upload the file again and retry the commit.",
            )
        for other in files:
            if other.startswith(path + "/") or path.startswith(other + "/"):
                raise ConflictError(
                    f"{path} clashes with {other}: a path cannot be both a file and a folder",
                    code="PathConflict",
                )
        files[path] = entry
    clash = paths.find_disk_clash(new_paths, files)
    if clash is not None:
        raise ConflictError(
            f"{clash[0]!r} and {clash[1]!r} would be the same file or folder on a case-insensitive disk "
            "(macOS, Windows): their names differ only in letter case or Unicode normalization",
            code="PathConflict",
            hint="Rename one of the two, or delete the other in the same commit.",
        )
    total = sum(entry.size for entry in files.values())
    if total > settings.max_repo_size:
        raise QuotaExceededError(f"{repo.repo_id} would hold {total} bytes, over the per-repo limit")
    variant = _check_variant(session, store, user, repo, branch, prepared, files)
    commit = _new_commit(
        session, repo, _store_tree(session, repo, files), head.oid, user.name, title or "Upload files", message
    )
    ref.commit_oid = commit.oid
    repo.last_modified = commit.created_at
    _record_scans(session, prepared)
    changed = sorted({*prepared.additions, *(deletion.path for deletion in prepared.deletions)})
    events.publish(
        session,
        CommitLanded(
            repo_pk=repo.id,
            repo=f"{repo.namespace}/{repo.name}",
            repo_type=repo.repo_type,
            branch=branch,
            default_branch=branch == repo.default_branch,
            commit=commit.oid,
            changed_paths=tuple(changed[:MAX_LISTED_PATHS]),
            paths_truncated=len(changed) > MAX_LISTED_PATHS,
        ),
    )
    if branch == repo.default_branch:
        repo.used_storage = total
        if prepared.card is not None:
            repo.card_data = prepared.card.raw
            relation = variant.relation if variant is not None else prepared.card.base_model_relation
            set_lineage(session, repo, prepared.card.base_models, relation)
            repo.variant_kind = variant.kind if variant is not None else None
            search_index.index_repo(session, repo, card=prepared.card_terms)
        elif "README.md" not in files:
            repo.card_data = {}
            set_lineage(session, repo, [], None)
            repo.variant_kind = None
            search_index.index_repo(session, repo, card={})
    session.flush()
    return commit


def _check_variant(
    session: Session,
    store: BlobStore,
    user: Actor,
    repo: Repo,
    branch: str,
    prepared: PreparedCommit,
    files: dict[str, FileEntry],
) -> variants.Variant | None:
    """The variant the card declares after a commit to a model repo's default branch, checked
    (``baton.hub.variants``) when the commit changes the card or config.json; raises to refuse it."""
    if branch != repo.default_branch or repo.repo_type != "model":
        return None
    if prepared.card is not None:
        card = prepared.card
    elif cards.FILE_NAME in files and variants.CONFIG_FILE in prepared.additions:
        card = cards.card_from_data(repo.card_data or {})
    else:
        return None
    variant = variants.parse_variant(card)
    if variant is not None:
        config = files.get(variants.CONFIG_FILE)
        found = (config.sha256, config.size) if config is not None else None
        variants.check_commit(session, store, user, repo, variant, card.base_models, found)
    return variant


def initial_commit(session: Session, store: BlobStore, user: Actor, repo: Repo) -> Commit:
    info = store.put([GITATTRIBUTES])
    files = {".gitattributes": FileEntry(".gitattributes", info.sha256, info.size, False, git_blob_oid(GITATTRIBUTES))}
    commit = _new_commit(session, repo, _store_tree(session, repo, files), None, user.name, "initial commit", "")
    session.add(Ref(repo_id=repo.id, kind="branch", name=repo.default_branch, commit_oid=commit.oid))
    session.flush()
    return commit


# Refs ----------------------------------------------------------------------------------------


def create_ref(
    session: Session,
    repo: Repo,
    kind: Literal["branch", "tag"],
    name: str,
    revision: str | None,
    *,
    message: str | None = None,
    exist_ok: bool = False,
) -> Ref:
    check_branch_name(name)
    existing = find_ref(session, repo, kind, name)
    if existing is not None:
        if exist_ok:
            return existing
        raise ConflictError(f"{kind.capitalize()} '{name}' already exists in {repo.repo_id}", code="RefExists")
    commit = resolve_revision(session, repo, revision)
    ref = Ref(repo_id=repo.id, kind=kind, name=name, commit_oid=commit.oid, message=message)
    session.add(ref)
    session.flush()
    return ref


def delete_ref(session: Session, repo: Repo, kind: Literal["branch", "tag"], name: str) -> None:
    ref = find_ref(session, repo, kind, name)
    if ref is None:
        raise RevisionNotFoundError(f"No {kind} '{name}' in {repo.repo_id}")
    if kind == "branch" and name == repo.default_branch:
        raise BadRequestError(f"Cannot delete the default branch '{name}'")
    others = session.scalar(
        select(func.count()).select_from(Ref).where(Ref.repo_id == repo.id, Ref.commit_oid == ref.commit_oid)
    )
    if others == 1:
        # The ref is the only name of this commit: deleting it would drop a held revision.
        refuse_if_commit_held(session, repo, ref.commit_oid, f"delete {kind} '{name}'")
    session.delete(ref)
    session.flush()


def list_refs(session: Session, repo: Repo) -> list[Ref]:
    return list(session.scalars(select(Ref).where(Ref.repo_id == repo.id).order_by(Ref.kind, Ref.name)))


class _BlobReader:
    """A read-only, seekable file over a remote blob, for scanners that need random access."""

    def __init__(self, store: BlobStore, sha256: str, size: int) -> None:
        self.store, self.sha256, self.size, self.position = store, sha256, size, 0

    def __enter__(self) -> _BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def read(self, count: int = -1) -> bytes:
        if self.position >= self.size:
            return b""
        end = self.size - 1 if count < 0 else min(self.size - 1, self.position + count - 1)
        data = b"".join(self.store.open_range(self.sha256, self.position, end))
        self.position += len(data)
        return data


def commit_files(
    session: Session,
    store: BlobStore,
    settings: Settings,
    user: Actor,
    repo: Repo,
    files: dict[str, bytes],
    *,
    title: str,
    branch: str | None = None,
    deletions: list[str] | None = None,
) -> Commit:
    """Commit in-memory files from Baton's own code (seed data, CLI), as a client would."""
    operations: list[Operation] = []
    for path, content in files.items():
        if paths.is_lfs_candidate(path, len(content), content[:512]):
            info = store.put([content])
            grant_blob(session, repo, info.sha256, info.size)
            operations.append(AddLfs(path, info.sha256, info.size))
        else:
            operations.append(AddInline(path, content))
    operations.extend(DeleteFile(path) for path in deletions or [])
    prepared = prepare_commit(session, store, settings, user, repo, operations)
    return apply_commit(session, store, settings, user, repo, branch or repo.default_branch, prepared, title=title)
