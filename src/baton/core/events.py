"""Domain events with durable delivery: an outbox in the same transaction as the change.

A domain that changes state says what happened by publishing a typed :class:`Event` in the
*same* session (and so the same transaction) as the change::

    events.publish(session, TeamLeft(challenge="c", team="t", ...))

``publish`` writes a row to the ``events`` table and queues one ``events.dispatch`` job, both
committed (or rolled back) with the change itself: there is no moment at which the change is
stored but its consequences are forgotten, whichever entry point (HTTP, CLI, worker sweep,
demo) made it. The dispatch job, run by any worker, queues one job per registered handler of
the event's kind (deduplicated by event and handler), so each handler runs at least once, with
the jobs' retries and exponential back-off, visible in ``baton jobs list`` and, after its last
attempt fails, left ``dead`` with the error until an operator replays it with
``baton jobs retry``. Handlers must therefore be idempotent: a worker killed after a handler's
effect committed but before the job was marked done runs it again.

An event has a ``key``: publishing the same kind and key twice stores it once (the second publish
returns the first event), so a retried transaction cannot announce one change twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from baton.core import jobs
from baton.core.database import Base, UTCDateTime, utcnow
from baton.core.errors import BadRequestError, ConfigurationError, NotFoundError

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

DISPATCH_KIND = "events.dispatch"
DEFAULT_HANDLER_ATTEMPTS = 5  # BATON_EVENT_MAX_ATTEMPTS overrides it
KEY_MAX_LENGTH = 255


class Event(BaseModel):
    """A fact a domain announces. Subclasses set ``kind`` ("<domain>.<past-tense verb>") and fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str]

    def key(self) -> str:
        """What makes two publications the same event; by default, all of its fields."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class StoredEvent(Base):
    """The outbox: one row per published event, written in the transaction that caused it."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_events_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


EventHandler = Callable[["Runtime", Any], Any]


@dataclass(frozen=True)
class Subscription:
    """A handler of one event type, run as jobs of kind ``job_kind``."""

    event: type[Event]
    job_kind: str
    handler: EventHandler
    max_attempts: int | None = None  # None: the bus's default


