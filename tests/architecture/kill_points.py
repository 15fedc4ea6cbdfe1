"""Job handlers for the crash tests, imported by ``baton worker --handler KIND=kill_points:ATTR``.

A worker subprocess finds this module through PYTHONPATH (this folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def effect_then_hang(runtime: Any, payload: dict[str, Any]) -> Any:
    """Run the real handler of ``BATON_TEST_KIND`` (its effect commits), note this process's pid in
    ``BATON_TEST_LOG``, then hang: a SIGKILL now leaves the effect done and the job unfinished."""
    kind = os.environ["BATON_TEST_KIND"]
    result = runtime.registry.job_registry().resolve(kind)(runtime, payload)
    log = Path(os.environ["BATON_TEST_LOG"])
    with log.open("a") as handle:
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        os.fsync(handle.fileno())
    time.sleep(300)
    return result
