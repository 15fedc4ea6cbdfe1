"""variant measurements: each variant measured against its base on the same items

Revision ID: 0024_variant_measurements
Revises: 0023_variant_checks

One row per measurement (``baton.variants.measure``): accuracy retained as a paired difference
with its interval, file sizes, peak memory, throughput, latency, runtime and machine.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0024_variant_measurements"
down_revision: str | None = "0023_variant_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "variant_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.Column("base_repo_pk", sa.Integer(), nullable=True),
        sa.Column("base_repo", sa.String(length=200), nullable=False),
        sa.Column("base_commit", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("runtime", sa.String(length=64), nullable=False),
        sa.Column("runtime_version", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task", sa.String(length=200), nullable=True),
        sa.Column("items_hash", sa.String(length=64), nullable=True),
        sa.Column("n_items", sa.Integer(), nullable=True),
        sa.Column("base_accuracy", sa.Float(), nullable=True),
        sa.Column("variant_accuracy", sa.Float(), nullable=True),
        sa.Column("difference", sa.Float(), nullable=True),
        sa.Column("difference_low", sa.Float(), nullable=True),
        sa.Column("difference_high", sa.Float(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("base_file_size", sa.BigInteger(), nullable=True),
        sa.Column("peak_memory", sa.BigInteger(), nullable=True),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.Column("items_per_second", sa.Float(), nullable=True),
        sa.Column("latency_median_ms", sa.Float(), nullable=True),
        sa.Column("latency_p95_ms", sa.Float(), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("started_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_pk"], ["repos.id"], name=op.f("fk_variant_measurements_repo_pk_repos"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["base_repo_pk"],
            ["repos.id"],
            name=op.f("fk_variant_measurements_base_repo_pk_repos"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_measurements")),
    )
    op.create_index(op.f("ix_variant_measurements_repo_pk"), "variant_measurements", ["repo_pk"], unique=False)
    op.create_index(
        op.f("ix_variant_measurements_base_repo_pk"), "variant_measurements", ["base_repo_pk"], unique=False
    )
    op.create_index(
        "ix_variant_measurements_repo_finished", "variant_measurements", ["repo_pk", "finished_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_variant_measurements_repo_finished", table_name="variant_measurements")
    op.drop_index(op.f("ix_variant_measurements_base_repo_pk"), table_name="variant_measurements")
    op.drop_index(op.f("ix_variant_measurements_repo_pk"), table_name="variant_measurements")
    op.drop_table("variant_measurements")
