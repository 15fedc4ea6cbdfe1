"""talent groups: move-together groups (with each member's consent) and their outcomes in matching runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "talent_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_groups")),
    )
    op.create_table(
        "talent_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposer", sa.Boolean(), nullable=False),
        sa.Column("responded_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["talent_groups.id"],
            name=op.f("fk_talent_group_members_group_id_talent_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_group_members_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_group_members")),
        sa.UniqueConstraint("group_id", "profile_id", name=op.f("uq_talent_group_members_group_id")),
    )
    with op.batch_alter_table("talent_group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_group_members_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_group_members_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_match_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), nullable=True),
        sa.Column("together", sa.Boolean(), nullable=False),
        sa.Column("option_rank", sa.Integer(), nullable=True),
        sa.Column("options", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["talent_openings.id"],
            name=op.f("fk_talent_match_groups_opening_id_talent_openings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_match_groups_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["talent_matching_runs.id"],
            name=op.f("fk_talent_match_groups_run_id_talent_matching_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_match_groups")),
    )
    with op.batch_alter_table("talent_match_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_match_groups_opening_id"), ["opening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_match_groups_profile_id"), ["profile_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_match_groups_run_id"), ["run_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("talent_match_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_match_groups_run_id"))
        batch_op.drop_index(batch_op.f("ix_talent_match_groups_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_match_groups_opening_id"))

    op.drop_table("talent_match_groups")
    with op.batch_alter_table("talent_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_group_members_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_group_members_group_id"))

    op.drop_table("talent_group_members")
    op.drop_table("talent_groups")
