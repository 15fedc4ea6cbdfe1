"""repo search: the hub's term index of repo names, tags and card text

Revision ID: 0014_repo_search
Revises: 0013_web_sign_in

The table starts empty: ``baton hub reindex`` fills it for repos that existed before (it reads
each card from the blob store, which a migration cannot); new commits, renames and deletions
keep it up to date from then on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_repo_search"
down_revision: str | None = "0013_web_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repo_terms",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=8), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_terms_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", "field", "term", name=op.f("pk_repo_terms")),
    )
    op.create_index("ix_repo_terms_field_term", "repo_terms", ["field", "term", "repo_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_repo_terms_field_term", table_name="repo_terms")
    op.drop_table("repo_terms")
