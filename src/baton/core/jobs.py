"""Durable background jobs: enqueue, claim under a lease, heartbeat, complete once, fail with backoff.

The table is ``baton.core.job_models.Job``. Guarantees, on SQLite and PostgreSQL alike:

- A job survives a restart: it is a row, not a message in memory.
- At most one worker holds a job at a time. ``claim`` is atomic: PostgreSQL locks the chosen row
  with ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent workers take different jobs; on SQLite
  the write session's ``BEGIN IMMEDIATE`` lets one claimer in at a time.
- A crashed worker's job is retried: its lease (``locked_until``) runs out unless the worker
  heartbeats, and then another worker may claim it (counting another attempt).
- Results are written once: ``complete`` and ``fail`` are refused (``JobLeaseLostError``) unless
  the caller still holds the job, so a worker that stalled past its lease cannot overwrite the
  outcome of the worker that took the job over.

Execution is at least once (a worker may die after doing the work but before recording it), so
handlers must be idempotent: write results under content-derived keys, or check before writing.
Leases are compared with the workers' clocks: keep machines' clocks in sync (NTP) and leases far
longer than any skew.

Handlers are looked up by kind in a ``JobRegistry`` of lazy ``"module:attr"`` entries, so a
worker imports (say) torch only when it runs a job that needs it. ``HANDLERS`` lists core's own
kinds; each domain registers its kinds in its ``domain.py`` (``baton.core.registry``), and a worker
takes them all from ``runtime.registry``. A ``Worker`` runs the claim → handle → record loop.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from baton.core.database import Database, utcnow
from baton.core.errors import (
    AuthenticationError,
    BadRequestError,
    BatonError,
    ConfigurationError,
    ConflictError,
    GatedRepoError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    QuotaExceededError,
)
from baton.core.job_models import DEAD, FAILED, JOB_STATUSES, QUEUED, RUNNING, SUCCEEDED, Job

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

__all__ = [
    "HANDLERS",
    "Job",
    "JobHandler",
    "JobLeaseLostError",
    "JobRegistry",
    "UnknownJobKindError",
    "Worker",
    "backoff_delay",
    "claim",
    "complete",
    "default_registry",
    "enqueue",
    "fail",
    "get",
    "heartbeat",
    "list_jobs",
    "release",
    "requeue",
]

logger = logging.getLogger("baton.jobs")

JobHandler = Callable[["Runtime", dict[str, Any]], Any]
"""``handler(runtime, payload) -> result``: the result must be JSON (or None)."""

HandlerT = TypeVar("HandlerT", bound=JobHandler)

DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 3600.0
MAX_ERROR_LENGTH = 8000
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
KIND_MAX_LENGTH = 100
DEDUPE_KEY_MAX_LENGTH = 255

# Core's own job kinds. Domains add theirs through ``baton.core.registry.Registry.job`` (each in its
# ``domain.py``); a worker gets them all from ``runtime.registry.job_registry()``.
HANDLERS: dict[str, str] = {
    "core.sleep": "baton.core.jobs:sleep_handler",
}

# Errors that mean "this input can never work": retrying would fail the same way. An exception
# may also say so itself with a ``retryable`` attribute (True or False), which wins.
NON_RETRYABLE_ERRORS: tuple[type[BatonError], ...] = (
    BadRequestError,
    NotFoundError,
    AuthenticationError,
    PermissionDeniedError,
    GatedRepoError,
    QuotaExceededError,
    NotSupportedError,
    ConfigurationError,
)


class JobLeaseLostError(ConflictError):
    """The caller no longer holds the job: another worker claimed it, or it already finished."""

    code = "JobLeaseLost"
    default_hint = "Another worker took the job over after this lease ran out; its outcome stands."


class UnknownJobKindError(NotFoundError):
    code = "UnknownJobKind"


def _job_not_found(job_id: int) -> NotFoundError:
    return NotFoundError(f"No job with id {job_id}.", code="JobNotFound", hint="List the jobs: baton jobs list")


def is_retryable(error: BaseException) -> bool:
    """Whether a job that raised ``error`` should be tried again (if it has attempts left)."""
    declared = getattr(error, "retryable", None)
    if isinstance(declared, bool):
        return declared
    return not isinstance(error, NON_RETRYABLE_ERRORS)


def describe_error(error: BaseException) -> str:
    """``"Type: message"`` as stored in ``Job.error``; unexpected errors also keep their traceback."""
    if isinstance(error, BatonError):
        text = f"{type(error).__name__} ({error.code}): {error.message}"
        if error.hint:
            text += f"\nhint: {error.hint}"
    else:
        text = f"{type(error).__name__}: {error}"
        if error.__traceback__ is not None:
            text += "\n\n" + "".join(traceback.format_exception(error)).rstrip()
    if len(text) > MAX_ERROR_LENGTH:
        # Keep the head (type and message) and the tail (where it was raised).
        half = MAX_ERROR_LENGTH // 2
        text = text[:half] + "\n...\n" + text[-half:]
    return text


def backoff_delay(attempts: int, base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS) -> float:
    """Seconds to wait before the next try after ``attempts`` tries: base, 2×base, 4×base, … (capped)."""
    exponent = min(max(attempts - 1, 0), 32)
    return float(min(BACKOFF_CAP_SECONDS, base_seconds * 2**exponent))


def _as_json(value: Any, what: str) -> Any:
    """``value`` after a JSON round trip (tuples become lists), or BadRequestError if it is not JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise BadRequestError(
            f"The job's {what} is not JSON: {error}",
            hint="Use only dicts, lists, strings, numbers, booleans and None.",
        ) from error


