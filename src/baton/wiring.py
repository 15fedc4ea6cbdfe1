"""Cross-domain wiring in one place: which domains react to which events.

Domains never import the domains that react to them; ``wire`` registers the reactions on a
runtime. ``create_app`` and the CLI commands that act without the HTTP app both call it, so a
commit or a team's exit triggers the same work whichever way it was made.
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
    from baton.challenge import release as challenge_release

    _add(runtime.team_exit_listeners, challenge_release.on_team_exit)
    # A new commit to a repo whose release is held queues a re-check of its findings.
    _add(runtime.commit_listeners, challenge_release.on_commit)
    return runtime
