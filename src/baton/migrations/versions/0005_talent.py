"""talent pool: profiles, consents, audience, openings, preferences, reviews, invitations, placements

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import baton.core.database

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talent_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("challenge", sa.String(length=96), nullable=False),
        sa.Column("team", sa.String(length=96), nullable=False),
        sa.Column("stage", sa.String(length=96), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["accounts.id"], name=op.f("fk_talent_invitations_user_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_invitations")),
        sa.UniqueConstraint("user_id", "challenge", "team", name=op.f("uq_talent_invitations_user_id")),
    )
    with op.batch_alter_table("talent_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_invitations_user_id"), ["user_id"], unique=False)

    op.create_table(
        "talent_matching_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("blocking_pairs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["accounts.id"],
            name=op.f("fk_talent_matching_runs_started_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_matching_runs")),
    )
    op.create_table(
        "talent_openings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("preferred_skills", sa.JSON(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("closes_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["accounts.id"],
            name=op.f("fk_talent_openings_created_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["accounts.id"],
            name=op.f("fk_talent_openings_organization_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_openings")),
    )
    with op.batch_alter_table("talent_openings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_openings_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_openings_status"), ["status"], unique=False)

    op.create_table(
        "talent_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("headline", sa.String(length=300), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("education", sa.JSON(), nullable=False),
        sa.Column("career", sa.JSON(), nullable=False),
        sa.Column("publications", sa.JSON(), nullable=False),
        sa.Column("patents", sa.JSON(), nullable=False),
        sa.Column("desired_roles", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("earliest_start", sa.Date(), nullable=True),
        sa.Column("service_status", sa.String(length=32), nullable=True),
        sa.Column("service_until", sa.Date(), nullable=True),
        sa.Column("former_challenge", sa.String(length=96), nullable=True),
        sa.Column("former_team", sa.String(length=96), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("automated_recommendation", sa.Boolean(), nullable=False),
        sa.Column("suspended_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retain_until", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["accounts.id"], name=op.f("fk_talent_profiles_user_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_profiles")),
    )
    with op.batch_alter_table("talent_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_profiles_public_id"), ["public_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_talent_profiles_retain_until"), ["retain_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_profiles_user_id"), ["user_id"], unique=True)

    op.create_table(
        "talent_audience",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["accounts.id"],
            name=op.f("fk_talent_audience_organization_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_audience_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_audience")),
        sa.UniqueConstraint("profile_id", "organization_id", "kind", name=op.f("uq_talent_audience_profile_id")),
    )
    with op.batch_alter_table("talent_audience", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_audience_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_audience_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("granted_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_consents_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["accounts.id"], name=op.f("fk_talent_consents_recipient_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_consents")),
    )
    with op.batch_alter_table("talent_consents", schema=None) as batch_op:
        batch_op.create_index("ix_talent_consents_profile_purpose", ["profile_id", "purpose"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_consents_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "talent_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), nullable=False),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["talent_openings.id"],
            name=op.f("fk_talent_matches_opening_id_talent_openings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_matches_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["talent_matching_runs.id"],
            name=op.f("fk_talent_matches_run_id_talent_matching_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_matches")),
    )
    with op.batch_alter_table("talent_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_matches_opening_id"), ["opening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_matches_profile_id"), ["profile_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_matches_run_id"), ["run_id"], unique=False)

    op.create_table(
        "talent_opening_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["talent_openings.id"],
            name=op.f("fk_talent_opening_preferences_opening_id_talent_openings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_opening_preferences_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_opening_preferences")),
        sa.UniqueConstraint("opening_id", "profile_id", name=op.f("uq_talent_opening_preferences_opening_id")),
    )
    with op.batch_alter_table("talent_opening_preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_opening_preferences_opening_id"), ["opening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_opening_preferences_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_person_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["talent_openings.id"],
            name=op.f("fk_talent_person_preferences_opening_id_talent_openings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_person_preferences_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_person_preferences")),
        sa.UniqueConstraint("profile_id", "opening_id", name=op.f("uq_talent_person_preferences_profile_id")),
    )
    with op.batch_alter_table("talent_person_preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_person_preferences_opening_id"), ["opening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_person_preferences_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("opening_id", sa.Integer(), nullable=True),
        sa.Column("former_challenge", sa.String(length=96), nullable=True),
        sa.Column("former_team", sa.String(length=96), nullable=True),
        sa.Column("recorded_by", sa.String(length=8), nullable=False),
        sa.Column("placed_month", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["talent_openings.id"],
            name=op.f("fk_talent_placements_opening_id_talent_openings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_placements_profile_id_talent_profiles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_placements")),
    )
    with op.batch_alter_table("talent_placements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_placements_former_team"), ["former_team"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_placements_opening_id"), ["opening_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_placements_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_requests_profile_id_talent_profiles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_requests")),
    )
    with op.batch_alter_table("talent_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_requests_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_requests_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "talent_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", baton.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["accounts.id"],
            name=op.f("fk_talent_reviews_answered_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_reviews_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_reviews")),
    )
    with op.batch_alter_table("talent_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_reviews_profile_id"), ["profile_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_reviews_status"), ["status"], unique=False)

    op.create_table(
        "talent_provisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("provided_at", baton.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["talent_consents.id"],
            name=op.f("fk_talent_provisions_consent_id_talent_consents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["talent_profiles.id"],
            name=op.f("fk_talent_provisions_profile_id_talent_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["accounts.id"],
            name=op.f("fk_talent_provisions_recipient_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_provisions")),
    )
    with op.batch_alter_table("talent_provisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talent_provisions_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_provisions_profile_id"), ["profile_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talent_provisions_recipient_id"), ["recipient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("talent_provisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_provisions_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_talent_provisions_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_provisions_consent_id"))

    op.drop_table("talent_provisions")
    with op.batch_alter_table("talent_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_reviews_status"))
        batch_op.drop_index(batch_op.f("ix_talent_reviews_profile_id"))

    op.drop_table("talent_reviews")
    with op.batch_alter_table("talent_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_requests_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_requests_kind"))

    op.drop_table("talent_requests")
    with op.batch_alter_table("talent_placements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_placements_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_placements_opening_id"))
        batch_op.drop_index(batch_op.f("ix_talent_placements_former_team"))

    op.drop_table("talent_placements")
    with op.batch_alter_table("talent_person_preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_person_preferences_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_person_preferences_opening_id"))

    op.drop_table("talent_person_preferences")
    with op.batch_alter_table("talent_opening_preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_opening_preferences_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_opening_preferences_opening_id"))

    op.drop_table("talent_opening_preferences")
    with op.batch_alter_table("talent_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_matches_run_id"))
        batch_op.drop_index(batch_op.f("ix_talent_matches_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_matches_opening_id"))

    op.drop_table("talent_matches")
    with op.batch_alter_table("talent_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_consents_recipient_id"))
        batch_op.drop_index("ix_talent_consents_profile_purpose")

    op.drop_table("talent_consents")
    with op.batch_alter_table("talent_audience", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_audience_profile_id"))
        batch_op.drop_index(batch_op.f("ix_talent_audience_organization_id"))

    op.drop_table("talent_audience")
    with op.batch_alter_table("talent_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_profiles_user_id"))
        batch_op.drop_index(batch_op.f("ix_talent_profiles_retain_until"))
        batch_op.drop_index(batch_op.f("ix_talent_profiles_public_id"))

    op.drop_table("talent_profiles")
    with op.batch_alter_table("talent_openings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_openings_status"))
        batch_op.drop_index(batch_op.f("ix_talent_openings_organization_id"))

    op.drop_table("talent_openings")
    op.drop_table("talent_matching_runs")
    with op.batch_alter_table("talent_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_invitations_user_id"))

    op.drop_table("talent_invitations")
