"""The Alembic migrations and the models describe the same schema, with one head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from baton import domains
from baton.core.database import Database
from baton.core.runtime import Runtime
from baton.domains import alembic_config


def test_migrations_have_one_head(runtime: Runtime) -> None:
    script = ScriptDirectory.from_config(alembic_config(runtime.database.engine))
    assert len(script.get_heads()) == 1, f"merge the migration heads: {script.get_heads()}"


def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    # The runtime's database was migrated by the fixtures (a template on SQLite, a schema on
    # PostgreSQL): autogenerate must find nothing left to do.
    database: Database = runtime.database
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, domains.metadata())
    assert differences == [], f"models and migrations differ: {differences}"
