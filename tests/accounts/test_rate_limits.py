"""Rate limits: per account and per address, a clear 429 with Retry-After, and nothing recorded past it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from baton.app import create_app
from baton.core.errors import BadRequestError, RateLimitedError
from baton.core.ratelimit import DEFAULT_LIMITS, Limit, RateLimiter, parse_limits
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.domains import open_runtime
from web.sign_in_support import sign_in_with_token


class FakeClock:
    """A clock the test moves by hand: the limiter's arithmetic is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_passes_then_the_next_waits_one_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"vote": Limit(3, 60)}, clock=clock)
    for _ in range(3):
        limiter.hit("vote", "account:1")
    with pytest.raises(RateLimitedError) as refused:
        limiter.hit("vote", "account:1")
    assert refused.value.status_code == 429
    assert refused.value.headers["Retry-After"] == "20"  # one slot frees every 60/3 s
    limiter.hit("vote", "account:2")  # another key has its own budget
    clock.now += 20
    limiter.hit("vote", "account:1")
    with pytest.raises(RateLimitedError):
        limiter.hit("vote", "account:1")


def test_refused_actions_are_not_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"vote": Limit(2, 10)}, clock=clock)
    limiter.hit("vote", "k")
    limiter.hit("vote", "k")
    for _ in range(50):  # hammering while refused must not push the wait further out
        with pytest.raises(RateLimitedError):
            limiter.hit("vote", "k")
    clock.now += 5
    limiter.hit("vote", "k")


def test_memory_stays_bounded_under_a_flood_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import baton.core.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "MAX_KEYS", 100)
    clock = FakeClock()
    limiter = RateLimiter({"failed-auth": Limit(5, 60)}, clock=clock)
    for address in range(1000):
        limiter.hit("failed-auth", f"address:{address}")
    assert len(limiter) <= 100


def test_limits_are_configurable_and_checked() -> None:
    limits = parse_limits("vote=5/10, upload=off")
    assert limits["vote"] == Limit(5, 10)
    assert "upload" not in limits
    assert limits["sign-in"] == DEFAULT_LIMITS["sign-in"]
    for bad in ("votes=5/10", "vote=5", "vote=0/10", "vote=x/y"):
        with pytest.raises(BadRequestError):
            parse_limits(bad)


@pytest.fixture
def limited(settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    limited_settings = settings.model_copy(
        update={"rate_limits": "vote=2/60,failed-auth=3/60,sign-in=2/60,upload=3/60"}
    )
    runtime = open_runtime(limited_settings, run_migrations=False)
    with TestClient(create_app(runtime=runtime), base_url="http://testserver") as client:
        yield client, runtime
    runtime.close()


def test_guessing_tokens_is_limited_per_address(limited: tuple[TestClient, Runtime]) -> None:
    client, _runtime = limited
    for attempt in range(3):
        answer = client.get("/api/whoami-v2", headers={"Authorization": f"Bearer baton_guess{attempt}"})
        assert answer.status_code == 401
    answer = client.get("/api/whoami-v2", headers={"Authorization": "Bearer baton_guess-again"})
    assert answer.status_code == 429
    assert answer.json()["error"] == "RateLimited"
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Retry-After" in answer.json()["hint"]


def test_sign_in_attempts_are_limited(limited: tuple[TestClient, Runtime]) -> None:
    client, _runtime = limited
    for _ in range(2):
        assert sign_in_with_token(client, "wrong").status_code == 401
    answer = sign_in_with_token(client, "wrong")
    assert answer.status_code == 429 and "Retry-After" in answer.headers


def test_uploads_are_limited_per_account(limited: tuple[TestClient, Runtime], users: dict[str, str]) -> None:
    client, _runtime = limited
    body = {"operation": "upload", "objects": [], "transfers": ["basic"]}
    assert client.post("/api/repos/create", json={"name": "up"}, headers=users.headers("bob")).status_code == 200
    for _ in range(3):
        answer = client.post("/bob/up.git/info/lfs/objects/batch", json=body, headers=users.headers("bob"))
        assert answer.status_code == 200
    answer = client.post("/bob/up.git/info/lfs/objects/batch", json=body, headers=users.headers("bob"))
    assert answer.status_code == 429 and answer.json()["error"] == "RateLimited"
