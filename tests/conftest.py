"""Shared fixtures: databases (SQLite and PostgreSQL), runtimes, in-process and live servers, S3.

Every test that asks for ``runtime`` (or anything built on it) runs twice: once on SQLite and
once on the local PostgreSQL (127.0.0.1:5432, database ``test``). Each pytest worker gets its
own PostgreSQL schema, migrated once and emptied between tests. ``s3_endpoint`` starts one
moto S3 server process per pytest worker, for the blob store tests and the hub on S3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from baton import domains
from baton.accounts import service as accounts
from baton.app import create_app
from baton.core import clock
from baton.core.database import Database
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.domains import migrate, open_runtime

# Test helpers live in live_servers.py (a module name no conftest.py shadows): import them from there.
from live_servers import LiveServer, free_port

POSTGRES_URL = os.environ.get("BATON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("BATON_TEST_REQUIRE_POSTGRES") == "1"  # .ci/run sets it


def _postgres_problem() -> str | None:
    """None when the test PostgreSQL answers; otherwise why it does not (one line)."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as error:  # noqa: BLE001 - any failure means "not available", said in its own words
        return (str(error).strip().splitlines() or [type(error).__name__])[0]


POSTGRES_PROBLEM = _postgres_problem()
# Every database test runs on SQLite, and on PostgreSQL when one answers.
DATABASES = ["sqlite"] if POSTGRES_PROBLEM else ["sqlite", "postgresql"]
POSTGRES_SKIPPED = (
    f"PostgreSQL skipped: {POSTGRES_URL} did not answer ({POSTGRES_PROBLEM}); the database tests ran on "
    "SQLite only. To run them on PostgreSQL too, start one there (trust auth, database `test`) or set "
    "BATON_TEST_POSTGRES_URL=postgresql://USER@HOST:PORT/DB; `.ci/run` requires it."
)


def pytest_configure(config: pytest.Config) -> None:
    if POSTGRES_PROBLEM and REQUIRE_POSTGRES:
        pytest.exit(f"BATON_TEST_REQUIRE_POSTGRES=1, but {POSTGRES_SKIPPED}", returncode=3)


def pytest_report_header(config: pytest.Config) -> str:
    return POSTGRES_SKIPPED if POSTGRES_PROBLEM else f"databases: SQLite and PostgreSQL ({POSTGRES_URL})"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if POSTGRES_PROBLEM:
        terminalreporter.write_line(POSTGRES_SKIPPED, yellow=True, bold=True)

# The HF clients must never reach the internet, and must not try Xet.
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "live_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (cheaper than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "baton.db"
    database = Database(f"sqlite:///{path}")
    migrate(database.engine)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    if POSTGRES_PROBLEM:
        pytest.skip(POSTGRES_SKIPPED)
    schema = f"baton_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = Database(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    database = Database(url)
    migrate(database.engine)
    database.dispose()
    yield url
    with admin.engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "baton.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    database = Database(url)
    tables = ", ".join(f'"{table.name}"' for table in domains.metadata().sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()
    yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings, run_migrations=False)
    yield runtime
    runtime.close()


@pytest.fixture
def fake_clock() -> Iterator[clock.ManualClock]:
    """Baton's one clock, stopped at a fixed moment; tests move it with ``advance`` instead of sleeping."""
    with clock.frozen(datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) as manual:
        yield manual


class Tokens(dict[str, str]):
    """User name -> API token for the users made by the ``users`` fixture."""

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self[name]}"}


@pytest.fixture
def users(runtime: Runtime) -> Tokens:
    """alice (site admin), bob and carol; organization 'lab' (alice admin, bob write)."""
    tokens = Tokens()
    with runtime.database.session(write=True) as session:
        alice = accounts.create_user(session, "alice", is_admin=True)
        bob = accounts.create_user(session, "bob")
        carol = accounts.create_user(session, "carol")
        lab = accounts.create_organization(session, "lab", creator=alice)
        accounts.set_membership(session, lab, bob, "write")
        for user in (alice, bob, carol):
            tokens[user.name] = accounts.issue_token(session, user).value
    return tokens


@pytest.fixture
def client(runtime: Runtime) -> Iterator[httpx.Client]:
    """An in-process client: HTTP requests go straight into the ASGI app."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(runtime=runtime), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright (its own browser download is not reachable), headless."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        yield launched
        launched.close()


@pytest.fixture
def live_server(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A real uvicorn server on a free loopback port, with HF_ENDPOINT pointing at it."""
    server = LiveServer(runtime)
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


# S3: a real S3-protocol server (moto's server mode) for the blob store tests and the hub on S3.

TEST_BUCKET = "baton-test"
# Dummy credentials and a fixed region; the config files are pointed away so that a
# developer's own AWS setup can never leak into (or be touched by) the tests.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
AWS_VARIABLES_TO_CLEAR = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "BATON_S3_ENDPOINT_URL")


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {url} within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server process on a free loopback port, with fake AWS credentials set."""
    folder = tmp_path_factory.mktemp("moto")
    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_VARIABLES_TO_CLEAR:
            patch.delenv(name, raising=False)
        for name, value in FAKE_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(folder / "aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "aws-credentials"))
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log_path = folder / "moto.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_answering(f"{endpoint}/moto-api/", process, log_path)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=TEST_BUCKET)
    return TEST_BUCKET
