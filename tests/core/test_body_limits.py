"""Request bodies over their route's limit are refused before they are read into memory (413)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from baton.app import create_app
from baton.core.settings import Settings
from baton.domains import open_runtime


@pytest.fixture
def small_limits(settings: Settings) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"max_request_body": 1000, "max_commit_payload": 5000})
    runtime = open_runtime(limited, run_migrations=False)
    with TestClient(create_app(runtime=runtime), base_url="http://testserver") as client:
        yield client
    runtime.close()


def test_a_declared_length_over_the_limit_is_refused_at_once(small_limits: TestClient) -> None:
    answer = small_limits.post("/api/validate-yaml", content=b"x" * 2000, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "BodyTooLarge"
    assert "LFS" in answer.json()["hint"]


def test_a_streamed_body_is_cut_off_at_the_limit(small_limits: TestClient) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):  # 100 kB without a Content-Length
            sent.append(1)
            yield b"y" * 1000

    answer = small_limits.post("/api/validate-yaml", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "BodyTooLarge"


def test_the_commit_route_has_its_own_larger_limit(small_limits: TestClient, users: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {users['bob']}", "Content-Type": "application/x-ndjson"}
    # Over the general limit but under the commit's: the commit reads it (and refuses it for other reasons).
    within = small_limits.post("/api/models/bob/none/commit/main", content=b"{}\n" * 1000, headers=headers)
    assert within.status_code != 413
    over = small_limits.post("/api/models/bob/none/commit/main", content=b"{}\n" * 2000, headers=headers)
    assert over.status_code == 413 and over.json()["error"] == "BodyTooLarge"
