"""events: the outbox of domain events, delivered to their handlers as jobs

Revision ID: 0011_events
Revises: 0010_privacy
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0011_events"
down_revision: str | None = "0010_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("kind", "key", name="uq_events_kind_key"),
    )


def downgrade() -> None:
    op.drop_table("events")
