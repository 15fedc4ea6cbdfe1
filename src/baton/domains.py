"""The composition root: the domains that make up Baton, in layer order, built once per process.

``create_app``, the CLI and the workers call :func:`build_registry` (through :func:`open_runtime`)
and so see the same tables, routers, job kinds, events and event handlers. Each domain declares
what it brings in its own ``domain.py``; this module only lists them. The layers, lowest first
(a domain imports only from the layers below it; see ``docs/architecture.md``)::

    core < accounts, storage < hub < provenance, evaluation < challenge < commons, talent < variants < web
    < app, cli, demo
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine, MetaData

from baton.accounts import domain as accounts_domain
from baton.challenge import domain as challenge_domain
from baton.commons import domain as commons_domain
from baton.core import database
from baton.core.ratelimit import RateLimiter, parse_limits
from baton.core.registry import Registry
from baton.core.runtime import Runtime, secret_key
from baton.core.settings import Settings
from baton.core.signing import UrlSigner
from baton.evaluation import domain as evaluation_domain
from baton.hub import domain as hub_domain
from baton.provenance import domain as provenance_domain
from baton.storage import open_blob_store
from baton.talent import domain as talent_domain
from baton.variants import domain as variants_domain
from baton.web import domain as web_domain

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# (name, register), lowest layer first: the order routers are matched in, after ``core``.
DOMAINS: tuple[tuple[str, Callable[[Registry], None]], ...] = (
    ("accounts", accounts_domain.register),
    ("hub", hub_domain.register),
    ("provenance", provenance_domain.register),
    ("evaluation", evaluation_domain.register),
    ("challenge", challenge_domain.register),
    ("commons", commons_domain.register),
    ("talent", talent_domain.register),
    ("variants", variants_domain.register),
    ("web", web_domain.register),
)


def build_registry(*, event_max_attempts: int | None = None) -> Registry:
    """A registry holding every domain's tables, routers, job kinds, events and handlers."""
    registry = Registry() if event_max_attempts is None else Registry(event_max_attempts=event_max_attempts)
    for name, register in DOMAINS:
        registry.add_domain(name, register)
    return registry


@cache
def metadata() -> MetaData:
    """Every domain's tables (registering the domains imports their models)."""
    build_registry()
    return database.Base.metadata


def alembic_config(engine: Engine) -> Config:
    return database.alembic_config(engine, MIGRATIONS_DIR, metadata())


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring ``engine``'s schema to ``revision`` (by default the newest; idempotent)."""
    database.upgrade(alembic_config(engine), revision)


def open_runtime(settings: Settings, *, run_migrations: bool = True) -> Runtime:
    """Everything a server, worker or CLI command needs, with the schema brought up to date."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    db = database.Database(settings.resolved_database_url)
    if run_migrations:
        migrate(db.engine)
    return Runtime(
        settings=settings,
        database=db,
        store=open_blob_store(settings.storage_url, Path(settings.data_dir)),
        signer=UrlSigner(secret_key(settings)),
        rate_limiter=RateLimiter(parse_limits(settings.rate_limits)),
        registry=build_registry(event_max_attempts=settings.event_max_attempts),
    )
