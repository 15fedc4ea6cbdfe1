"""provenance scans: which revisions were scanned (or are queued), keyed by their weights too

Revision ID: 0017_provenance_scans
Revises: 0016_panel_ratings

Reports follow a repo across commits that keep its weights (a card edit, a release commit): a
revision's weights are identified by the sorted content hashes of its weight files. Every revision
that already has reports gets a ``done`` row here, with that identity computed from its tree.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0017_provenance_scans"
down_revision: str | None = "0016_panel_ratings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")


def upgrade() -> None:
    scans = op.create_table(
        "provenance_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit_oid", sa.String(length=40), nullable=False),
        sa.Column("weights", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_provenance_scans_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provenance_scans")),
        sa.UniqueConstraint("repo_id", "commit_oid", name=op.f("uq_provenance_scans_repo_id")),
    )
    with op.batch_alter_table("provenance_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provenance_scans_repo_id"), ["repo_id"], unique=False)
        batch_op.create_index("ix_provenance_scans_repo_weights", ["repo_id", "weights"], unique=False)

    # Revisions scanned before this table: one done row each, finished when their last report was stored.
    bind = op.get_bind()
    reports = sa.table(
        "provenance_reports",
        sa.column("repo_id", sa.Integer()),
        sa.column("commit_oid", sa.String()),
        sa.column("created_at", baton.core.database.UTCDateTime(timezone=True)),
    )
    commits = sa.table("commits", sa.column("oid", sa.String()), sa.column("tree_id", sa.String()))
    entries = sa.table(
        "tree_entries",
        sa.column("tree_id", sa.String()),
        sa.column("path", sa.String()),
        sa.column("sha256", sa.String()),
    )
    finished_at = sa.func.max(reports.c.created_at, type_=baton.core.database.UTCDateTime(timezone=True))
    scanned = bind.execute(
        sa.select(reports.c.repo_id, reports.c.commit_oid, finished_at, commits.c.tree_id)
        .join(commits, commits.c.oid == reports.c.commit_oid)
        .group_by(reports.c.repo_id, reports.c.commit_oid, commits.c.tree_id)
    ).all()
    rows = []
    for repo_id, commit_oid, finished, tree_id in scanned:
        hashes = sorted(
            sha256
            for path, sha256 in bind.execute(
                sa.select(entries.c.path, entries.c.sha256).where(entries.c.tree_id == tree_id)
            )
            if str(path).endswith(WEIGHT_SUFFIXES)
        )
        weights = hashlib.sha256(("baton-weights-v1\n" + "\n".join(hashes)).encode()).hexdigest() if hashes else None
        rows.append(
            {
                "repo_id": repo_id,
                "commit_oid": commit_oid,
                "weights": weights,
                "state": "done",
                "job_id": None,
                "requested_at": finished,
                "finished_at": finished,
            }
        )
    if rows:
        op.bulk_insert(scans, rows)


def downgrade() -> None:
    with op.batch_alter_table("provenance_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_provenance_scans_repo_weights")
        batch_op.drop_index(batch_op.f("ix_provenance_scans_repo_id"))
    op.drop_table("provenance_scans")
