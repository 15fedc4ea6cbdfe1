"""Tables of the hub: repos, commits, trees, refs, access and holds.

A commit points at a tree; a tree is the full, sorted list of its files (path, sha256 of the
content, size, whether it is an LFS file). Trees are named by a hash of their entries, so
commits that leave the files alone share one tree. File contents live in the blob store under
their sha256, never in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

REPO_TYPES = ("model", "dataset", "space")
GATED_MODES = ("auto", "manual")


class Repo(Base):
    __tablename__ = "repos"
    # AUTOINCREMENT on SQLite: a deleted repo's id is never given to a new repo.
    __table_args__ = (UniqueConstraint("repo_type", "namespace", "name"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_type: Mapped[str] = mapped_column(String(8))
    namespace: Mapped[str] = mapped_column(String(96), index=True)
    name: Mapped[str] = mapped_column(String(96))
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    gated: Mapped[str | None] = mapped_column(String(8), nullable=True)
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    card_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The card's ``variant.kind`` (quantized, onnx, ...) at the default branch's head; None: not a variant.
    variant_kind: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    used_storage: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


class Commit(Base):
    __tablename__ = "commits"

    oid: Mapped[str] = mapped_column(String(40), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    tree_id: Mapped[str] = mapped_column(String(40))
    parent_oid: Mapped[str | None] = mapped_column(String(40), nullable=True)
    author: Mapped[str] = mapped_column(String(96))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TreeEntry(Base):
    __tablename__ = "tree_entries"
    __table_args__ = (UniqueConstraint("tree_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_id: Mapped[str] = mapped_column(String(40), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    is_lfs: Mapped[bool] = mapped_column(Boolean)
    # git blob SHA-1 of the file (regular files) or of its LFS pointer (LFS files), as the Hub reports.
    git_oid: Mapped[str] = mapped_column(String(40))


class Ref(Base):
    __tablename__ = "refs"
    __table_args__ = (UniqueConstraint("repo_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "branch" or "tag"
    name: Mapped[str] = mapped_column(String(255))
    commit_oid: Mapped[str] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BlobGrant(Base):
    """Records that a blob's bytes were uploaded to a repo, so it may be committed there.

    Knowing a sha256 is not enough to commit a blob: the uploader must have sent the bytes to
    this repo, or be able to read a repo that already holds them. This stops a private file
    from leaking to anyone who learns its hash.
    """

    __tablename__ = "blob_grants"
    __table_args__ = (UniqueConstraint("sha256", "repo_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FileDownload(Base):
    __tablename__ = "file_downloads"
    __table_args__ = (UniqueConstraint("repo_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class AccessRequest(Base):
    __tablename__ = "access_requests"
    __table_args__ = (UniqueConstraint("repo_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10))  # pending, accepted, rejected
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(96), nullable=True)


class RevisionHold(Base):
    """A revision pinned by another part of Baton (e.g. a challenge submission)."""

    __tablename__ = "revision_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit_oid: Mapped[str] = mapped_column(String(40), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LineageEdge(Base):
    """``child`` declares ``base`` in its card's ``base_model`` (base may live outside Baton)."""

    __tablename__ = "lineage_edges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    base: Mapped[str] = mapped_column(String(200), index=True)
    relation: Mapped[str | None] = mapped_column(String(32), nullable=True)


class FileScan(Base):
    """What the content scan found a file to be when it was committed (``hub.scanning``), by its bytes and path.

    Every file a tree holds passed the scan (a refused file never lands); this keeps what the scan
    said (format, compression, what its pickles import) so pages can show it without reading the
    file again. Files committed before this table existed have no row.
    """

    __tablename__ = "file_scans"
    __table_args__ = (UniqueConstraint("sha256", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    format: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    imports: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RepoTerm(Base):
    """One normalised term of a repo, for search and filters (``baton.hub.search``).

    ``field`` says where the term comes from: ``name``, ``owner`` (the namespace), ``tag`` (card
    tags, pipeline tag, library, languages, license), ``card`` (the card's text) or ``facet`` (an
    exact filter value such as ``license:mit``, never matched by a text query). A query sums the
    weights of the terms it matches; the term index answers both.
    """

    __tablename__ = "repo_terms"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(8), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)


Index("ix_commits_repo_created", Commit.repo_id, Commit.created_at)
# With the weight, a search reads its matches and their score from this index alone (no table rows).
Index("ix_repo_terms_field_term_weight", RepoTerm.field, RepoTerm.term, RepoTerm.repo_id, RepoTerm.weight)
