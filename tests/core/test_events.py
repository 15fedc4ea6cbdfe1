"""Domain events: written with the change that caused them, delivered to handlers as retried jobs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from baton.core import events, jobs
from baton.core.errors import ConfigurationError
from baton.core.job_models import Job
from baton.core.registry import Registry
from baton.core.runtime import Runtime


class ThingHappened(events.Event):
    kind = "alpha.thing_happened"
    name: str
    size: int = 0


class OtherThing(events.Event):
    kind = "alpha.other_thing"
    name: str


def make_registry(calls: list[tuple[str, str]], *, fail_times: int = 0, max_attempts: int | None = None) -> Registry:
    failures = {"left": fail_times}

    def register_alpha(registry: Registry) -> None:
        registry.publishes(ThingHappened, OtherThing)

    def register_beta(registry: Registry) -> None:
        @registry.on(ThingHappened, "count", max_attempts=max_attempts)
        def count(_runtime: Runtime, event: ThingHappened) -> dict[str, Any]:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise RuntimeError("the handler broke")
            calls.append(("count", event.name))
            return {"counted": event.name}

        @registry.on(ThingHappened, "mirror")
        def mirror(_runtime: Runtime, event: ThingHappened) -> None:
            calls.append(("mirror", event.name))

    registry = Registry(event_max_attempts=3)
    registry.add_domain("alpha", register_alpha)
    registry.add_domain("beta", register_beta)
    return registry


def drain(runtime: Runtime, registry: Registry) -> int:
    worker = jobs.Worker(runtime, registry.job_registry(), backoff_base_seconds=0, poll_seconds=0)
    return worker.run(until_idle=True)


def all_jobs(runtime: Runtime) -> list[Job]:
    with runtime.database.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_an_event_is_stored_with_its_change_and_each_handler_runs_once(runtime: Runtime) -> None:
    calls: list[tuple[str, str]] = []
    registry = make_registry(calls)
    with runtime.database.session(write=True) as session:
        stored = events.publish(session, ThingHappened(name="a", size=3))
        again = events.publish(session, ThingHappened(name="a", size=3))  # the same fact: stored once
        assert again.id == stored.id
    assert drain(runtime, registry) == 3  # the dispatch, then one job per handler
    assert sorted(calls) == [("count", "a"), ("mirror", "a")]
    kinds = [(job.kind, job.status) for job in all_jobs(runtime)]
    assert kinds == [
        ("events.dispatch", "succeeded"),
        ("beta.count", "succeeded"),
        ("beta.mirror", "succeeded"),
    ]
    with runtime.database.session() as session:
        (row,) = events.published(session, ThingHappened)
        assert row.dispatched_at is not None and row.payload == {"name": "a", "size": 3}

    # Dispatching the same event again (a dispatcher that died before it was marked done) queues nothing new.
    dispatch = registry.job_registry().resolve(events.DISPATCH_KIND)
    dispatch(runtime, {"event": stored.id})
    assert drain(runtime, registry) == 0 and len(calls) == 2


def test_a_rolled_back_change_announces_nothing(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.database.session(write=True) as session:
        events.publish(session, ThingHappened(name="never"))
        raise RuntimeError("the change failed")
    with runtime.database.session() as session:
        assert events.published(session) == []
    assert all_jobs(runtime) == []


def test_a_failing_handler_is_retried_then_dead_lettered_then_replayed(runtime: Runtime) -> None:
    calls: list[tuple[str, str]] = []
    registry = make_registry(calls, fail_times=10)  # the bus's default: 3 attempts
    with runtime.database.session(write=True) as session:
        events.publish(session, ThingHappened(name="b"))
    drain(runtime, registry)
    count_job = next(job for job in all_jobs(runtime) if job.kind == "beta.count")
    assert (count_job.status, count_job.attempts, count_job.max_attempts) == ("dead", 3, 3)
    assert count_job.error is not None and "the handler broke" in count_job.error
    assert calls == [("mirror", "b")]  # the other handler is not held back

    # The operator fixes the cause and replays the dead job (``baton jobs retry``).
    registry = make_registry(calls)
    with runtime.database.session(write=True) as session:
        jobs.requeue(session, count_job.id)
    drain(runtime, registry)
    assert sorted(calls) == [("count", "b"), ("mirror", "b")]


def test_a_handler_can_set_its_own_attempts(runtime: Runtime) -> None:
    registry = make_registry([], fail_times=1, max_attempts=1)
    with runtime.database.session(write=True) as session:
        events.publish(session, ThingHappened(name="c"))
    drain(runtime, registry)
    count_job = next(job for job in all_jobs(runtime) if job.kind == "beta.count")
    assert (count_job.status, count_job.max_attempts) == ("dead", 1)


def test_registration_mistakes_are_refused() -> None:
    registry = Registry()

    def subscribes_to_undeclared(r: Registry) -> None:
        r.subscribe(ThingHappened, "x", lambda _runtime, _event: None)

    with pytest.raises(ConfigurationError, match="no domain declares"):
        registry.add_domain("beta", subscribes_to_undeclared)

    def publishes_foreign(r: Registry) -> None:
        r.publishes(ThingHappened)  # kind alpha.*, domain gamma

    with pytest.raises(ConfigurationError, match="may only publish events named 'gamma"):
        registry.add_domain("gamma", publishes_foreign)

    def adds_foreign_job(r: Registry) -> None:
        r.job("alpha.thing", jobs.sleep_handler)

    with pytest.raises(ConfigurationError, match="may only add job kinds"):
        registry.add_domain("delta", adds_foreign_job)

    registry.add_domain("alpha", lambda r: r.publishes(ThingHappened))

    def twice(r: Registry) -> None:
        r.subscribe(ThingHappened, "same", lambda _runtime, _event: None)
        r.subscribe(ThingHappened, "same", lambda _runtime, _event: None)

    with pytest.raises(ConfigurationError, match="registered twice"):
        registry.add_domain("epsilon", twice)
    with pytest.raises(ConfigurationError, match="registered twice"):
        registry.add_domain("alpha", lambda r: None)
    with pytest.raises(ConfigurationError, match="add_domain"):
        registry.job("loose.job", jobs.sleep_handler)


def test_describe_lists_publishers_and_handlers() -> None:
    registry = make_registry([])
    described = registry.describe()
    assert described["events"]["alpha.thing_happened"] == {
        "publisher": "alpha",
        "handlers": ["beta.count", "beta.mirror"],
    }
    assert described["events"]["alpha.other_thing"]["handlers"] == []
    assert {"core.sleep", "events.dispatch", "beta.count"} <= set(described["jobs"])
