"""Storage upkeep: collect blobs that no commit references once their grace period is over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from baton.core.runtime import Runtime
from baton.hub.models import BlobGrant, Commit, TreeEntry


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
