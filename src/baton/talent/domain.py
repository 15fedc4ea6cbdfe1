"""What the talent domain brings: profiles, consent, openings, matching and invitations."""

from __future__ import annotations

from baton.challenge.events import TeamLeft
from baton.core.registry import Registry
from baton.talent import api, models  # noqa: F401  (models: the domain's tables)
from baton.talent.service import invitations


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.job("talent.retention", "baton.talent.retention:retention_job")
    # A team that left for good: its people are invited to opt in to the pool.
    registry.subscribe(TeamLeft, "invite_team", invitations.invite_team)
