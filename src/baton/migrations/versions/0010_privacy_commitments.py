"""privacy: sealed names of private repos and open battles (commitments, their openings)

- ``challenge_openings``: the committed value and salt behind each commitment the public ledger
  carries (a private repo's (repo, revision), a battle's teams and answers), and when it was revealed;
- ``challenge_submissions.commitment``: set when the ledger names a submission by its sealed name;
- ``provenance_reports.reference_repo_id`` and ``reference_salt``: who may see a report's reference
  is decided from the repo itself, and the public view names a private one by a commitment.
  Existing reports get their reference repo looked up by name and a fresh salt.

Revision ID: 0010_privacy
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0010_privacy"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenge_openings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("pseudonym", sa.String(length=40), nullable=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=True),
        sa.Column("revision", sa.String(length=40), nullable=True),
        sa.Column("battle", sa.String(length=40), nullable=True),
        sa.Column("revealed_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge_challenges.id"],
            name=op.f("fk_challenge_openings_challenge_id_challenge_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repo_pk"], ["repos.id"], name=op.f("fk_challenge_openings_repo_pk_repos"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_openings")),
        sa.UniqueConstraint("challenge_id", "commitment", name=op.f("uq_challenge_openings_challenge_id")),
    )
    with op.batch_alter_table("challenge_openings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenge_openings_challenge_id"), ["challenge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenge_openings_repo_pk"), ["repo_pk"], unique=False)

    with op.batch_alter_table("challenge_submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commitment", sa.String(length=64), nullable=True))

    with op.batch_alter_table("provenance_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_repo_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reference_salt", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_provenance_reports_reference_repo_id_repos"),
            "repos",
            ["reference_repo_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _backfill_reports()
    with op.batch_alter_table("provenance_reports", schema=None) as batch_op:
        batch_op.alter_column("reference_salt", existing_type=sa.String(length=64), nullable=False)


def _backfill_reports() -> None:
    """Existing reports: the reference repo found by its name ("namespace/name@commit"), a fresh salt each."""
    bind = op.get_bind()
    reports = sa.table(
        "provenance_reports",
        sa.column("id", sa.Integer()),
        sa.column("reference", sa.String()),
        sa.column("reference_repo_id", sa.Integer()),
        sa.column("reference_salt", sa.String()),
    )
    repos = sa.table(
        "repos",
        sa.column("id", sa.Integer()),
        sa.column("repo_type", sa.String()),
        sa.column("namespace", sa.String()),
        sa.column("name", sa.String()),
    )
    found: dict[str, int | None] = {}
    for report_id, reference in bind.execute(sa.select(reports.c.id, reports.c.reference)).all():
        name = str(reference).rpartition("@")[0]
        if name not in found:
            namespace, _, repo_name = name.partition("/")
            found[name] = bind.execute(
                sa.select(repos.c.id).where(
                    repos.c.repo_type == "model", repos.c.namespace == namespace, repos.c.name == repo_name
                )
            ).scalar()
        bind.execute(
            sa.update(reports)
            .where(reports.c.id == report_id)
            .values(reference_repo_id=found[name], reference_salt=secrets.token_hex(32))
        )


def downgrade() -> None:
    with op.batch_alter_table("provenance_reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_provenance_reports_reference_repo_id_repos"), type_="foreignkey")
        batch_op.drop_column("reference_salt")
        batch_op.drop_column("reference_repo_id")

    with op.batch_alter_table("challenge_submissions", schema=None) as batch_op:
        batch_op.drop_column("commitment")

    with op.batch_alter_table("challenge_openings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_openings_repo_pk"))
        batch_op.drop_index(batch_op.f("ix_challenge_openings_challenge_id"))

    op.drop_table("challenge_openings")
