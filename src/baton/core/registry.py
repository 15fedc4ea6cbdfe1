"""The one place where domains plug into Baton.

Each domain has a ``domain.py`` with a ``register(registry)`` function that declares, in one
place, what the domain brings: its tables (by importing its models), its HTTP routers, its job
kinds, the events it publishes and the handlers it runs for other domains' events.
``baton.domains.build_registry`` calls them in layer order; ``create_app``, the CLI and the
worker use the registry it returns, so every entry point has the same routes, jobs and reactions.

``core`` itself knows no domain: it only offers this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from baton.core import events, jobs, schedule
from baton.core.errors import ConfigurationError

if TYPE_CHECKING:
    from fastapi import APIRouter

    from baton.core.runtime import Runtime

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


@dataclass(frozen=True)
class RouterEntry:
    domain: str
    router: APIRouter
    fallback: bool = False  # matched after every other router (broad patterns, e.g. HF download paths)
    first: bool = False  # matched before the others (a specific path a lower domain's pattern would take)


@dataclass
class Registry:
    """What the domains registered: routers, job kinds, events and their handlers."""

    event_max_attempts: int = events.DEFAULT_HANDLER_ATTEMPTS
    domains: list[str] = field(default_factory=list)
    routers: list[RouterEntry] = field(default_factory=list)
    startup: list[Callable[[Runtime], object]] = field(default_factory=list)
    _jobs: dict[str, str | jobs.JobHandler] = field(default_factory=dict)
    _job_owners: dict[str, str] = field(default_factory=dict)
    bus: events.EventBus = field(init=False)
    _current: str | None = None

    def __post_init__(self) -> None:
        self.bus = events.EventBus(max_attempts=self.event_max_attempts)
        self.add_domain("core", _register_core)

    # Declaring a domain.

    def add_domain(self, name: str, register: Callable[[Registry], None]) -> None:
        """Run ``register(self)`` with ``name`` as the domain everything it adds belongs to."""
        if name in self.domains:
            raise ConfigurationError(f"Domain {name!r} is registered twice.")
        self.domains.append(name)
        self._current = name
        try:
            register(self)
        finally:
            self._current = None

    def _owner(self) -> str:
        if self._current is None:
            raise ConfigurationError("Register through Registry.add_domain(name, register).")
        return self._current

    # What a domain can add.

    def job(self, kind: str, target: str | jobs.JobHandler) -> None:
        """A job kind and its handler: a callable, or a lazy "module:attr" imported on first use."""
        owner = self._owner()
        if not kind.startswith(f"{owner}."):
            raise ConfigurationError(f"Domain {owner!r} may only add job kinds named '{owner}.…', not {kind!r}.")
        if kind in self._jobs:
            raise ConfigurationError(f"Job kind {kind!r} is registered twice.")
        self._jobs[kind] = target
        self._job_owners[kind] = owner

    def publishes(self, *event_types: type[events.Event]) -> None:
        """The events this domain publishes (and no other domain does)."""
        owner = self._owner()
        for event_type in event_types:
            if not event_type.kind.startswith(f"{owner}."):
                raise ConfigurationError(f"Domain {owner!r} may only publish events named '{owner}.…'.")
            self.bus.declare(event_type, owner=owner)

    def on(
        self, event_type: type[events.Event], name: str, *, max_attempts: int | None = None
    ) -> Callable[[HandlerT], HandlerT]:
        """Decorator: run the function as job ``<domain>.<name>`` for each ``event_type`` published."""
        owner = self._owner()

        def decorate(handler: HandlerT) -> HandlerT:
            self.subscribe(event_type, name, handler, max_attempts=max_attempts, owner=owner)
            return handler

        return decorate

    def subscribe(
        self,
        event_type: type[events.Event],
        name: str,
        handler: events.EventHandler,
        *,
        max_attempts: int | None = None,
        owner: str | None = None,
    ) -> None:
        owner = owner or self._owner()
        kind = f"{owner}.{name}"
        if kind in self._jobs:
            raise ConfigurationError(f"Job kind {kind!r} is registered twice.")
        self.bus.subscribe(events.Subscription(event_type, kind, handler, max_attempts))
        self._job_owners[kind] = owner

    def router(self, router: APIRouter, *, fallback: bool = False, first: bool = False) -> None:
        """An HTTP router; ``create_app`` includes them in registration order, ``first`` ones before, fallbacks last."""
        if fallback and first:
            raise ConfigurationError("A router is matched first or as a fallback, not both.")
        self.routers.append(RouterEntry(self._owner(), router, fallback, first))

    def ordered_routers(self) -> list[APIRouter]:
        """The routers in the order they are matched: ``first`` ones, the rest in registration order, fallbacks."""
        return (
            [e.router for e in self.routers if e.first]
            + [e.router for e in self.routers if not e.first and not e.fallback]
            + [e.router for e in self.routers if e.fallback]
        )

    def every(self, kind: str, seconds: int, action: Callable[[Runtime], dict[str, Any]]) -> schedule.Periodic:
        """A periodic job: ``action(runtime)`` once per ``seconds``, its chain started with each server and worker."""
        periodic = schedule.Periodic(kind, seconds, action)
        self.job(kind, periodic.run)
        self.on_startup(periodic.ensure)
        return periodic

    def on_startup(self, action: Callable[[Runtime], object]) -> None:
        """Something to do once when a server or worker starts (e.g. make sure a sweep is queued)."""
        self.startup.append(action)

    # What the entry points use.

    def job_registry(self) -> jobs.JobRegistry:
        """A fresh job registry with every registered kind (the worker's)."""
        registry = jobs.JobRegistry(self._jobs)
        for kind, handler in self.bus.job_handlers().items():
            registry.add(kind, handler)
        return registry

    def job_owner(self, kind: str) -> str | None:
        return self._job_owners.get(kind)

    def event_job_kinds(self) -> list[str]:
        """The dispatcher and every event handler's job kind."""
        return [events.DISPATCH_KIND, *(s.job_kind for s in self.bus.subscriptions())]

    def describe(self) -> dict[str, Any]:
        """Who publishes what and who reacts, for ``baton events`` and the docs' tests."""
        return {
            "domains": list(self.domains),
            "events": {
                kind: {
                    "publisher": self.bus.owner(kind),
                    "handlers": [s.job_kind for s in self.bus.subscriptions(kind)],
                }
                for kind in sorted(self.bus.event_types())
            },
            "jobs": sorted(set(self._jobs) | set(self.bus.job_handlers())),
        }


def _register_core(registry: Registry) -> None:
    registry.job("core.sleep", jobs.sleep_handler)
    registry._job_owners[events.DISPATCH_KIND] = "core"
