"""token scopes and expiry: tokens carry scopes (read, write, admin, vote, review) and expire

Existing tokens keep their rights: a "write" token gets every scope, a "read" token only "read".
They had no expiry; they get the default lifetime (90 days) from the upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALL_SCOPES = "read,write,admin,vote,review"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("expires_at", baton.core.database.UTCDateTime(timezone=True), nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("role", sa.String()),
        sa.column("scopes", sa.String()),
        sa.column("expires_at", baton.core.database.UTCDateTime(timezone=True)),
    )
    expires = datetime.now(UTC) + timedelta(days=90)
    op.execute(tokens.update().where(tokens.c.role == "read").values(scopes="read"))
    op.execute(tokens.update().where(tokens.c.role != "read").values(scopes=_ALL_SCOPES))
    op.execute(tokens.update().values(expires_at=expires))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scopes", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("expires_at", existing_type=baton.core.database.UTCDateTime(timezone=True), nullable=False)
        batch.drop_column("role")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(length=8), nullable=True))
    tokens = sa.table("api_tokens", sa.column("role", sa.String()), sa.column("scopes", sa.String()))
    op.execute(tokens.update().where(tokens.c.scopes.contains("write")).values(role="write"))
    op.execute(tokens.update().where(~tokens.c.scopes.contains("write")).values(role="read"))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("role", existing_type=sa.String(length=8), nullable=False)
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
