"""Baton's one notion of "now", injectable so tests (and simulations) can move time.

Every timestamp Baton writes and every deadline it checks reads ``now()``: job leases and
back-off, challenge deadlines, appeal windows and finality, release embargoes, talent retention,
token expiry and the ledger. The default is the system clock; ``frozen(datetime)`` installs a
movable clock for the duration of a ``with`` block, and ``install`` sets one for the whole process
(``baton demo`` uses it to fast-forward the simulated challenge, and its jobs move with it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime) -> None:
        self.current = aware(start)

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = aware(moment)

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


def aware(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_installed: Clock = SystemClock()


def now() -> datetime:
    """The current time in UTC, from the installed clock."""
    return aware(_installed.now())


def install(clock: Clock) -> Clock:
    """Install ``clock`` for the process; returns the previous one."""
    global _installed
    previous, _installed = _installed, clock
    return previous


@contextmanager
def frozen(moment: datetime) -> Iterator[ManualClock]:
    """A manual clock at ``moment`` for the block: ``with frozen(t) as clock: clock.advance(...)``."""
    clock = ManualClock(moment)
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)
