"""The ``baton`` command: users, tokens, organizations and hub maintenance.

Commands run in-process through typer's CliRunner (one also as a real subprocess, to check the
installed console script and BATON_DATA_DIR). They use SQLite in the data folder by default; one
test points BATON_DATABASE_URL at PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from baton.accounts import service as accounts
from baton.accounts.models import Account, ApiToken
from baton.cli.main import app
from baton.core.database import Database
from baton.core.errors import AuthenticationError
from baton.storage import LocalBlobStore


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BATON_* setting of the developer's shell may leak into a command."""
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder made as a newcomer makes one: ``baton init``."""
    folder = tmp_path / "data"
    result = CliRunner().invoke(app, ["init", "--data-dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(folder.resolve()) and folder.is_dir()
    return folder


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def run_ok(*args: str, env: dict[str, str] | None = None) -> Result:
    result = run(*args, env=env)
    assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


OpenDatabase = Callable[[], Database]


@pytest.fixture
def database(data_dir: Path) -> Iterator[OpenDatabase]:
    """Opens the SQLite database the commands use by default (call it after the first command)."""
    opened: list[Database] = []

    def get() -> Database:
        if not opened:
            opened.append(Database(f"sqlite:///{data_dir / 'baton.db'}"))
        return opened[0]

    yield get
    for item in opened:
        item.dispose()


def authenticate(database: Database, token: str) -> str:
    with database.session() as session:
        return accounts.authenticate(session, token).name


def account_names(database: Database) -> list[str]:
    with database.session() as session:
        return sorted(session.scalars(select(Account.name)))


def role_of(database: Database, user_name: str, org_name: str) -> str | None:
    with database.session() as session:
        user = accounts.act_as(session, user_name)
        return accounts.role_in_namespace(session, user, accounts.get_account(session, org_name))


# --- users ---------------------------------------------------------------------------------------


def test_user_create_prints_a_working_token_as_its_last_line(data_dir: Path, database: OpenDatabase) -> None:
    result = run_ok("user", "create", "dana", "--data-dir", str(data_dir))
    token = last_line(result)
    assert token.startswith("baton_")
    assert "created user" in result.stderr and "dana" in result.stderr
    assert token not in result.stderr  # shown once, on stdout only
    db = database()
    assert authenticate(db, token) == "dana"
    with db.session() as session:
        user = accounts.get_account(session, "dana")
        assert user.is_admin is False
        assert user.kind == "user"
    with pytest.raises(AuthenticationError), db.session() as session:
        accounts.authenticate(session, token + "x")


def test_user_create_admin_and_org_membership(data_dir: Path, database: OpenDatabase) -> None:
    run_ok("user", "create", "olive", "--admin", "--data-dir", str(data_dir))
    created = run_ok("user", "create", "pat", "--org", "team", "--data-dir", str(data_dir))
    assert "created organization" in created.stderr
    joined = run_ok("user", "create", "quinn", "--org", "team", "--role", "read", "--data-dir", str(data_dir))
    assert authenticate(database(), last_line(joined)) == "quinn"
    db = database()
    with db.session() as session:
        assert accounts.get_account(session, "olive").is_admin is True
        assert accounts.get_account(session, "pat").is_admin is False
        assert accounts.get_account(session, "team").kind == "org"
    assert role_of(db, "pat", "team") == "admin"  # who creates the organization administers it
    assert role_of(db, "quinn", "team") == "read"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["user", "create", "api"], "reserved"),
        (["user", "create", "Datasets"], "reserved"),
        (["user", "create", "../etc"], "not a valid"),
        (["user", "create", "x" * 200], "not a valid"),
        (["user", "create", "fresh", "--org", "models"], "reserved"),
        (["user", "create", "fresh", "--org", "first"], "is a user, not an organization"),
        (["user", "create", "fresh", "--org", "crew", "--role", "owner"], "Unknown role"),
        (["user", "create", "FIRST"], "taken"),
    ],
    ids=["reserved", "reserved-any-case", "path", "too-long", "reserved-org", "org-is-a-user", "bad-role", "taken"],
)
def test_bad_names_and_options_fail_clearly_and_create_nothing(
    data_dir: Path, database: OpenDatabase, args: list[str], expected: str
) -> None:
    run_ok("user", "create", "first", "--data-dir", str(data_dir))
    run_ok("org", "create", "crew", "--admin", "first", "--data-dir", str(data_dir))
    before = account_names(database())
    with database().session() as session:
        tokens_before = session.scalar(select(func.count()).select_from(ApiToken))

    result = run(*args, "--data-dir", str(data_dir))
    assert result.exit_code != 0
    assert expected in result.stderr
    assert "error" in result.stderr and "hint" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.strip() == ""  # no token printed
    assert account_names(database()) == before
    with database().session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == tokens_before


def test_user_token_issues_another_working_token(data_dir: Path, database: OpenDatabase) -> None:
    first = last_line(run_ok("user", "create", "rae", "--data-dir", str(data_dir)))
    second = last_line(run_ok("user", "token", "create", "rae", "--name", "laptop", "--data-dir", str(data_dir)))
    read_only = last_line(run_ok("user", "token", "create", "rae", "--read-only", "--data-dir", str(data_dir)))
    voter = last_line(
        run_ok(
            "user",
            "token",
            "create",
            "rae",
            "--name",
            "ballot",
            "--scope",
            "vote",
            "--expires-in",
            "7",
            "--data-dir",
            str(data_dir),
        )
    )
    assert len({first, second, read_only, voter}) == 4
    db = database()
    for token in (first, second, read_only, voter):
        assert authenticate(db, token) == "rae"
    with db.session() as session:
        rows = sorted((row.name, row.scopes) for row in session.scalars(select(ApiToken)))
        ballot = session.scalar(select(ApiToken).where(ApiToken.name == "ballot"))
        assert ballot is not None and (ballot.expires_at - ballot.created_at).days == 7
    assert rows == [
        ("ballot", "read,vote"),
        ("cli", "read"),
        ("cli", "read,write,admin,vote,review"),
        ("laptop", "read,write,admin,vote,review"),
    ]
    with db.session() as session:
        assert accounts.authenticate(session, read_only).scopes == frozenset({"read"})
    missing = run("user", "token", "create", "nobody", "--data-dir", str(data_dir))
    assert missing.exit_code != 0 and "nobody" in missing.stderr and missing.stdout.strip() == ""
    too_long = run("user", "token", "create", "rae", "--expires-in", "400", "--data-dir", str(data_dir))
    assert too_long.exit_code != 0 and "365" in too_long.stderr and too_long.stdout.strip() == ""


def test_user_tokens_are_listed_and_revoked(data_dir: Path, database: OpenDatabase) -> None:
    first = last_line(run_ok("user", "create", "sol", "--data-dir", str(data_dir)))
    listing = run_ok("user", "token", "list", "sol", "--data-dir", str(data_dir))
    assert first not in listing.stdout and first[:10] in listing.stdout and "active" in listing.stdout
    with database().session() as session:
        token_id = session.scalar(select(ApiToken.id))
    revoked = run_ok("user", "token", "revoke", "sol", str(token_id), "--data-dir", str(data_dir))
    assert "revoked" in revoked.stdout
    assert "revoked" in run_ok("user", "token", "list", "sol", "--data-dir", str(data_dir)).stdout
    with database().session() as session, pytest.raises(AuthenticationError):
        accounts.authenticate(session, first)
    unknown = run("user", "token", "revoke", "sol", "999999", "--data-dir", str(data_dir))
    assert unknown.exit_code != 0 and "baton user token list sol" in unknown.stderr


# --- organizations -------------------------------------------------------------------------------


def test_org_create_and_add(data_dir: Path, database: OpenDatabase) -> None:
    run_ok("user", "create", "sam", "--data-dir", str(data_dir))
    run_ok("user", "create", "tia", "--data-dir", str(data_dir))
    created = run_ok("org", "create", "guild", "--admin", "sam", "--data-dir", str(data_dir))
    assert "guild" in created.stdout
    run_ok("org", "add", "guild", "tia", "--data-dir", str(data_dir))
    db = database()
    assert role_of(db, "sam", "guild") == "admin"
    assert role_of(db, "tia", "guild") == "write"
    run_ok("org", "add", "guild", "tia", "--role", "read", "--data-dir", str(data_dir))
    assert role_of(db, "tia", "guild") == "read"

    for args, expected in (
        (["org", "create", "guild", "--admin", "sam"], "taken"),
        (["org", "create", "settings", "--admin", "sam"], "reserved"),
        (["org", "create", "other", "--admin", "ghost"], "ghost"),
        (["org", "add", "guild", "ghost"], "ghost"),
        (["org", "add", "guild", "tia", "--role", "boss"], "Unknown role"),
        (["org", "add", "sam", "tia"], "not an organization"),
        (["org", "add", "guild", "guild"], "only users"),
    ):
        result = run(*args, "--data-dir", str(data_dir))
        assert result.exit_code != 0, args
        assert expected in result.stderr, (args, result.stderr)
    assert account_names(db) == ["guild", "sam", "tia"]
    assert role_of(db, "tia", "guild") == "read"


# --- hub maintenance -----------------------------------------------------------------------------


def test_hub_gc_dry_run_reports_and_keeps(data_dir: Path) -> None:
    run_ok("user", "create", "uma", "--data-dir", str(data_dir))  # creates the data folder
    store = LocalBlobStore(data_dir / "blobs")
    orphan = store.put([b"uploaded but never committed"])
    old = time.time() - 2 * 24 * 3600
    os.utime(store.blob_path(orphan.sha256), (old, old))

    dry = run_ok("hub", "gc", "--dry-run", "--data-dir", str(data_dir))
    assert "would delete 1 blobs" in dry.stdout
    assert f"({orphan.size} bytes)" in dry.stdout
    assert store.exists(orphan.sha256)

    young = store.put([b"just uploaded"])
    kept = run_ok("hub", "gc", "--data-dir", str(data_dir))
    assert "deleted 1 blobs" in kept.stdout and "kept 1" in kept.stdout
    assert not store.exists(orphan.sha256)
    assert store.exists(young.sha256)  # inside the default grace period of a day

    run_ok("hub", "gc", "--grace-seconds", "0", "--data-dir", str(data_dir))
    assert not store.exists(young.sha256)


# --- configuration -------------------------------------------------------------------------------


def test_baton_data_dir_environment_variable_is_honoured(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-env"
    run_ok("init", env={"BATON_DATA_DIR": str(data_dir)})
    result = run_ok("user", "create", "vic", env={"BATON_DATA_DIR": str(data_dir)})
    assert (data_dir / "baton.db").is_file()
    database = Database(f"sqlite:///{data_dir / 'baton.db'}")
    try:
        assert authenticate(database, last_line(result)) == "vic"
    finally:
        database.dispose()
    # An explicit --data-dir wins over the environment.
    other = tmp_path / "explicit"
    run_ok("init", "--data-dir", str(other), env={"BATON_DATA_DIR": str(data_dir)})
    run_ok("user", "create", "vic", "--data-dir", str(other), env={"BATON_DATA_DIR": str(data_dir)})
    assert (other / "baton.db").is_file()


def test_console_script_in_a_subprocess(tmp_path: Path) -> None:
    data_dir = tmp_path / "subprocess"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    environment["BATON_DATA_DIR"] = str(data_dir)
    script = Path(sys.executable).parent / "baton"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "baton.cli.main"]
    initialised = subprocess.run([*command, "init"], env=environment, capture_output=True, text=True, timeout=60)
    assert initialised.returncode == 0 and initialised.stdout.strip() == str(data_dir.resolve()), initialised.stderr
    created = subprocess.run(
        [*command, "user", "create", "wes", "--admin"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    refused = subprocess.run(
        [*command, "user", "create", "api"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0
    assert "reserved" in refused.stderr and refused.stdout == ""
    database = Database(f"sqlite:///{data_dir / 'baton.db'}")
    try:
        assert authenticate(database, token) == "wes"
        assert account_names(database) == ["wes"]
    finally:
        database.dispose()


def test_commands_use_postgresql_from_baton_database_url(postgres_url: str, tmp_path: Path) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    env = {"BATON_DATABASE_URL": postgres_url, "BATON_DATA_DIR": str(tmp_path / "data")}
    run_ok("init", env=env)
    created = run_ok("user", "create", name, "--org", f"{name}-org", env=env)
    token = last_line(created)
    assert not (tmp_path / "data" / "baton.db").exists()  # nothing went to SQLite
    database = Database(postgres_url)
    try:
        assert authenticate(database, token) == name
        assert role_of(database, name, f"{name}-org") == "admin"
    finally:
        database.dispose()
    refused = run("user", "create", name, env=env)
    assert refused.exit_code != 0 and "taken" in refused.stderr


def test_a_command_where_there_is_no_data_folder_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("jobs", "list")
    assert result.exit_code == 2
    assert "No Baton data folder at" in result.stderr and str(tmp_path / "baton-data") in result.stderr.replace(
        "\n", ""
    )
    assert "baton init --data-dir" in result.stderr.replace("\n", " ")
    assert not (tmp_path / "baton-data").exists()  # nothing made on the way
    elsewhere = tmp_path / "elsewhere"
    result = run("user", "create", "dana", "--data-dir", str(elsewhere))
    assert result.exit_code == 2 and "--data-dir / BATON_DATA_DIR" in result.stderr and not elsewhere.exists()


def test_serve_and_demo_check_their_port_before_any_work(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "demo"):
            folder = tmp_path / command
            result = run(command, "--port", str(port), "--data-dir", str(folder))
            assert result.exit_code == 2, result.output
            assert f"Port {port} on 127.0.0.1 is not free" in result.stderr
            assert f"baton {command} --port {port + 1}" in result.stderr
            assert not folder.exists() and "token" not in result.output  # nothing loaded, no tokens printed


def test_hints_keep_their_brackets() -> None:
    import typer

    from baton.cli.common import fail
    from baton.core.errors import ConfigurationError

    broken = typer.Typer()

    @broken.command()
    def backend() -> None:
        fail(ConfigurationError("The 'hf' backend needs torch", hint="Install the ML extras: pip install 'baton[ml]'"))

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 2 and "pip install 'baton[ml]'" in result.stderr  # Rich would eat "[ml]"
