"""Database engine, sessions and migrations.

SQLite (WAL) is the embedded default; PostgreSQL is used when ``BATON_DATABASE_URL`` points at
it. The schema is owned by Alembic migrations (``baton/migrations``, run through
``baton.domains.migrate``, which knows every domain's tables) on every start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from baton.core import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time from Baton's one clock (:mod:`baton.core.clock`), in UTC."""
    return clock.now()


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while one writer commits; busy_timeout makes concurrent writers
    # wait instead of failing at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # Take transaction control from pysqlite so the "begin" listener decides how to BEGIN.
    dbapi_connection.isolation_level = None


def _on_sqlite_begin(conn: Any) -> None:
    # Writers BEGIN IMMEDIATE: they take the write lock up front and wait on busy_timeout,
    # instead of failing when a deferred read transaction tries to upgrade. Readers BEGIN
    # deferred, so in WAL mode they never wait for a writer.
    immediate = conn.get_execution_options().get("baton_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A file database keeps a pool of open connections, so that opening the file and the
        # PRAGMAs below are paid once per connection, not once per request (each request opens
        # a session or two). A connection serves one thread at a time; the pool is as large as
        # the server's worker threads. An in-memory database keeps SQLAlchemy's default.
        pooling: dict[str, Any] = {} if ":memory:" in url else {"pool_size": 10, "max_overflow": 30}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooling)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def alembic_config(engine: Engine, script_location: Path, metadata: MetaData) -> Config:
    """An Alembic configuration for ``engine``; the caller (``baton.domains``) knows the scripts and schema."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["engine"] = engine
    config.attributes["metadata"] = metadata
    return config


def upgrade(config: Config, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (by default the newest; idempotent)."""
    command.upgrade(config, revision)


class Database:
    """An engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.write_session_factory = sessionmaker(
            self.engine.execution_options(baton_write=True), expire_on_commit=False
        )

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error.

        Pass ``write=True`` for work that writes: on SQLite it takes the write lock at BEGIN.
        """
        session = (self.write_session_factory if write else self.session_factory)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
