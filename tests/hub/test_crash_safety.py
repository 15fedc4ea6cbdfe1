"""A real ``baton serve`` process killed with SIGKILL mid-upload and mid-commit.

Design promise: an upload or a commit lands whole or not at all. Here the server is killed
without warning (no cleanup code runs), restarted on the same data folder and database, and the
visible state is checked: no partial blob, no half-applied commit, and the same work then
succeeds. Runs on SQLite and PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import huggingface_hub
import pytest
from huggingface_hub import HfApi

pytestmark = pytest.mark.integration

# The ``baton`` command of the environment running the tests (the venv's bin folder).
BATON = Path(sys.executable).with_name("baton")
MIB = 1024 * 1024
LFS_JSON = "application/vnd.git-lfs+json"
START_TIMEOUT = 60
UPLOAD_SIZE = 200 * MIB
KILL_UPLOAD_AFTER = 80 * MIB  # bytes handed to the socket before the server is killed
COMMIT_FILES = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BatonServer:
    """``baton serve`` as a child process: started, SIGKILLed and restarted on the same data."""

    data_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0
    _log: Any = field(default=None, repr=False)

    def run_cli(self, *args: str) -> str:
        completed = subprocess.run(
            [str(BATON), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        for _try in range(3):  # another process may grab the free port before the server binds it
            if self._start_on(free_port()):
                return
        raise RuntimeError(f"baton serve found no free port:\n{self.log_tail()}")

    def _start_on(self, port: int) -> bool:
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- start {self.starts} on port {port}\n".encode())
        self._log.flush()
        log_start = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [str(BATON), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(self.data_dir)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                self.kill()
                this_start = self.log_path.read_bytes()[log_start:].decode(errors="replace")
                if "address already in use" in this_start.lower():
                    return False
                raise RuntimeError(f"baton serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"baton serve did not answer in {START_TIMEOUT}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a power cut of the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[BatonServer]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BATON_", "HF_"))}
    env["BATON_DATABASE_URL"] = database_url
    instance = BatonServer(data_dir=tmp_path / "data", env=env, log_path=tmp_path / "server.log")
    instance.run_cli("init")  # as an operator sets one up: only init, serve and demo make a data folder
    try:
        yield instance
    finally:
        instance.kill()


def create_user(server: BatonServer, name: str) -> str:
    """``baton user create``; the token is the last line it prints."""
    return server.run_cli("user", "create", name).strip().splitlines()[-1]


def blob_path(server: BatonServer, sha256: str) -> Path:
    """Where the local store keeps a complete blob (see baton.storage.local)."""
    return server.data_dir / "blobs" / "blobs" / sha256[:2] / sha256[2:4] / sha256


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post_commit(
    server: BatonServer, token: str, repo_id: str, lines: list[dict[str, Any]], timeout: float = 120
) -> httpx.Response:
    """The NDJSON commit exactly as huggingface_hub's create_commit sends it."""
    header = {"key": "header", "value": {"summary": "many small files", "description": ""}}
    payload = b"\n".join(json.dumps(line).encode() for line in [header, *lines])
    return httpx.post(
        f"{server.url}/api/models/{repo_id}/commit/main",
        content=payload,
        headers={**_auth(token), "Content-Type": "application/x-ndjson"},
        timeout=timeout,
    )


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# (a) SIGKILL in the middle of an LFS upload ------------------------------------------------------


def write_big_file(path: Path, size: int) -> str:
    """``size`` bytes that compress badly and differ per MiB; returns their sha256."""
    block = bytearray(os.urandom(MIB))
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for index in range(size // MIB):
            block[:8] = index.to_bytes(8, "big")
            digest.update(block)
            handle.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def lfs_batch(server: BatonServer, token: str, repo_id: str, oid: str, size: int) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size}],
            "hash_algo": "sha256",
        },
        headers={"Authorization": f"Bearer {token}", "Accept": LFS_JSON, "Content-Type": LFS_JSON},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    (answer,) = response.json()["objects"]
    assert answer["oid"] == oid and "error" not in answer, answer
    return dict(answer)


