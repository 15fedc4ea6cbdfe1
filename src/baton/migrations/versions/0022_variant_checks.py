"""variant checks: whether each variant revision loads and runs with its runtime

Revision ID: 0022_variant_checks
Revises: 0020_standings

The lead re-chains it after 0021_variants when the branches merge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0022_variant_checks"
down_revision: str | None = "0020_standings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "variant_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("runtime", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("checked_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_variant_checks_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_checks")),
        sa.UniqueConstraint("repo_id", "commit", "runtime", name=op.f("uq_variant_checks_repo_id")),
    )
    op.create_index(op.f("ix_variant_checks_repo_id"), "variant_checks", ["repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_variant_checks_repo_id"), table_name="variant_checks")
    op.drop_table("variant_checks")
