"""A result cache: a backend's response to a request, keyed by ``Request.key()`` and the backend's identity.

One SQLite file (``<data_dir>/evaluation/cache.sqlite`` by default), in WAL mode so several runs
and workers can share it. Responses are written one batch per transaction after the backend has
answered the whole batch, so a killed run leaves only complete answers behind, and a rerun or a
resumed run reads them back instead of recomputing (and gets the same numbers).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from baton.evaluation.types import Backend, Response

# Settings that change how fast answers come, not what they are: left out of the identity so that
# a run resumed with another batch size or concurrency still finds its cached answers.
NON_IDENTITY_SETTINGS = frozenset(
    {
        "batch_size",
        "concurrency",
        "timeout_seconds",
        "max_retries",
        "model_path",
        "base_url_label",
        "operator_controlled",
        "delay_seconds",
        "endpoint",
        "executor",
        "workers",
        "add_bos_token_source",  # where the choice came from; the choice itself (add_bos_token) counts
    }
)
_LOOKUP_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    backend_id TEXT NOT NULL,
    request_key TEXT NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (backend_id, request_key)
)
"""


class AnswerCache(Protocol):
    """Where the runner keeps answers: this SQLite file, or the database (``baton.evaluation.service``)."""

    def get_many(self, backend_id: str, keys: Iterable[str]) -> dict[str, Response]: ...

    def put_many(self, backend_id: str, responses: Mapping[str, Response]) -> None: ...


def backend_identity(backend: Backend) -> str:
    """A hash of what determines a backend's answers: its settings minus the speed-only ones."""
    settings = {key: value for key, value in backend.describe().items() if key not in NON_IDENTITY_SETTINGS}
    canonical = json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def default_cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / "evaluation" / "cache.sqlite"


class ResultCache:
    """Cached responses in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(_SCHEMA)

    def get_many(self, backend_id: str, keys: Iterable[str]) -> dict[str, Response]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Response] = {}
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    f"SELECT request_key, response FROM responses WHERE backend_id = ? AND request_key IN ({marks})",
                    [backend_id, *chunk],
                ).fetchall()
                for key, payload in rows:
                    found[key] = _load_response(payload)
        return found

    def put_many(self, backend_id: str, responses: Mapping[str, Response]) -> None:
        """Store a batch of answers in one transaction: all of them or none."""
        rows = [(backend_id, key, json.dumps(asdict(response))) for key, response in responses.items()]
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO responses (backend_id, request_key, response) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def count(self, backend_id: str | None = None) -> int:
        with self._lock:
            if backend_id is None:
                row = self._connection.execute("SELECT COUNT(*) FROM responses").fetchone()
            else:
                row = self._connection.execute(
                    "SELECT COUNT(*) FROM responses WHERE backend_id = ?", (backend_id,)
                ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def response_from_json(data: Mapping[str, Any]) -> Response:
    """A stored response; fields a newer Baton wrote and this one does not know are dropped."""
    known = {field.name for field in fields(Response)}
    return Response(**{name: value for name, value in data.items() if name in known})


def _load_response(payload: str) -> Response:
    return response_from_json(json.loads(payload))
