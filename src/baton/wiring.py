"""Cross-domain wiring in one place: which domains react to which events.

Domains never import the domains that react to them; ``wire`` registers the reactions on a
runtime. ``create_app`` and the CLI commands that act without the HTTP app both call it, so a
commit or a team's exit triggers the same work whichever way it was made. The job kinds whose
handlers need those reactions (the finality sweep) or live in a domain core must not name (the
commons) are registered in ``baton.core.jobs.HANDLERS`` as the handlers below.
"""

from __future__ import annotations

from typing import Any

from baton.core.runtime import Runtime


def _add(listeners: list[Any], listener: Any) -> None:
    if listener not in listeners:
        listeners.append(listener)


def wire(runtime: Runtime) -> Runtime:
    """Register every domain's listeners on ``runtime`` (idempotent); returns it."""
    from baton.provenance import service as provenance_service

    _add(runtime.commit_listeners, provenance_service.on_commit)
    from baton.talent import service as talent_service

    _add(runtime.team_exit_listeners, talent_service.on_team_exit)
    # A team's final exit runs its release plan (checks first, then opening the repos).
    from baton.commons import release as commons_release

    _add(runtime.team_exit_listeners, commons_release.on_team_exit)
    # A new commit to a repo whose release is held queues a re-check of its findings.
    _add(runtime.commit_listeners, commons_release.on_commit)
    # The challenge's finality sweep also releases the embargoes that have come due.
    _add(runtime.sweep_listeners, commons_release.on_sweep)
    return runtime


# Job handlers (``baton.core.jobs.HANDLERS``), delegating to the domains.


def finalize_due_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """``challenge.finalize_due``: the challenge's finality sweep (``baton.challenge.timer``) on a
    wired runtime (a bare worker's too), so that the exits run the release plans and due embargoes
    are released."""
    from baton.challenge import timer

    return timer.finalize_due_job(wire(runtime), payload)


def release_due_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """``challenge.release_due``: ``baton.commons.release.release_due_job``."""
    from baton.commons import release as commons_release

    return commons_release.release_due_job(runtime, payload)


def recheck_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """``challenge.release_recheck``: ``baton.commons.release.recheck_job``."""
    from baton.commons import release as commons_release

    return commons_release.recheck_job(runtime, payload)
