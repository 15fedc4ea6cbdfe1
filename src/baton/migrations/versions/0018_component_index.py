"""component index: one vector per (fingerprinted revision, component) for candidate search

Revision ID: 0018_component_index
Revises: 0017_provenance_scans

Revisions fingerprinted before this table existed get their component prints the next time
they are fingerprinted (a scan of that revision); until then they are found by digest and width.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_component_index"
down_revision: str | None = "0017_provenance_scans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provenance_component_prints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=40), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            ["provenance_fingerprints.id"],
            name=op.f("fk_provenance_component_prints_fingerprint_id_provenance_fingerprints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provenance_component_prints")),
    )
    op.create_index(
        op.f("ix_provenance_component_prints_fingerprint_id"),
        "provenance_component_prints",
        ["fingerprint_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_provenance_component_prints_signature"), "provenance_component_prints", ["signature"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_provenance_component_prints_signature"), table_name="provenance_component_prints")
    op.drop_index(op.f("ix_provenance_component_prints_fingerprint_id"), table_name="provenance_component_prints")
    op.drop_table("provenance_component_prints")
