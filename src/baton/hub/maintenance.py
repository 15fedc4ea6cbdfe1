"""Upkeep: collect blobs that no commit references once their grace period is over; rebuild the
search index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from baton.core.runtime import Runtime
from baton.hub import search
from baton.hub.models import BlobGrant, Commit, Ref, Repo, RepoTerm, TreeEntry


@dataclass(frozen=True)
class GarbageReport:
    deleted: int
    freed_bytes: int
    kept: int


def collect_garbage(runtime: Runtime, *, grace_seconds: int, dry_run: bool = False) -> GarbageReport:
    """Delete unreferenced blobs older than ``grace_seconds``.

    The grace period protects uploads whose commit has not arrived yet: the LFS upload comes
    first and the commit that references it a moment (or a long upload) later. The commit itself
    checks again, under the branch lock, that its LFS blobs are still there.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    with runtime.database.session(write=True) as session:
        if not dry_run:
            # Trees of deleted repos: no commit points at them any more.
            session.execute(delete(TreeEntry).where(TreeEntry.tree_id.not_in(select(Commit.tree_id))))
        # Only trees that a commit points at count, so that a dry run reports what a real run deletes.
        live_trees = select(Commit.tree_id)
        referenced = set(session.scalars(select(TreeEntry.sha256).where(TreeEntry.tree_id.in_(live_trees)).distinct()))
        # A recent grant means a commit may be on its way (an upload, or a reuse the LFS batch
        # API allowed without one): such blobs wait out the grace period too.
        referenced.update(session.scalars(select(BlobGrant.sha256).where(BlobGrant.created_at > cutoff)))
    deleted = freed = kept = 0
    for blob in runtime.store.iter_blobs():
        if blob.sha256 in referenced or blob.modified_at > cutoff:
            kept += 1
            continue
        deleted += 1
        freed += blob.size
        if not dry_run:
            runtime.store.delete(blob.sha256)
            with runtime.database.session(write=True) as session:
                session.execute(delete(BlobGrant).where(BlobGrant.sha256 == blob.sha256))
    return GarbageReport(deleted=deleted, freed_bytes=freed, kept=kept)


# The bytes of a README read to index it: its front matter (bounded by the card parser) and the
# indexed part of its text fit in this.
README_READ_BYTES = 1024 * 1024
REINDEX_BATCH = 200


@dataclass(frozen=True)
class ReindexReport:
    repos: int
    terms: int


def _readme_text(runtime: Runtime, session: Session, repo: Repo) -> str | None:
    head = session.scalar(
        select(Ref.commit_oid).where(Ref.repo_id == repo.id, Ref.kind == "branch", Ref.name == repo.default_branch)
    )
    commit = session.get(Commit, head) if head else None
    if commit is None:
        return None
    sha256 = session.scalar(
        select(TreeEntry.sha256).where(TreeEntry.tree_id == commit.tree_id, TreeEntry.path == "README.md")
    )
    if sha256 is None or not runtime.store.exists(sha256):
        return None
    data = b"".join(runtime.store.open_range(sha256, 0, README_READ_BYTES - 1))
    return data.decode("utf-8", errors="replace")


def reindex(runtime: Runtime, *, repo_ids: list[str] | None = None) -> ReindexReport:
    """Rebuild the search index (``baton.hub.search``) of every repo, or of ``repo_ids``.

    Each batch of repos is read and tokenized in a read session, then written in its own short
    write transaction, so a long reindex never holds the write lock for long.
    """
    last_id = 0
    count = 0
    while True:
        with runtime.database.session() as session:
            query = select(Repo).where(Repo.id > last_id).order_by(Repo.id).limit(REINDEX_BATCH)
            if repo_ids is not None:
                query = query.where((Repo.namespace + "/" + Repo.name).in_(repo_ids))
            batch = list(session.scalars(query))
            if not batch:
                break
            prepared = [
                (
                    search.Indexed(repo.id, repo.repo_type, repo.namespace, repo.name, dict(repo.card_data or {})),
                    search.card_terms(_readme_text(runtime, session, repo)),
                )
                for repo in batch
            ]
        with runtime.database.session(write=True) as session:
            for indexed, card in prepared:
                if session.get(Repo, indexed.id) is not None:  # not deleted meanwhile
                    search.index_repo(session, indexed, card=card)
        last_id = batch[-1].id
        count += len(batch)
    with runtime.database.session() as session:
        terms = session.scalar(select(func.count()).select_from(RepoTerm)) or 0
    return ReindexReport(repos=count, terms=terms)