def partial_uploads(server: BatonServer) -> list[int]:
    """Sizes of the files the store is still receiving (its tmp/ folder)."""
    folder = server.data_dir / "blobs" / "tmp"
    return [entry.stat().st_size for entry in folder.iterdir()] if folder.is_dir() else []


def test_sigkill_during_lfs_upload_leaves_no_blob(server: BatonServer, tmp_path: Path) -> None:
    token = create_user(server, "bob")
    source = tmp_path / "big.dat"
    oid = write_big_file(source, UPLOAD_SIZE)
    server.start()
    HfApi(endpoint=server.url, token=token).create_repo("bob/big")
    head_before = httpx.get(f"{server.url}/api/models/bob/big", headers=_auth(token), timeout=30).json()["sha"]

    answer = lfs_batch(server, token, "bob/big", oid, UPLOAD_SIZE)
    upload_href = answer["actions"]["upload"]["href"]
    killed_at: dict[str, int] = {}

    def body() -> Iterator[bytes]:
        sent = 0
        with source.open("rb") as handle:
            while chunk := handle.read(MIB):
                yield chunk
                sent += len(chunk)
                if sent == KILL_UPLOAD_AFTER:
                    # Kill only once the server is visibly writing the body to a temporary file.
                    wait_until(
                        lambda: max(partial_uploads(server), default=0) >= KILL_UPLOAD_AFTER // 2,
                        30,
                        "the server to receive part of the body",
                    )
                    server.kill()
                    killed_at["sent"] = sent
                    killed_at["received"] = max(partial_uploads(server))

    with pytest.raises(httpx.TransportError):
        httpx.put(upload_href, content=body(), headers={"Content-Length": str(UPLOAD_SIZE)}, timeout=60)
    assert killed_at, "the server was not killed during the upload"
    assert 0 < killed_at["received"] < UPLOAD_SIZE
    assert not blob_path(server, oid).exists()
    # The interrupted body is left in tmp/. Age it past the server's one-hour limit, so that the
    # restart's cleanup of dead temporaries removes it.
    temporaries = list((server.data_dir / "blobs" / "tmp").iterdir())
    assert temporaries
    two_hours_ago = time.time() - 7200
    for temporary in temporaries:
        os.utime(temporary, (two_hours_ago, two_hours_ago))

    server.start()
    assert partial_uploads(server) == [], "the restart did not clear the interrupted upload"
    # The partial bytes are not a blob: not in blobs/, the batch API still asks for them, the
    # verify link and a commit naming them are refused, and the file is nowhere in the repo.
    assert not blob_path(server, oid).exists()
    assert not list((server.data_dir / "blobs" / "blobs").rglob(oid))
    again = lfs_batch(server, token, "bob/big", oid, UPLOAD_SIZE)
    assert "upload" in again.get("actions", {}), again
    verify_href = again["actions"]["verify"]["href"]
    verify = httpx.post(verify_href, json={"oid": oid, "size": UPLOAD_SIZE}, headers=_auth(token), timeout=30)
    assert verify.status_code >= 400
    commit = _post_commit(
        server,
        token,
        "bob/big",
        [{"key": "lfsFile", "value": {"path": "big.dat", "algo": "sha256", "oid": oid, "size": UPLOAD_SIZE}}],
    )
    assert commit.status_code >= 400 and "never uploaded" in commit.text, commit.text
    missing = httpx.head(f"{server.url}/bob/big/resolve/main/big.dat", timeout=30)
    assert missing.status_code == 404
    info = httpx.get(f"{server.url}/api/models/bob/big", headers=_auth(token), timeout=30).json()
    assert info["sha"] == head_before
    assert [s["rfilename"] for s in info["siblings"]] == [".gitattributes"]

    # The same upload now goes through the unmodified client (multipart: 200 MiB > 64 MiB parts).
    api = HfApi(endpoint=server.url, token=token)
    api.upload_file(path_or_fileobj=source, path_in_repo="big.dat", repo_id="bob/big")
    assert blob_path(server, oid).stat().st_size == UPLOAD_SIZE
    assert file_sha256(blob_path(server, oid)) == oid
    downloaded = huggingface_hub.hf_hub_download(
        "bob/big", "big.dat", endpoint=server.url, token=token, cache_dir=tmp_path / "cache"
    )
    assert Path(downloaded).stat().st_size == UPLOAD_SIZE
    assert file_sha256(Path(downloaded)) == oid
    # Large files are not needed any more: keep pytest's retained temp folders small.
    for path in (source, Path(downloaded).resolve(), blob_path(server, oid)):
        path.unlink(missing_ok=True)