# Operations on the table.


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    priority: int = 0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    run_after: datetime | None = None,
) -> Job:
    """Add a job (committed with ``session``), or return the existing job with ``dedupe_key``.

    Use a write session (``database.session(write=True)``). ``dedupe_key`` names the logical job
    (e.g. ``"fingerprint:<sha256>"``): enqueueing it again, whatever its state, returns the first
    job instead of adding another. Higher ``priority`` runs first; ``run_after`` delays the job.
    """
    if not isinstance(kind, str) or len(kind) > KIND_MAX_LENGTH or not KIND_PATTERN.match(kind):
        raise BadRequestError(
            f"Invalid job kind {kind!r}.",
            hint="A kind is dotted lower-case words, e.g. 'provenance.fingerprint' (at most 100 characters).",
        )
    if payload is not None and not isinstance(payload, Mapping):
        raise BadRequestError("A job's payload must be a JSON object (a dict).")
    clean_payload = _as_json(dict(payload or {}), "payload")
    if max_attempts < 1:
        raise BadRequestError("max_attempts must be at least 1.")
    if dedupe_key is not None and not (0 < len(dedupe_key) <= DEDUPE_KEY_MAX_LENGTH):
        raise BadRequestError(f"A dedupe_key must have 1 to {DEDUPE_KEY_MAX_LENGTH} characters.")

    if dedupe_key is not None:
        existing = _find_by_dedupe_key(session, kind, dedupe_key)
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=clean_payload,
        status=QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        priority=priority,
        run_after=run_after,
        dedupe_key=dedupe_key,
        created_at=utcnow(),
    )
    if dedupe_key is None:
        session.add(job)
        session.flush()
        return job
    # Another process may insert the same key between our check and our insert (PostgreSQL, or
    # a deferred SQLite transaction): the unique index refuses the second row, and we return the
    # first. The savepoint keeps the caller's transaction usable after the refused insert.
    try:
        with session.begin_nested():
            session.add(job)
    except DatabaseIntegrityError:
        existing = _find_by_dedupe_key(session, kind, dedupe_key)
        if existing is None:
            raise
        return existing
    return job


