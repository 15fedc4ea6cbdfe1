"""Job handlers for the job tests, imported by ``baton worker --handler KIND=sample_job_handlers:ATTR``.

A worker subprocess finds this module through PYTHONPATH (this folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def record_then_hang(_runtime: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Append this process's pid to ``payload["log"]``; the first run then hangs for a while.

    A worker killed during the hang leaves one line; the worker that takes the job over adds a
    second line and returns at once.
    """
    log = Path(payload["log"])
    earlier_runs = log.read_text().splitlines() if log.exists() else []
    with log.open("a") as handle:
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        os.fsync(handle.fileno())
    if not earlier_runs:
        time.sleep(float(payload["hang_seconds"]))
    return {"runs": len(earlier_runs) + 1, "pid": os.getpid()}
