"""merge the challenge, talent, release and evaluation branches

The four domains were built side by side, each branching from 0003; this revision joins them so
later migrations have one parent. It changes nothing in the schema.

Revision ID: 0008
Revises: 0004, 0005, 0006, 0007
Create Date: 2026-11-28 01:05:00
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | Sequence[str] | None = ("0004", "0005", "0006", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
