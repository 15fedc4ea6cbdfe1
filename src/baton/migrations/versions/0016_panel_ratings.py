"""panel ratings: raters assigned to a panel criterion's teams, and raters' conflicts with teams

Revision ID: 0016_panel_ratings
Revises: 0015_file_scans

The ratings themselves live in the ledger (panel.rating, panel.ratings); these tables are the
projections the service checks a rating against.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0016_panel_ratings"
down_revision: str | None = "0015_file_scans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _references(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge_challenges.id"],
            name=op.f(f"fk_{table}_challenge_id_challenge_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["accounts.id"], name=op.f(f"fk_{table}_rater_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["challenge_teams.id"], name=op.f(f"fk_{table}_team_id_challenge_teams"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    table = "challenge_panel_assignments"
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=40), nullable=False),
        *_references(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "challenge_id", "stage", "criterion", "team_id", "rater_id", name=op.f(f"uq_{table}_challenge_id")
        ),
    )
    table = "challenge_panel_conflicts"
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        *_references(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("challenge_id", "team_id", "rater_id", name=op.f(f"uq_{table}_challenge_id")),
    )
    for table in ("challenge_panel_assignments", "challenge_panel_conflicts"):
        for column in ("challenge_id", "rater_id", "team_id"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table in ("challenge_panel_conflicts", "challenge_panel_assignments"):
        for column in ("challenge_id", "rater_id", "team_id"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
