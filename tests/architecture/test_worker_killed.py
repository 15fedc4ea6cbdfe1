"""SIGKILL a real ``baton worker`` between an event's effect and the end of its job: after the lease
runs out another worker runs the handler again, and the effect still exists exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baton.challenge import service
from baton.core import clock, events, jobs
from baton.core.runtime import Runtime
from baton.core.settings import Settings

from .test_exits_exactly_once import LATER, decided_world, effects

HERE = Path(__file__).parent
BATON = Path(sys.executable).with_name("baton")
KIND = "commons.run_release_plan"


def child_environment(settings: Settings, log: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    environment["BATON_DATABASE_URL"] = settings.resolved_database_url
    environment["BATON_TEST_KIND"] = KIND
    environment["BATON_TEST_LOG"] = str(log)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return environment


@pytest.mark.integration
def test_a_worker_killed_after_the_release_plan_ran_leaves_it_done_once(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    world = decided_world(runtime)
    with clock.frozen(LATER):
        with runtime.database.session(write=True) as session:
            service.finalize_due(session)
        # The dispatcher queues one job per handler; the release plans wait for the worker below.
        jobs.Worker(runtime, kinds=[events.DISPATCH_KIND], poll_seconds=0).run(until_idle=True)
    before = effects(runtime, world.slug)
    assert (before["final"], before["items"], before["releases"]) == (True, [], 0)

    log = tmp_path / "runs.log"
    output = tmp_path / "worker.log"
    with output.open("ab") as sink:
        process = subprocess.Popen(
            [
                str(BATON),
                "worker",
                "--data-dir",
                str(settings.data_dir),
                "--kinds",
                KIND,
                "--lease-seconds",
                "1.5",
                "--poll-seconds",
                "0.1",
                "--handler",
                f"{KIND}=kill_points:effect_then_hang",
            ],
            env=child_environment(settings, log),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().strip()):
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # Killed: the effect of the first team's plan committed, its job still "running" under a dead lease.
    with runtime.database.session() as session:
        held = [job for job in jobs.list_jobs(session, kind=KIND, limit=None) if job.status == "running"]
    assert len(held) == 1 and held[0].locked_by is not None and f":{process.pid}:" in held[0].locked_by
    assert effects(runtime, world.slug)["releases"] >= 1

    # A new worker takes the job over once the lease runs out, and runs the others.
    replacement = jobs.Worker(runtime, kinds=[KIND], worker_id="replacement", lease_seconds=30, poll_seconds=0)
    deadline = time.monotonic() + 30
    while True:
        with runtime.database.session() as session:
            pending = [job for job in jobs.list_jobs(session, kind=KIND, limit=None) if job.status != "succeeded"]
        if not pending:
            break
        assert time.monotonic() < deadline, "the dead worker's lease never ran out"
        if replacement.run_once() is None:
            time.sleep(0.1)
    with runtime.database.session() as session:
        taken_over = jobs.get(session, held[0].id)
    assert (taken_over.status, taken_over.attempts) == ("succeeded", 2)  # the handler ran twice
    after = effects(runtime, world.slug)
    assert after["items"] == [f"org-{team}/model" for team in ("team-a", "team-b", "team-c")]
    assert (after["plans_started"], after["releases"]) == (3, 3)  # and its effect exists once