# (b) SIGKILL in the middle of a commit ---------------------------------------------------------


def many_files(count: int) -> dict[str, bytes]:
    return {f"shard/{index:04d}.txt": os.urandom(48) + f" file {index}\n".encode() for index in range(count)}


def inline_lines(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}
        for path, content in files.items()
    ]


def repo_state(server: BatonServer, token: str, repo_id: str) -> tuple[str, set[str], list[str]]:
    """(head commit, files at head, commit ids from head back) as a client would see them."""
    info = httpx.get(f"{server.url}/api/models/{repo_id}/revision/main", headers=_auth(token), timeout=30)
    assert info.status_code == 200, info.text
    history = httpx.get(
        f"{server.url}/api/models/{repo_id}/commits/main", params={"limit": 10}, headers=_auth(token), timeout=30
    )
    assert history.status_code == 200, history.text
    body = info.json()
    return body["sha"], {s["rfilename"] for s in body["siblings"]}, [c["id"] for c in history.json()]


def check_whole(server: BatonServer, token: str, repo_id: str, initial_head: str, files: dict[str, bytes]) -> bool:
    """The commit either landed entirely (True) or not at all (False); anything else fails."""
    head, present, history = repo_state(server, token, repo_id)
    if head == initial_head:
        assert present == {".gitattributes"}, f"head unchanged but {len(present) - 1} new files are visible"
        assert history == [initial_head]
        return False
    assert present == {".gitattributes", *files}, (
        f"half a commit: head moved but {len(set(files) - present)} of {len(files)} files are missing"
    )
    assert history == [head, initial_head]
    tree = httpx.get(
        f"{server.url}/api/models/{repo_id}/tree/main/shard", params={"limit": 1000}, headers=_auth(token), timeout=30
    )
    assert {item["path"] for item in tree.json()} == set(files)
    names = sorted(files)
    for path in (names[0], names[len(names) // 2], names[-1]):
        response = httpx.get(f"{server.url}/{repo_id}/resolve/main/{path}", headers=_auth(token), timeout=30)
        assert response.status_code == 200 and response.content == files[path], path
    return True


class WriteTransactionProbe:
    """Tells whether the server is inside its commit's database transaction right now.

    SQLite: another connection cannot take the write lock (BEGIN IMMEDIATE fails at once).
    PostgreSQL: some backend holds a row lock on this schema's refs/commits/tree_entries,
    which apply_commit takes (SELECT ... FOR UPDATE, INSERT) and keeps until COMMIT.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.sqlite: sqlite3.Connection | None = None
        self.engine: Any = None
        self.connection: Any = None
        if database_url.startswith("sqlite"):
            self.sqlite = sqlite3.connect(database_url.split("///", 1)[1], timeout=0, isolation_level=None)
        else:
            from baton.core.database import make_engine

            self.engine = make_engine(database_url)
            self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def __call__(self) -> bool:
        if self.sqlite is not None:
            try:
                self.sqlite.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # "database is locked": a writer is mid-transaction
                return True
            self.sqlite.execute("ROLLBACK")
            return False
        from sqlalchemy import text

        held = self.connection.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relname IN ('refs', 'commits', 'tree_entries')"
                " AND l.mode IN ('RowShareLock', 'RowExclusiveLock') AND l.pid <> pg_backend_pid()"
            )
        ).scalar()
        return bool(held)

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.connection is not None:
            self.connection.close()
            self.engine.dispose()


# Where to kill, each once the named moment is seen, plus a delay in seconds:
# - storing_blobs: the store holds a tenth of the commit's files (every file's bytes are stored
#   before the commit's one database transaction);
# - last_blob: the store holds the last file, i.e. around the start of that transaction;
# - in_transaction: the probe sees the server inside that transaction;
# - answered: the server answered 200.
KILL_POINTS = [
    ("storing_blobs", 0.0),
    ("last_blob", 0.0),
    ("in_transaction", 0.0),
    ("in_transaction", 0.03),
    ("in_transaction", 0.08),
    ("answered", 0.0),
]


def test_sigkill_during_commit_is_all_or_nothing(server: BatonServer, database_url: str) -> None:
    token = create_user(server, "bob")
    server.start()
    outcomes: list[tuple[str, float, str, bool]] = []
    for attempt, (trigger, delay) in enumerate(KILL_POINTS):
        repo_id = f"bob/many-{attempt}"
        HfApi(endpoint=server.url, token=token).create_repo(repo_id)
        initial_head, _, _ = repo_state(server, token, repo_id)
        files = many_files(COMMIT_FILES)
        lines = inline_lines(files)
        names = sorted(files)
        tenth_blob = blob_path(server, hashlib.sha256(files[names[len(names) // 10]]).hexdigest())
        last_blob = blob_path(server, hashlib.sha256(files[names[-1]]).hexdigest())
        answer: dict[str, Any] = {}

        def send(repo_id: str = repo_id, lines: list[dict[str, Any]] = lines, answer: dict[str, Any] = answer) -> None:
            try:
                answer["response"] = _post_commit(server, token, repo_id, lines)
            except httpx.TransportError as error:
                answer["error"] = error

        probe = WriteTransactionProbe(database_url)
        try:
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            if trigger == "storing_blobs":
                wait_until(lambda: tenth_blob.exists() or not sender.is_alive(), 60, "the commit's blobs")  # noqa: B023
            elif trigger == "last_blob":
                wait_until(lambda: last_blob.exists() or not sender.is_alive(), 60, "the commit's blobs")  # noqa: B023
            elif trigger == "in_transaction":
                # (Should the commit finish unseen, this kill just comes after the answer.)
                wait_until(lambda: probe() or not sender.is_alive(), 60, "the commit transaction")  # noqa: B023
            elif trigger == "answered":
                sender.join(timeout=120)
            time.sleep(delay)
            server.kill()
            blobs_done = last_blob.exists()
        finally:
            probe.close()
        sender.join(timeout=60)
        assert not sender.is_alive(), "the commit request did not end after the kill"
        acknowledged = "response" in answer and answer["response"].status_code == 200
        if "response" in answer and not acknowledged:
            pytest.fail(f"commit refused before the kill: {answer['response'].text}")

        server.start()
        landed = check_whole(server, token, repo_id, initial_head, files)
        if acknowledged:
            assert landed, "a commit answered with 200 was lost by the crash"
            assert answer["response"].json()["commitOid"] == repo_state(server, token, repo_id)[0]
        else:
            # The same commit, sent again to the restarted server, now lands whole.
            # (When it had landed unanswered, this adds a second commit with the same files.)
            retried = _post_commit(server, token, repo_id, lines)
            assert retried.status_code == 200, retried.text
            if not landed:
                assert check_whole(server, token, repo_id, initial_head, files)
        if trigger == "storing_blobs":
            # Killed before the last file's bytes were stored: the commit cannot have begun.
            assert not blobs_done and not landed
        outcomes.append((trigger, delay, "answered" if acknowledged else "cut", landed))

    print("kill outcomes (trigger, delay, answer, landed):", outcomes)
    # At least one kill hit the open transaction and was rolled back (the first, nearly always).
    assert any(not landed for trigger, _, _, landed in outcomes if trigger == "in_transaction"), outcomes
    assert outcomes[-1][3]  # the answered commit survived the kill