def publish(session: Session, event: Event) -> StoredEvent:
    """Store ``event`` in the outbox with the caller's transaction and queue its dispatch.

    Returns the stored event (the earlier one if this kind and key were published before).
    """
    kind = type(event).kind
    key = event.key()
    if not 0 < len(key) <= KEY_MAX_LENGTH:
        raise ConfigurationError(f"Event {kind!r} has a key of {len(key)} characters; at most {KEY_MAX_LENGTH}.")
    existing = _find(session, kind, key)
    if existing is not None:
        return existing
    stored = StoredEvent(kind=kind, key=key, payload=event.model_dump(mode="json"), created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(stored)
    except DatabaseIntegrityError:  # published at the same moment by another transaction
        again = _find(session, kind, key)
        if again is None:
            raise
        return again
    jobs.enqueue(session, DISPATCH_KIND, {"event": stored.id}, dedupe_key=f"event:{stored.id}", priority=10)
    return stored


def _find(session: Session, kind: str, key: str) -> StoredEvent | None:
    return session.scalars(select(StoredEvent).where(StoredEvent.kind == kind, StoredEvent.key == key)).first()


def published(session: Session, event_type: type[Event] | None = None) -> list[StoredEvent]:
    """The stored events, oldest first (of one type, if given)."""
    query = select(StoredEvent).order_by(StoredEvent.id)
    if event_type is not None:
        query = query.where(StoredEvent.kind == event_type.kind)
    return list(session.scalars(query))


class EventBus:
    """Which handlers react to which events; builds the job handlers that deliver them."""

    def __init__(self, *, max_attempts: int = DEFAULT_HANDLER_ATTEMPTS) -> None:
        self.max_attempts = max_attempts
        self._types: dict[str, type[Event]] = {}
        self._owners: dict[str, str] = {}
        self._subscriptions: dict[str, list[Subscription]] = {}

    def declare(self, event_type: type[Event], *, owner: str) -> None:
        """``owner`` (a domain) publishes ``event_type``; each kind has one owner."""
        kind = getattr(event_type, "kind", None)
        if not isinstance(kind, str) or not jobs.KIND_PATTERN.match(kind):
            raise ConfigurationError(f"Event class {event_type.__name__} needs a kind like 'domain.happened'.")
        if kind in self._types and self._types[kind] is not event_type:
            raise ConfigurationError(f"Event kind {kind!r} is declared twice.")
        self._types[kind] = event_type
        self._owners[kind] = owner

    def subscribe(self, subscription: Subscription) -> None:
        kind = subscription.event.kind
        if kind not in self._types:
            raise ConfigurationError(
                f"{subscription.job_kind} subscribes to {kind!r}, which no domain declares it publishes."
            )
        if any(s.job_kind == subscription.job_kind for s in self.subscriptions()):
            raise ConfigurationError(f"Event handler {subscription.job_kind!r} is registered twice.")
        self._subscriptions.setdefault(kind, []).append(subscription)

    def event_types(self) -> dict[str, type[Event]]:
        return dict(self._types)

    def owner(self, kind: str) -> str:
        return self._owners[kind]

    def subscriptions(self, kind: str | None = None) -> list[Subscription]:
        if kind is not None:
            return list(self._subscriptions.get(kind, []))
        return [s for subscriptions in self._subscriptions.values() for s in subscriptions]

    def load(self, session: Session, event_id: int) -> tuple[StoredEvent, Event]:
        stored = session.get(StoredEvent, event_id)
        if stored is None:
            raise NotFoundError(f"Event {event_id} does not exist.")
        event_type = self._types.get(stored.kind)
        if event_type is None:
            raise ConfigurationError(f"Event {event_id} is of kind {stored.kind!r}, which this process does not know.")
        try:
            return stored, event_type.model_validate(stored.payload)
        except ValidationError as error:
            raise ConfigurationError(
                f"Event {event_id} ({stored.kind}) no longer matches its class: {error}"
            ) from error

    def job_handlers(self) -> dict[str, jobs.JobHandler]:
        """The job kinds this bus needs: the dispatcher and one per subscription."""
        handlers: dict[str, jobs.JobHandler] = {DISPATCH_KIND: self._dispatch}
        for subscription in self.subscriptions():
            handlers[subscription.job_kind] = self._deliverer(subscription)
        return handlers

    def _dispatch(self, runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
        event_id = _event_id(payload)
        with runtime.database.session(write=True) as session:
            stored = session.get(StoredEvent, event_id)
            if stored is None:
                raise NotFoundError(f"Event {event_id} does not exist.")
            queued = []
            for subscription in self.subscriptions(stored.kind):
                attempts = subscription.max_attempts or self.max_attempts
                jobs.enqueue(
                    session,
                    subscription.job_kind,
                    {"event": stored.id},
                    dedupe_key=f"event:{stored.id}:{subscription.job_kind}",
                    max_attempts=attempts,
                    priority=5,
                )
                queued.append(subscription.job_kind)
            stored.dispatched_at = stored.dispatched_at or utcnow()
            return {"event": stored.id, "kind": stored.kind, "handlers": queued}

    def _deliverer(self, subscription: Subscription) -> jobs.JobHandler:
        def deliver(runtime: Runtime, payload: dict[str, Any]) -> Any:
            with runtime.database.session() as session:
                _stored, event = self.load(session, _event_id(payload))
            return subscription.handler(runtime, event)

        deliver.__name__ = f"deliver_{subscription.job_kind.replace('.', '_')}"
        return deliver


def _event_id(payload: dict[str, Any]) -> int:
    event_id = payload.get("event")
    if not isinstance(event_id, int) or isinstance(event_id, bool):
        raise BadRequestError("An event job's payload needs an integer 'event'.")
    return event_id


def drain(runtime: Runtime, *, worker_id: str | None = None) -> int:
    """Deliver every pending event now, in this process (the CLI and the demo, so their user sees the
    effects at once; a running worker would deliver them too). Returns how many jobs ran.

    Only event jobs run (the dispatcher and the handlers, including those of events that the
    handlers publish in turn); a handler that fails waits for its retry like any job.
    """
    worker = jobs.Worker(runtime, kinds=runtime.registry.event_job_kinds(), worker_id=worker_id, poll_seconds=0)
    return worker.run(until_idle=True)
