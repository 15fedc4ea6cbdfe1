"""release plan execution: items, findings, actions

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-28 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenge_release_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge", sa.String(length=96), nullable=False),
        sa.Column("team", sa.String(length=96), nullable=False),
        sa.Column("stage", sa.String(length=96), nullable=False),
        sa.Column("exit_reason", sa.String(length=32), nullable=False),
        sa.Column("repo_type", sa.String(length=8), nullable=False),
        sa.Column("repo_name", sa.String(length=200), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=True),
        sa.Column("asset_kind", sa.String(length=32), nullable=False),
        sa.Column("access", sa.String(length=8), nullable=False),
        sa.Column("gated_mode", sa.String(length=8), nullable=True),
        sa.Column("license", sa.String(length=64), nullable=True),
        sa.Column("embargo_until", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("checked_commit", sa.String(length=40), nullable=True),
        sa.Column("released_commit", sa.String(length=40), nullable=True),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("effective_license", sa.String(length=64), nullable=True),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_pk"], ["repos.id"], name=op.f("fk_challenge_release_items_repo_pk_repos"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_release_items")),
        sa.UniqueConstraint(
            "challenge", "team", "repo_type", "repo_name", name=op.f("uq_challenge_release_items_challenge")
        ),
    )
    with op.batch_alter_table("challenge_release_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_release_items_challenge"), ["challenge"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_release_items_repo_pk"), ["repo_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_release_items_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_release_items_team"), ["team"], unique=False)

    op.create_table(
        "challenge_release_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("challenge", sa.String(length=96), nullable=False),
        sa.Column("team", sa.String(length=96), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["challenge_release_items.id"],
            name=op.f("fk_challenge_release_actions_item_id_challenge_release_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_release_actions")),
    )
    with op.batch_alter_table("challenge_release_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_release_actions_challenge"), ["challenge"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_release_actions_item_id"), ["item_id"], unique=False)

    op.create_table(
        "challenge_release_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("commit_oid", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("resolved_by", sa.String(length=96), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_commit", sa.String(length=40), nullable=True),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["challenge_release_items.id"],
            name=op.f("fk_challenge_release_findings_item_id_challenge_release_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_release_findings")),
    )
    with op.batch_alter_table("challenge_release_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_release_findings_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_release_findings_state"), ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("challenge_release_findings")
    op.drop_table("challenge_release_actions")
    op.drop_table("challenge_release_items")
