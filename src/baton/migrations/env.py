"""Alembic environment: runs migrations on the engine Baton hands over."""

from __future__ import annotations

from alembic import context

config = context.config
engine = config.attributes["engine"]
metadata = config.attributes["metadata"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
