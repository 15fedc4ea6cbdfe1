"""challenge standings: each undecided stage's live standings, as computed at a ledger head

Revision ID: 0020_standings
Revises: 0019_repo_terms_weight_index

The public stage page reads this row instead of replaying the ledger; a periodic job refreshes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0020_standings"
down_revision: str | None = "0019_repo_terms_weight_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenge_standings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("computed_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("standings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge_challenges.id"],
            name=op.f("fk_challenge_standings_challenge_id_challenge_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_standings")),
        sa.UniqueConstraint("challenge_id", "stage", name=op.f("uq_challenge_standings_challenge_id")),
    )
    op.create_index(op.f("ix_challenge_standings_challenge_id"), "challenge_standings", ["challenge_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_challenge_standings_challenge_id"), table_name="challenge_standings")
    op.drop_table("challenge_standings")
