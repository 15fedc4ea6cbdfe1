"""repos.variant_kind: the kind of variant a model repo's card declares (issue 19)

Revision ID: 0022_variant_kind
Revises: 0021_search_speed

Set from the card's ``variant.kind`` on each commit to the default branch (``baton.hub.variants``),
for the listings' filters. Repos whose stored card already holds a ``variant:`` block with a known
kind get it here; the others stay NULL.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_variant_kind"
down_revision: str | None = "0021_search_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("quantized", "pruned", "distilled", "onnx", "compiled")  # baton.hub.variants.KINDS when written


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch (which on SQLite would copy repos, whose many children cascade).
    op.add_column("repos", sa.Column("variant_kind", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_repos_variant_kind"), "repos", ["variant_kind"], unique=False)
    repos = sa.table(
        "repos",
        sa.column("id", sa.Integer()),
        sa.column("repo_type", sa.String()),
        sa.column("card_data", sa.JSON()),
        sa.column("variant_kind", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(repos.c.id, repos.c.card_data).where(
            repos.c.repo_type == "model", sa.cast(repos.c.card_data, sa.Text()).like('%"variant"%')
        )
    ).all()
    for repo_id, card_data in rows:
        card = json.loads(card_data) if isinstance(card_data, str) else card_data
        block = card.get("variant") if isinstance(card, dict) else None
        kind = block.get("kind") if isinstance(block, dict) else None
        if kind in KINDS:
            connection.execute(sa.update(repos).where(repos.c.id == repo_id).values(variant_kind=kind))


def downgrade() -> None:
    op.drop_index(op.f("ix_repos_variant_kind"), table_name="repos")
    # SQLite 3.35+ drops a column in place; a batch would copy repos (see upgrade).
    op.execute("ALTER TABLE repos DROP COLUMN variant_kind")
