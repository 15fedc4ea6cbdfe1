"""Rate limits per account and per address, in the server's memory.

Each limit is ``count`` actions per ``period`` seconds with bursts up to ``count``, kept by the
generic cell rate algorithm: one timestamp per key, so memory stays small whatever the traffic,
and the answer to a refused action says exactly when the next one will be accepted.

The counters live in one server process; several processes behind a load balancer each keep
their own, so the effective limit there is the limit times the number of processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from baton.core.errors import BadRequestError, RateLimitedError

# Keys kept at most; past this, keys whose bucket has fully drained are dropped first.
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Limit:
    count: int
    period: float

    @property
    def interval(self) -> float:
        return self.period / self.count


# What each kind limits, and its default. Keys are "account:<id>" or "address:<ip>".
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "sign-in": Limit(20, 60),  # sign-in attempts per address
    "failed-auth": Limit(30, 60),  # wrong tokens per address
    "token-use": Limit(6000, 60),  # authenticated requests per account
    "vote": Limit(60, 60),  # arena votes per account and per address
    "upload": Limit(1200, 60),  # upload requests (batch, parts, commits) per account and per address
}
DESCRIPTIONS: Mapping[str, str] = {
    "sign-in": "sign-in attempts",
    "failed-auth": "requests with a wrong token",
    "token-use": "requests with this token's account",
    "vote": "votes",
    "upload": "upload requests",
}


def parse_limits(text: str) -> dict[str, Limit]:
    """``"vote=30/60,upload=100/10"`` (count/seconds per kind) over the defaults; ``kind=off`` disables one."""
    limits = dict(DEFAULT_LIMITS)
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        kind, _, value = part.partition("=")
        kind = kind.strip()
        if kind not in DEFAULT_LIMITS:
            raise BadRequestError(
                f"BATON_RATE_LIMITS names an unknown kind '{kind[:40]}'",
                hint="Kinds: " + ", ".join(DEFAULT_LIMITS) + "; e.g. BATON_RATE_LIMITS='vote=30/60'.",
            )
        if value.strip() == "off":
            limits.pop(kind)
            continue
        count, _, period = value.partition("/")
        try:
            limit = Limit(int(count), float(period))
        except ValueError:
            limit = Limit(0, 0)
        if limit.count < 1 or not 0 < limit.period < 10**7:
            raise BadRequestError(
                f"BATON_RATE_LIMITS: '{part[:60]}' is not COUNT/SECONDS",
                hint="Write e.g. 'vote=30/60' (30 votes a minute) or 'vote=off'.",
            )
        limits[kind] = limit
    return limits


class RateLimiter:
    """Thread-safe counters; ``hit`` records an action or raises RateLimitedError (429)."""

    def __init__(self, limits: Mapping[str, Limit], clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._lock = threading.Lock()
        # (kind, key) -> theoretical arrival time of the next action at the steady rate.
        self._arrivals: dict[tuple[str, str], float] = {}

    def _delay(self, limit: Limit, arrival: float, now: float) -> float:
        """How long until an action at ``now`` fits in the burst (0 when it fits)."""
        return max(0.0, arrival - now - (limit.period - limit.interval))

    def check(self, kind: str, key: str) -> None:
        """Raise if ``key`` is over the limit now, without recording an action."""
        limit = self._limits.get(kind)
        if limit is None:
            return
        with self._lock:
            now = self._clock()
            delay = self._delay(limit, max(self._arrivals.get((kind, key), now), now), now)
        if delay > 0:
            raise RateLimitedError(DESCRIPTIONS.get(kind, kind), delay)

    def hit(self, kind: str, key: str) -> None:
        """Record one action by ``key``; raise RateLimitedError when over the limit (not recorded)."""
        limit = self._limits.get(kind)
        if limit is None:
            return
        with self._lock:
            now = self._clock()
            arrival = max(self._arrivals.get((kind, key), now), now)
            delay = self._delay(limit, arrival, now)
            if delay <= 0:
                if len(self._arrivals) >= MAX_KEYS:
                    self._forget_drained(now)
                self._arrivals[(kind, key)] = arrival + limit.interval
        if delay > 0:
            raise RateLimitedError(DESCRIPTIONS.get(kind, kind), delay)

    def _forget_drained(self, now: float) -> None:
        drained = [entry for entry, arrival in self._arrivals.items() if arrival <= now]
        for entry in drained:
            del self._arrivals[entry]
        if len(self._arrivals) >= MAX_KEYS:
            # Still full of live keys (a flood from many addresses): drop the oldest half.
            oldest = sorted(self._arrivals.items(), key=lambda item: item[1])[: MAX_KEYS // 2]
            for entry, _arrival in oldest:
                del self._arrivals[entry]

    def __len__(self) -> int:
        return len(self._arrivals)
