"""Moved to :mod:`baton.core.clock` (one clock for every domain); kept while callers move."""

from baton.core.clock import Clock, ManualClock, SystemClock, _aware, frozen, install, now

__all__ = ["Clock", "ManualClock", "SystemClock", "_aware", "frozen", "install", "now"]
