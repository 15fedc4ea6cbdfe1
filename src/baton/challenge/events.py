"""Events the challenge publishes (see ``baton.core.events``)."""

from __future__ import annotations

from datetime import datetime

from baton.core.events import Event


class TeamLeft(Event):
    """A team has left the challenge for good: its elimination became final, or the challenge ended.

    Published in the transaction that makes the exit final; the commons runs the team's release
    plan and the talent pool invites its people, each as its own job.
    """

    kind = "challenge.team_left"

    challenge: str  # challenge slug
    team: str  # team slug
    stage: str  # the stage at which the team left
    reason: str  # "eliminated" or "challenge_ended"
    at: datetime  # when the exit became final (Baton's clock); the reactions are stamped with it
    organizations: tuple[str, ...] = ()  # account names of the consortium's organizations
    members: tuple[str, ...] = ()  # user names of the team's people

    def key(self) -> str:
        return f"{self.challenge}:{self.team}"  # a team leaves a challenge once
