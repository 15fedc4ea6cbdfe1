"""The durable job table: claims under a lease, crash recovery, results written once, backoff.

Every test runs on SQLite and PostgreSQL (the ``runtime`` fixture). Two use real ``baton worker``
processes: one killed with SIGKILL mid-job (another worker re-runs the job once the lease runs
out), one stopped with SIGTERM (it finishes the job in hand, then exits).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from baton.cli.main import app
from baton.core import clock, jobs
from baton.core.database import utcnow
from baton.core.errors import BadRequestError, ConfigurationError, ConflictError, NotFoundError
from baton.core.job_models import Job
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.domains import open_runtime

BATON = Path(sys.executable).with_name("baton")
HERE = Path(__file__).parent


def enqueue(runtime: Runtime, kind: str = "tests.record", payload: dict[str, Any] | None = None, **options: Any) -> Job:
    with runtime.database.session(write=True) as session:
        return jobs.enqueue(session, kind, payload or {}, **options)


def load(runtime: Runtime, job_id: int) -> Job:
    with runtime.database.session() as session:
        return jobs.get(session, job_id)


def count_jobs(runtime: Runtime) -> int:
    with runtime.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def make_past(runtime: Runtime, job_id: int) -> None:
    """Move a job's backoff and lease into the past, as if time had gone by."""
    past = utcnow() - timedelta(seconds=1)
    with runtime.database.session(write=True) as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_after=past, locked_until=past))


def registry_with(**handlers: Callable[[Runtime, dict[str, Any]], Any]) -> jobs.JobRegistry:
    registry = jobs.JobRegistry()
    for name, handler in handlers.items():
        registry.add(f"tests.{name}", handler)
    return registry


def child_environment(settings: Settings) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    environment["BATON_DATABASE_URL"] = settings.resolved_database_url
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return environment


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# Enqueue, claim, complete.


def test_enqueue_claim_complete(runtime: Runtime) -> None:
    job = enqueue(runtime, payload={"n": (1, 2)}, priority=0)
    assert (job.status, job.attempts, job.payload) == ("queued", 0, {"n": [1, 2]})

    claimed = jobs.claim(runtime.database, "worker-a", lease_seconds=30)
    assert claimed is not None and claimed.id == job.id
    assert (claimed.status, claimed.attempts, claimed.locked_by) == ("running", 1, "worker-a")
    assert claimed.locked_until is not None and claimed.locked_until > utcnow() + timedelta(seconds=20)
    assert jobs.claim(runtime.database, "worker-b") is None

    done = jobs.complete(runtime.database, job.id, "worker-a", {"answer": 42})
    assert (done.status, done.result, done.locked_by) == ("succeeded", {"answer": 42}, None)
    stored = load(runtime, job.id)
    assert stored.result == {"answer": 42} and stored.finished_at is not None and stored.started_at is not None

    # Results are written once: the same worker cannot complete it again.
    with pytest.raises(jobs.JobLeaseLostError):
        jobs.complete(runtime.database, job.id, "worker-a", {"answer": 0})
    assert load(runtime, job.id).result == {"answer": 42}


def test_claim_order_kinds_and_run_after(runtime: Runtime) -> None:
    low = enqueue(runtime, "tests.a")
    high = enqueue(runtime, "tests.a", priority=5)
    later = enqueue(runtime, "tests.a", priority=9, run_after=utcnow() + timedelta(hours=1))
    other = enqueue(runtime, "tests.b")

    assert jobs.claim(runtime.database, "w", kinds=["tests.zzz"]) is None
    assert jobs.claim(runtime.database, "w", kinds=[]) is None
    first = jobs.claim(runtime.database, "w", kinds=["tests.a"])
    second = jobs.claim(runtime.database, "w", kinds=["tests.a"])
    assert first is not None and second is not None
    assert (first.id, second.id) == (high.id, low.id)
    assert jobs.claim(runtime.database, "w", kinds=["tests.a"]) is None  # `later` waits for its run_after
    third = jobs.claim(runtime.database, "w")
    assert third is not None and third.id == other.id
    make_past(runtime, later.id)
    fourth = jobs.claim(runtime.database, "w")
    assert fourth is not None and fourth.id == later.id