def _find_by_dedupe_key(session: Session, kind: str, dedupe_key: str) -> Job | None:
    existing = session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).first()
    if existing is not None and existing.kind != kind:
        raise ConflictError(
            f"dedupe_key {dedupe_key!r} already names job {existing.id} of kind {existing.kind!r}, not {kind!r}.",
            code="JobDedupeConflict",
            hint="Prefix dedupe keys with the job kind so that different kinds never share one.",
        )
    return existing


def get(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise _job_not_found(job_id)
    return job


def list_jobs(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int | None = 100
) -> list[Job]:
    """Jobs, newest first, optionally of one status and one kind."""
    if status is not None and status not in JOB_STATUSES:
        raise BadRequestError(f"Unknown job status {status!r}.", hint=f"Use one of: {', '.join(JOB_STATUSES)}.")
    query = select(Job).order_by(Job.id.desc())
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _ready_condition(now: datetime) -> ColumnElement[bool]:
    queued = and_(Job.status == QUEUED, or_(Job.run_after.is_(None), Job.run_after <= now))
    # A running job whose lease ran out: its worker crashed or stalled.
    abandoned = and_(Job.status == RUNNING, Job.locked_until < now, Job.attempts < Job.max_attempts)
    return or_(queued, abandoned)


def _bury_abandoned(session: Session, now: datetime) -> None:
    """Mark dead the jobs whose lease ran out on their last attempt (a crash on every try)."""
    # Row by row under SKIP LOCKED, not one UPDATE: two workers updating the same rows in
    # different orders could deadlock on PostgreSQL.
    query = (
        select(Job)
        .where(Job.status == RUNNING, Job.locked_until < now, Job.attempts >= Job.max_attempts)
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    for job in session.scalars(query):
        logger.warning("job %s (%s): lease of %s ran out on its last attempt; dead", job.id, job.kind, job.locked_by)
        job.status = DEAD
        job.error = (
            f"LeaseExpired: the worker {job.locked_by} stopped heartbeating during attempt "
            f"{job.attempts} of {job.max_attempts} (it crashed or stalled)."
            + (f"\n\nprevious error: {job.error}" if job.error else "")
        )
        job.locked_by = None
        job.locked_until = None
        job.finished_at = now


def claim(
    database: Database,
    worker_id: str,
    kinds: Iterable[str] | None = None,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Job | None:
    """Lease the next ready job (highest priority, then oldest) to ``worker_id``, or return None.

    Ready means queued and past its ``run_after``, or running with an expired lease (its worker
    is gone); the claim counts an attempt. ``kinds`` limits the kinds taken (None: any kind).
    """
    if not worker_id:
        raise BadRequestError("A worker id is required to claim a job.")
    kind_list = None if kinds is None else sorted(set(kinds))
    if kind_list is not None and not kind_list:
        return None
    with database.session(write=True) as session:
        now = utcnow()
        _bury_abandoned(session, now)
        query = (
            select(Job)
            .where(_ready_condition(now))
            .order_by(Job.priority.desc(), Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if kind_list is not None:
            query = query.where(Job.kind.in_(kind_list))
        job = session.scalars(query).first()
        if job is None:
            return None
        if job.status == RUNNING:
            logger.warning(
                "job %s (%s): lease of %s ran out; %s takes it over", job.id, job.kind, job.locked_by, worker_id
            )
        job.status = RUNNING
        job.attempts += 1
        job.locked_by = worker_id
        job.locked_until = now + timedelta(seconds=lease_seconds)
        job.heartbeat_at = now
        job.started_at = now
        job.run_after = None
        return job


def _leased_job(session: Session, job_id: int, worker_id: str, action: str) -> Job:
    """The job, row-locked, if ``worker_id`` still holds it; else JobLeaseLostError."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise _job_not_found(job_id)
    if job.status != RUNNING or job.locked_by != worker_id:
        holder = f"held by {job.locked_by}" if job.status == RUNNING else job.status
        raise JobLeaseLostError(
            f"Cannot {action} job {job_id}: worker {worker_id} no longer holds it (it is {holder})."
        )
    return job


def heartbeat(
    database: Database, job_id: int, worker_id: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> datetime:
    """Extend the lease of a job ``worker_id`` holds; returns the new expiry.

    A lease that ran out still belongs to its worker until another worker claims the job, so a
    late heartbeat (or ``complete``) is accepted if nobody took the job over in between.
    """
    with database.session(write=True) as session:
        job = _leased_job(session, job_id, worker_id, "heartbeat")
        now = utcnow()
        job.heartbeat_at = now
        job.locked_until = now + timedelta(seconds=lease_seconds)
        return job.locked_until


def complete(database: Database, job_id: int, worker_id: str, result: Any = None) -> Job:
    """Record a job's result, once: refused (JobLeaseLostError) unless ``worker_id`` holds the job."""
    clean_result = _as_json(result, "result")
    with database.session(write=True) as session:
        job = _leased_job(session, job_id, worker_id, "complete")
        job.status = SUCCEEDED
        job.result = clean_result
        job.error = None
        job.locked_by = None
        job.locked_until = None
        job.finished_at = utcnow()
        return job


def fail(
    database: Database,
    job_id: int,
    worker_id: str,
    error: str,
    *,
    retryable: bool = True,
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
) -> Job:
    """Record a failed attempt by the worker holding the job.

    Retryable with attempts left: back to queued, runnable after an exponential backoff.
    Otherwise the job ends: ``failed`` if not retryable, ``dead`` once ``max_attempts`` are used.
    """
    with database.session(write=True) as session:
        job = _leased_job(session, job_id, worker_id, "fail")
        now = utcnow()
        job.error = error
        job.locked_by = None
        job.locked_until = None
        if not retryable:
            job.status = FAILED
            job.finished_at = now
        elif job.attempts >= job.max_attempts:
            job.status = DEAD
            job.finished_at = now
        else:
            job.status = QUEUED
            job.run_after = now + timedelta(seconds=backoff_delay(job.attempts, backoff_base_seconds))
        return job


def release(database: Database, job_id: int, worker_id: str) -> Job:
    """Give a held job back unfinished (the worker is stopping): queued again, the attempt not counted."""
    with database.session(write=True) as session:
        job = _leased_job(session, job_id, worker_id, "release")
        job.status = QUEUED
        job.attempts = max(job.attempts - 1, 0)
        job.locked_by = None
        job.locked_until = None
        job.run_after = None
        return job


def requeue(session: Session, job_id: int) -> Job:
    """Queue a failed or dead job again with a fresh set of attempts (after fixing the cause)."""
    job = session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise _job_not_found(job_id)
    if job.status not in (FAILED, DEAD):
        raise ConflictError(
            f"Job {job_id} is {job.status}; only failed or dead jobs can be queued again.",
            code="JobNotRetryable",
        )
    job.status = QUEUED
    job.attempts = 0
    job.run_after = None
    job.finished_at = None
    return job


# Handlers.


def sleep_handler(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """``core.sleep``: wait ``payload["seconds"]`` (at most an hour); a diagnostic for the worker."""
    seconds = payload.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 3600:
        raise BadRequestError(
            f"core.sleep needs 0 <= seconds <= 3600, got {seconds!r}.", hint='Enqueue {"seconds": 1.5}, say.'
        )
    time.sleep(seconds)
    return {"slept": seconds}


def _import_target(target: str) -> Any:
    module_name, separator, attribute_path = target.partition(":")
    if not separator or not module_name or not attribute_path:
        raise ConfigurationError(f"Handler {target!r} is not of the form 'module:attr'.")
    value: Any = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        value = getattr(value, attribute)
    return value


class JobRegistry:
    """Job kind → handler; entries are callables or lazy ``"module:attr"`` strings."""

    def __init__(self, entries: Mapping[str, str | JobHandler] | None = None) -> None:
        self._entries: dict[str, str | JobHandler] = {}
        for kind, target in (entries or {}).items():
            self.add(kind, target)

    def add(self, kind: str, target: str | JobHandler, *, replace: bool = False) -> None:
        if not KIND_PATTERN.match(kind) or len(kind) > KIND_MAX_LENGTH:
            raise ConfigurationError(f"Invalid job kind {kind!r}: use dotted lower-case words.")
        if kind in self._entries and not replace:
            raise ConfigurationError(f"Job kind {kind!r} is registered twice.")
        self._entries[kind] = target

    def register(self, kind: str) -> Callable[[HandlerT], HandlerT]:
        """Decorator: ``@registry.register("core.echo")`` above a ``handler(runtime, payload)``."""

        def decorate(handler: HandlerT) -> HandlerT:
            self.add(kind, handler)
            return handler

        return decorate

    def kinds(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def check(self, kind: str) -> None:
        """UnknownJobKindError, with the nearest known kinds, unless ``kind`` is registered."""
        if kind in self._entries:
            return
        close = difflib.get_close_matches(kind, self._entries, n=3, cutoff=0.6)
        suggestion = f" Did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
        raise UnknownJobKindError(
            f"Unknown job kind {kind!r}.{suggestion}",
            hint=f"Known kinds: {', '.join(self.kinds()) or '(none)'}.",
        )

    def resolve(self, kind: str) -> JobHandler:
        """The handler for ``kind``, importing a lazy entry on first use."""
        self.check(kind)
        target = self._entries[kind]
        if not isinstance(target, str):
            return target
        try:
            handler = _import_target(target)
        except (ImportError, AttributeError) as error:
            raise ConfigurationError(
                f"The handler of job kind {kind!r} ({target}) cannot be loaded: {error}",
                hint="Check the 'module:attr' entry and that its package is installed in the worker's environment.",
            ) from error
        if not callable(handler):
            raise ConfigurationError(f"The handler of job kind {kind!r} ({target}) is not callable.")
        self._entries[kind] = handler
        return handler  # type: ignore[no-any-return]


def default_registry() -> JobRegistry:
    """A fresh registry holding only core's kinds (``HANDLERS``); workers use ``runtime.registry``."""
    return JobRegistry(HANDLERS)


# The worker.


def make_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _Heartbeat:
    """Extends a job's lease from a background thread while its handler runs."""

    def __init__(self, database: Database, job_id: int, worker_id: str, lease_seconds: float) -> None:
        self.database = database
        self.job_id = job_id
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while not self._done.wait(interval):
            try:
                heartbeat(self.database, self.job_id, self.worker_id, lease_seconds=self.lease_seconds)
            except JobLeaseLostError:
                self.lost = True
                logger.warning("job %s: lease lost; another worker took it over", self.job_id)
                return
            except OperationalError as error:
                # The database may come back before the lease runs out: keep trying.
                logger.warning("job %s: heartbeat failed (%s); will retry", self.job_id, error)


class Worker:
    """Claims jobs of the kinds it has handlers for, runs them in this process, records outcomes.

    ``run()`` loops until ``stop()`` (or SIGTERM/SIGINT after ``install_signal_handlers()``): the
    job in hand is finished first. ``run_once()`` handles at most one job, for tests and cron.
    """

    def __init__(
        self,
        runtime: Runtime,
        registry: JobRegistry | None = None,
        *,
        kinds: Sequence[str] | None = None,
        worker_id: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = 1.0,
        backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.registry = registry if registry is not None else runtime.registry.job_registry()
        if kinds is not None:
            for kind in kinds:
                self.registry.check(kind)
        self.kinds = list(kinds) if kinds is not None else self.registry.kinds()
        self.worker_id = worker_id or make_worker_id()
        if lease_seconds <= 0 or poll_seconds < 0:
            raise BadRequestError("lease_seconds must be positive and poll_seconds not negative.")
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self._stop = threading.Event()

    @property
    def database(self) -> Database:
        return self.runtime.database

    def stop(self) -> None:
        """Stop after the job in hand (if any) is recorded."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT stop the worker gracefully; a second signal acts as usual (exits at once).

        Call from the main thread; returns a function that puts the previous handlers back.
        """
        previous: dict[int, Any] = {}

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)

        def handle(signal_number: int, _frame: FrameType | None) -> None:
            name = signal.Signals(signal_number).name
            logger.info("worker %s: %s received; stopping after the current job", self.worker_id, name)
            self.stop()
            restore()

        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.getsignal(number)
            signal.signal(number, handle)
        return restore

    def run(self, *, until_idle: bool = False) -> int:
        """Process jobs until stopped (or, with ``until_idle``, until none is ready); returns the count."""
        processed = 0
        logger.info("worker %s: started; kinds: %s", self.worker_id, ", ".join(self.kinds) or "(none)")
        while not self._stop.is_set():
            try:
                job = self.run_once()
            except OperationalError as error:
                # The database went away for a moment; a long-running worker waits for it.
                logger.warning("worker %s: database error (%s); retrying", self.worker_id, error)
                self._stop.wait(max(self.poll_seconds, 1.0))
                continue
            if job is not None:
                processed += 1
                continue
            if until_idle:
                break
            self._stop.wait(self.poll_seconds)
        logger.info("worker %s: stopped after %d jobs", self.worker_id, processed)
        return processed

    def run_once(self) -> Job | None:
        """Claim one ready job, run it and record the outcome; returns the job as recorded, or None."""
        job = claim(self.database, self.worker_id, self.kinds, lease_seconds=self.lease_seconds)
        if job is None:
            return None
        started = time.monotonic()
        logger.info(
            "job %s (%s): attempt %d/%d on %s", job.id, job.kind, job.attempts, job.max_attempts, self.worker_id
        )
        try:
            handler = self.registry.resolve(job.kind)
        except BatonError as error:
            return self._record_failure(job, error)
        try:
            with _Heartbeat(self.database, job.id, self.worker_id, self.lease_seconds):
                result = handler(self.runtime, dict(job.payload))
        except BatonError as error:  # raised on purpose: the message says it all
            return self._record_failure(job, error)
        except Exception as error:
            # Any other exception is the handler's failure, to be recorded on the job (with its
            # traceback) rather than end the worker. Ctrl-C and exits are handled just below.
            logger.exception("job %s (%s): handler raised %s", job.id, job.kind, type(error).__name__)
            return self._record_failure(job, error)
        except BaseException:
            # Interrupted (a second Ctrl-C, SystemExit): hand the job back for another worker.
            with contextlib.suppress(BatonError, OperationalError):
                release(self.database, job.id, self.worker_id)
            raise
        try:
            recorded = complete(self.database, job.id, self.worker_id, result)
        except JobLeaseLostError as error:
            logger.warning("job %s (%s): result not recorded: %s", job.id, job.kind, error.message)
            return self._reload(job.id)
        except BadRequestError as error:  # the handler returned something that is not JSON
            return self._record_failure(job, error)
        logger.info("job %s (%s): succeeded in %.2f s", job.id, job.kind, time.monotonic() - started)
        return recorded

    def _record_failure(self, job: Job, error: BaseException) -> Job:
        retryable = is_retryable(error)
        try:
            recorded = fail(
                self.database,
                job.id,
                self.worker_id,
                describe_error(error),
                retryable=retryable,
                backoff_base_seconds=self.backoff_base_seconds,
            )
        except JobLeaseLostError as lost:
            logger.warning("job %s (%s): failure not recorded: %s", job.id, job.kind, lost.message)
            return self._reload(job.id)
        if recorded.status == QUEUED:
            logger.warning(
                "job %s (%s): attempt %d failed (%s); retry after %s",
                job.id,
                job.kind,
                recorded.attempts,
                type(error).__name__,
                recorded.run_after,
            )
        else:
            summary = (recorded.error or "").partition("\n")[0]
            logger.error(
                "job %s (%s): %s after attempt %d: %s", job.id, job.kind, recorded.status, recorded.attempts, summary
            )
        return recorded

    def _reload(self, job_id: int) -> Job:
        with self.database.session() as session:
            return get(session, job_id)
