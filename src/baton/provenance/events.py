"""Events the provenance domain publishes (see ``baton.core.events``)."""

from __future__ import annotations

from datetime import datetime

from baton.core.events import Event


class ScanFinished(Event):
    """A model revision's scan finished and its reports are stored (published in that transaction).

    What was built on the old verdicts can look again: the commons re-checks the repo's held
    releases, whose license check reads the verdicts that speak for the head's weights.
    """

    kind = "provenance.scan_finished"

    repo_pk: int
    repo: str  # "namespace/name"
    commit: str
    finished_at: datetime  # a rescan of the same revision is another event

    def key(self) -> str:
        return f"{self.repo_pk}:{self.commit}:{self.finished_at.isoformat()}"