def test_enqueue_refuses_bad_input(runtime: Runtime) -> None:
    with runtime.database.session(write=True) as session:
        with pytest.raises(BadRequestError, match="kind"):
            jobs.enqueue(session, "Not A Kind", {})
        with pytest.raises(BadRequestError, match="not JSON"):
            jobs.enqueue(session, "tests.a", {"x": object()})
        with pytest.raises(BadRequestError, match="JSON object"):
            jobs.enqueue(session, "tests.a", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(BadRequestError, match="max_attempts"):
            jobs.enqueue(session, "tests.a", {}, max_attempts=0)
    assert count_jobs(runtime) == 0
    with runtime.database.session() as session:
        with pytest.raises(NotFoundError, match="No job with id 99"):
            jobs.get(session, 99)
        with pytest.raises(BadRequestError, match="status"):
            jobs.list_jobs(session, status="exploded")


# Dedupe.


def test_dedupe_key_returns_the_existing_job(runtime: Runtime) -> None:
    first = enqueue(runtime, payload={"v": 1}, dedupe_key="record:abc")
    again = enqueue(runtime, payload={"v": 2}, dedupe_key="record:abc")
    assert again.id == first.id and again.payload == {"v": 1}
    # Still the same job once it has finished: its result is the answer.
    claimed = jobs.claim(runtime.database, "w")
    assert claimed is not None
    jobs.complete(runtime.database, first.id, "w", "done")
    finished = enqueue(runtime, dedupe_key="record:abc")
    assert (finished.id, finished.status, finished.result) == (first.id, "succeeded", "done")
    with pytest.raises(ConflictError, match="already names job"):
        enqueue(runtime, "tests.other", dedupe_key="record:abc")
    assert enqueue(runtime, dedupe_key="record:def").id != first.id
    assert count_jobs(runtime) == 2


def test_concurrent_enqueues_with_one_dedupe_key_make_one_job(runtime: Runtime) -> None:
    threads_count = 6
    barrier = threading.Barrier(threads_count)

    def enqueue_one(_index: int) -> int:
        barrier.wait()
        return enqueue(runtime, dedupe_key="record:same").id

    with ThreadPoolExecutor(threads_count) as pool:
        ids = list(pool.map(enqueue_one, range(threads_count)))
    assert len(set(ids)) == 1
    assert count_jobs(runtime) == 1


# Races.


def test_racing_workers_never_run_a_job_twice(runtime: Runtime) -> None:
    job_count, worker_count = 30, 5
    for number in range(job_count):
        enqueue(runtime, payload={"n": number})
    runs: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(_runtime: Runtime, payload: dict[str, Any]) -> int:
        with lock:
            runs.append((payload["n"], threading.current_thread().name))
        return int(payload["n"])

    registry = registry_with(record=record)

    def work(index: int) -> None:
        worker = jobs.Worker(runtime, registry, worker_id=f"w{index}")
        while worker.run_once() is not None:
            pass

    with ThreadPoolExecutor(worker_count, thread_name_prefix="worker") as pool:
        list(pool.map(work, range(worker_count)))
    counts = Counter(number for number, _worker in runs)
    assert sorted(counts) == list(range(job_count)) and set(counts.values()) == {1}
    with runtime.database.session() as session:
        stored = jobs.list_jobs(session, limit=None)
    assert {(job.status, job.attempts) for job in stored} == {("succeeded", 1)}
    assert {job.result for job in stored} == set(range(job_count))


def test_simultaneous_claims_of_one_job_give_it_to_one_worker(runtime: Runtime) -> None:
    job = enqueue(runtime)
    claimers = 8
    barrier = threading.Barrier(claimers)

    def claim_it(index: int) -> str | None:
        barrier.wait()
        claimed = jobs.claim(runtime.database, f"w{index}")
        return None if claimed is None else f"w{index}"

    with ThreadPoolExecutor(claimers) as pool:
        winners = [name for name in pool.map(claim_it, range(claimers)) if name is not None]
    assert len(winners) == 1
    assert load(runtime, job.id).locked_by == winners[0]


# Leases.


def test_expired_lease_is_claimed_again_and_a_late_result_is_refused(
    runtime: Runtime, fake_clock: clock.ManualClock
) -> None:
    job = enqueue(runtime)
    first = jobs.claim(runtime.database, "slow-worker", lease_seconds=30)
    assert first is not None
    fake_clock.advance(timedelta(seconds=29))
    assert jobs.claim(runtime.database, "second-worker", lease_seconds=30) is None  # lease still held
    fake_clock.advance(timedelta(seconds=2))
    second = jobs.claim(runtime.database, "second-worker", lease_seconds=30)
    assert second is not None and second.id == job.id
    assert (second.attempts, second.locked_by) == (2, "second-worker")

    # The first worker wakes up: its heartbeat, result and failure are all refused.
    with pytest.raises(jobs.JobLeaseLostError, match="held by second-worker"):
        jobs.heartbeat(runtime.database, job.id, "slow-worker")
    with pytest.raises(jobs.JobLeaseLostError):
        jobs.complete(runtime.database, job.id, "slow-worker", {"by": "slow"})
    with pytest.raises(jobs.JobLeaseLostError):
        jobs.fail(runtime.database, job.id, "slow-worker", "boom")
    assert load(runtime, job.id).status == "running"

    jobs.complete(runtime.database, job.id, "second-worker", {"by": "second"})
    with pytest.raises(jobs.JobLeaseLostError, match="succeeded"):
        jobs.complete(runtime.database, job.id, "slow-worker", {"by": "slow"})
    stored = load(runtime, job.id)
    assert (stored.status, stored.result, stored.attempts) == ("succeeded", {"by": "second"}, 2)


def test_heartbeat_keeps_the_lease(runtime: Runtime, fake_clock: clock.ManualClock) -> None:
    job = enqueue(runtime)
    assert jobs.claim(runtime.database, "w1", lease_seconds=10) is not None
    fake_clock.advance(timedelta(seconds=8))
    expiry = jobs.heartbeat(runtime.database, job.id, "w1", lease_seconds=30)
    assert expiry == utcnow() + timedelta(seconds=30)
    fake_clock.advance(timedelta(seconds=25))  # past the first lease, inside the extended one
    assert jobs.claim(runtime.database, "w2") is None
    fake_clock.advance(timedelta(seconds=6))
    taken = jobs.claim(runtime.database, "w2")
    assert taken is not None and taken.id == job.id


@pytest.mark.integration  # a real heartbeat thread against real time
def test_worker_heartbeats_while_its_handler_runs(runtime: Runtime) -> None:
    job = enqueue(runtime)
    handler_started = threading.Event()

    def slow(_runtime: Runtime, _payload: dict[str, Any]) -> str:
        handler_started.set()
        time.sleep(1.2)  # more than twice the lease: only heartbeats keep the job ours
        return "slept"

    worker = jobs.Worker(runtime, registry_with(record=slow), worker_id="busy", lease_seconds=0.5)
    done = threading.Event()

    def try_to_steal() -> list[Job]:
        stolen = []
        handler_started.wait(30)
        while not done.is_set():
            taken = jobs.claim(runtime.database, "thief", lease_seconds=30)
            if taken is not None:
                stolen.append(taken)
            time.sleep(0.05)
        return stolen

    with ThreadPoolExecutor(1) as pool:
        thief = pool.submit(try_to_steal)
        try:
            finished = worker.run_once()
        finally:
            done.set()
        assert thief.result() == []
    assert finished is not None and (finished.status, finished.attempts, finished.result) == ("succeeded", 1, "slept")
    assert load(runtime, job.id).heartbeat_at is not None


def test_a_lease_that_runs_out_on_the_last_attempt_makes_the_job_dead(runtime: Runtime) -> None:
    job = enqueue(runtime, max_attempts=1)
    assert jobs.claim(runtime.database, "crashing-worker", lease_seconds=30) is not None
    make_past(runtime, job.id)
    assert jobs.claim(runtime.database, "w2") is None
    stored = load(runtime, job.id)
    assert stored.status == "dead" and stored.finished_at is not None and stored.locked_by is None
    assert stored.error is not None and "crashing-worker" in stored.error and "attempt 1 of 1" in stored.error


# Failures.


def test_failures_back_off_exponentially_then_the_job_is_dead(runtime: Runtime) -> None:
    job = enqueue(runtime, max_attempts=3)
    for attempt, delay in ((1, 10), (2, 20)):
        claimed = jobs.claim(runtime.database, "w")
        assert claimed is not None and claimed.attempts == attempt
        before = utcnow()
        failed = jobs.fail(runtime.database, job.id, "w", f"try {attempt} broke", backoff_base_seconds=10)
        assert failed.status == "queued" and failed.run_after is not None
        waited = (failed.run_after - before).total_seconds()
        assert delay - 1 < waited <= delay + 1
        assert jobs.claim(runtime.database, "w") is None  # backing off
        make_past(runtime, job.id)
    claimed = jobs.claim(runtime.database, "w")
    assert claimed is not None and claimed.attempts == 3
    dead = jobs.fail(runtime.database, job.id, "w", "third time")
    assert (dead.status, dead.error, dead.attempts) == ("dead", "third time", 3)
    assert dead.finished_at is not None
    make_past(runtime, job.id)
    assert jobs.claim(runtime.database, "w") is None
    assert jobs.backoff_delay(40, 10) == jobs.BACKOFF_CAP_SECONDS


def test_worker_records_handler_errors_and_retries(runtime: Runtime) -> None:
    calls: list[int] = []

    def flaky(_runtime: Runtime, payload: dict[str, Any]) -> str:
        calls.append(1)
        if len(calls) < payload["succeed_on"]:
            raise RuntimeError(f"flaky failure {len(calls)}")
        return "finally"

    worker = jobs.Worker(runtime, registry_with(flaky=flaky), backoff_base_seconds=0)
    job = enqueue(runtime, "tests.flaky", {"succeed_on": 2})
    first = worker.run_once()
    assert first is not None and (first.status, first.attempts) == ("queued", 1)
    assert first.error is not None and first.error.startswith("RuntimeError: flaky failure 1")
    assert "Traceback" in first.error and "in flaky" in first.error
    second = worker.run_once()
    assert second is not None and (second.id, second.status, second.result, second.attempts) == (
        job.id,
        "succeeded",
        "finally",
        2,
    )
    assert second.error is None

    calls.clear()
    hopeless = enqueue(runtime, "tests.flaky", {"succeed_on": 99}, max_attempts=3)
    statuses = [outcome.status for outcome in iter(worker.run_once, None)]
    assert statuses == ["queued", "queued", "dead"]
    stored = load(runtime, hopeless.id)
    assert stored.attempts == 3 and stored.error is not None and "flaky failure 3" in stored.error
    assert worker.run_once() is None


class NotRetryable(Exception):
    retryable = False


def test_non_retryable_errors_fail_at_once(runtime: Runtime) -> None:
    def bad_input(_runtime: Runtime, _payload: dict[str, Any]) -> None:
        raise BadRequestError("the payload names no repo", hint="Pass a repo id.")

    def declared(_runtime: Runtime, _payload: dict[str, Any]) -> None:
        raise NotRetryable("give up")

    def conflict(_runtime: Runtime, _payload: dict[str, Any]) -> None:
        raise ConflictError("branch moved")

    def not_json(_runtime: Runtime, _payload: dict[str, Any]) -> object:
        return object()

    registry = registry_with(bad_input=bad_input, declared=declared, conflict=conflict, not_json=not_json)
    registry.add("tests.missing", "baton.no_such_module:handler")
    worker = jobs.Worker(runtime, registry)  # the retried job backs off for 10 s, out of the way
    outcomes: dict[str, Job] = {}
    for name in ("bad_input", "declared", "conflict", "not_json", "missing"):
        enqueue(runtime, f"tests.{name}")
        outcome = worker.run_once()
        assert outcome is not None
        outcomes[name] = outcome

    assert (outcomes["bad_input"].status, outcomes["bad_input"].attempts) == ("failed", 1)
    assert outcomes["bad_input"].error == (
        "BadRequestError (BadRequest): the payload names no repo\nhint: Pass a repo id."
    )
    assert outcomes["declared"].status == "failed"
    assert outcomes["declared"].error is not None and outcomes["declared"].error.startswith("NotRetryable: give up")
    assert outcomes["conflict"].status == "queued"  # a conflict may clear up: try again
    assert outcomes["not_json"].status == "failed" and "not JSON" in (outcomes["not_json"].error or "")
    assert outcomes["missing"].status == "failed"
    assert "baton.no_such_module" in (outcomes["missing"].error or "")

    with runtime.database.session(write=True) as session:
        again = jobs.requeue(session, outcomes["bad_input"].id)
        assert (again.status, again.attempts) == ("queued", 0)
        with pytest.raises(ConflictError, match="only failed or dead"):
            jobs.requeue(session, outcomes["conflict"].id)


def test_an_interrupted_worker_hands_the_job_back(runtime: Runtime) -> None:
    def interrupted(_runtime: Runtime, _payload: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    job = enqueue(runtime, "tests.interrupted")
    with pytest.raises(KeyboardInterrupt):
        jobs.Worker(runtime, registry_with(interrupted=interrupted)).run_once()
    stored = load(runtime, job.id)
    assert (stored.status, stored.attempts, stored.locked_by) == ("queued", 0, None)


# Registry.


def test_registry_lazy_entries_and_did_you_mean() -> None:
    registry = jobs.default_registry()
    assert "core.sleep" in registry
    assert registry.resolve("core.sleep") is jobs.sleep_handler
    with pytest.raises(jobs.UnknownJobKindError, match=r"Did you mean 'core\.sleep'") as raised:
        registry.resolve("core.slep")
    assert "core.sleep" in raised.value.hint
    with pytest.raises(ConfigurationError, match="twice"):
        registry.add("core.sleep", jobs.sleep_handler)

    @registry.register("tests.decorated")
    def decorated(_runtime: Runtime, payload: dict[str, Any]) -> Any:
        return payload

    assert registry.resolve("tests.decorated") is decorated
    registry.add("tests.bad_target", "no_colon_here")
    with pytest.raises(ConfigurationError, match="module:attr"):
        registry.resolve("tests.bad_target")
    with pytest.raises(jobs.UnknownJobKindError) as far_off:
        jobs.default_registry().check("quantum.entangle-widgets")
    assert "Did you mean" not in far_off.value.message and "core.sleep" in far_off.value.hint


def test_worker_refuses_unknown_kinds(runtime: Runtime) -> None:
    with pytest.raises(jobs.UnknownJobKindError, match=r"Did you mean 'core\.sleep'"):
        jobs.Worker(runtime, kinds=["core.sleeep"])


def test_core_sleep_runs_and_checks_its_payload(runtime: Runtime) -> None:
    worker = jobs.Worker(runtime)
    good = enqueue(runtime, "core.sleep", {"seconds": 0.01})
    bad = enqueue(runtime, "core.sleep", {"seconds": -1})
    outcomes = {job.id: job for job in iter(worker.run_once, None)}
    assert (outcomes[good.id].status, outcomes[good.id].result) == ("succeeded", {"slept": 0.01})
    assert outcomes[bad.id].status == "failed"


# Restarts and graceful stops.


def test_jobs_survive_a_restart(settings: Settings, runtime: Runtime) -> None:
    held = enqueue(runtime, "core.sleep", {"seconds": 0})
    queued = enqueue(runtime, "core.sleep", {"seconds": 0})
    assert jobs.claim(runtime.database, "worker-before-restart", kinds=["core.sleep"], lease_seconds=30) is not None
    make_past(runtime, held.id)  # that worker died with the old process: its lease runs out
    runtime.close()

    restarted = open_runtime(settings)
    try:
        with restarted.database.session() as session:
            assert {job.id for job in jobs.list_jobs(session)} == {queued.id, held.id}
        outcomes = {job.id: job for job in iter(jobs.Worker(restarted).run_once, None)}
        assert {job_id: job.status for job_id, job in outcomes.items()} == {
            queued.id: "succeeded",
            held.id: "succeeded",
        }
        assert outcomes[held.id].attempts == 2
    finally:
        restarted.close()


def test_stop_finishes_the_job_in_hand(runtime: Runtime) -> None:
    started = threading.Event()
    stopped = threading.Event()

    def slow(_runtime: Runtime, _payload: dict[str, Any]) -> str:
        started.set()
        assert stopped.wait(10)  # the worker is told to stop while this job is in hand
        return "whole"

    first = enqueue(runtime, "tests.slow")
    second = enqueue(runtime, "tests.slow")
    worker = jobs.Worker(runtime, registry_with(slow=slow), poll_seconds=0.05)
    processed: list[int] = []
    thread = threading.Thread(target=lambda: processed.append(worker.run()))
    thread.start()
    assert started.wait(10)
    worker.stop()
    stopped.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and processed == [1]
    assert load(runtime, first.id).result == "whole"
    assert load(runtime, second.id).status == "queued"


# Real worker processes.


@pytest.fixture
def worker_log(tmp_path: Path) -> Path:
    return tmp_path / "worker.log"


def start_worker(settings: Settings, log: Path, *arguments: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(BATON), "worker", "--data-dir", str(settings.data_dir), *arguments],
            env=child_environment(settings),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.mark.integration
def test_a_worker_killed_mid_job_is_replaced_after_its_lease(
    settings: Settings, runtime: Runtime, tmp_path: Path, worker_log: Path
) -> None:
    runs_log = tmp_path / "runs.log"
    job = enqueue(runtime, "tests.hang", {"log": str(runs_log), "hang_seconds": 120})
    process = start_worker(
        settings,
        worker_log,
        "--once",
        "--lease-seconds",
        "1.5",
        "--kinds",
        "tests.hang",
        "--handler",
        "tests.hang=sample_job_handlers:record_then_hang",
    )
    try:
        wait_for(lambda: runs_log.exists() and runs_log.read_text().strip() != "", 60, "the worker to start the job")
        holder = load(runtime, job.id)
        assert holder.status == "running" and holder.locked_by is not None
        assert f":{process.pid}:" in holder.locked_by
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    # The lease outlives the process for a moment; then another worker takes the job over.
    registry = jobs.JobRegistry({"tests.hang": "sample_job_handlers:record_then_hang"})
    added_to_path = str(HERE) not in sys.path
    if added_to_path:
        sys.path.insert(0, str(HERE))
    try:
        replacement = jobs.Worker(runtime, registry, worker_id="replacement", lease_seconds=30)
        assert replacement.run_once() is None
        deadline = time.monotonic() + 15
        finished = replacement.run_once()
        while finished is None:
            assert time.monotonic() < deadline, "the dead worker's lease never ran out"
            time.sleep(0.1)
            finished = replacement.run_once()
    finally:
        if added_to_path:
            sys.path.remove(str(HERE))
    assert (finished.id, finished.status, finished.attempts) == (job.id, "succeeded", 2)
    assert finished.result == {"runs": 2, "pid": os.getpid()}
    assert runs_log.read_text().split() == [str(process.pid), str(os.getpid())]


@pytest.mark.integration
def test_sigterm_stops_a_worker_after_the_job_in_hand(settings: Settings, runtime: Runtime, worker_log: Path) -> None:
    job = enqueue(runtime, "core.sleep", {"seconds": 1.0})
    process = start_worker(settings, worker_log, "--poll-seconds", "0.1")
    try:
        wait_for(lambda: load(runtime, job.id).status == "running", 60, "the worker to start the job")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, worker_log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stored = load(runtime, job.id)
    assert (stored.status, stored.result) == ("succeeded", {"slept": 1.0}), worker_log.read_text()
    assert "stopping after the current job" in worker_log.read_text()


# The CLI.


def test_jobs_cli_lists_shows_and_retries(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BATON_DATABASE_URL", settings.resolved_database_url)
    queued = enqueue(runtime, "core.sleep", {"seconds": 0})
    broken = enqueue(runtime, "core.sleep", {"seconds": "soon"})
    assert jobs.claim(runtime.database, "w", kinds=["core.sleep"]) is not None  # takes `queued`
    jobs.complete(runtime.database, queued.id, "w", {"slept": 0})
    assert jobs.claim(runtime.database, "w") is not None
    jobs.fail(runtime.database, broken.id, "w", "BadRequestError: no", retryable=False)

    runner = CliRunner()
    data_dir = ["--data-dir", str(settings.data_dir)]
    listed = runner.invoke(app, ["jobs", "list", *data_dir])
    assert listed.exit_code == 0, listed.output
    assert "core.sleep" in listed.stdout and "succeeded" in listed.stdout and "failed" in listed.stdout
    only_failed = runner.invoke(app, ["jobs", "list", "--status", "failed", *data_dir])
    assert only_failed.exit_code == 0 and "succeeded" not in only_failed.stdout
    assert "BadRequestError: no" in only_failed.stdout
    bad_status = runner.invoke(app, ["jobs", "list", "--status", "exploded", *data_dir])
    assert bad_status.exit_code == 2 and "queued, running" in bad_status.output

    shown = runner.invoke(app, ["jobs", "show", str(queued.id), *data_dir])
    assert shown.exit_code == 0 and '"slept": 0' in shown.stdout
    assert runner.invoke(app, ["jobs", "show", "999", *data_dir]).exit_code == 2

    retried = runner.invoke(app, ["jobs", "retry", str(broken.id), *data_dir])
    assert retried.exit_code == 0, retried.output
    assert load(runtime, broken.id).status == "queued"
    unknown_kind = runner.invoke(app, ["worker", "--kinds", "core.slep", "--once", *data_dir])
    assert unknown_kind.exit_code == 2 and "Did you mean 'core.sleep'" in unknown_kind.output
