"""file scans: what the content scan found each committed file to be, for the repo pages

Revision ID: 0015_file_scans
Revises: 0014_repo_search

Files committed before this table existed have no row: pages say so instead of scanning again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0015_file_scans"
down_revision: str | None = "0014_repo_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("imports", sa.JSON(), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_scans")),
        sa.UniqueConstraint("sha256", "path", name=op.f("uq_file_scans_sha256")),
    )
    op.create_index(op.f("ix_file_scans_sha256"), "file_scans", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_file_scans_sha256"), table_name="file_scans")
    op.drop_table("file_scans")
