"""What the commons domain brings: release plans, the catalogue, personal-data and license checks."""

from __future__ import annotations

from baton.challenge.events import TeamLeft
from baton.commons import api, models, release  # noqa: F401  (models: the domain's tables)
from baton.commons.events import ItemReleased
from baton.core.registry import Registry
from baton.hub.events import CommitLanded
from baton.provenance.events import ScanFinished

RELEASE_DUE_SECONDS = 3600  # embargo dates are days; an hour's delay in opening is acceptable


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.publishes(ItemReleased)
    # A team that left for good: its release plan runs (checks first, then opening the repos).
    registry.subscribe(TeamLeft, "run_release_plan", release.run_release_plan)
    # A new commit to a repo whose release is held re-checks its findings.
    registry.subscribe(CommitLanded, "recheck_held_release", release.recheck_on_commit)
    # A finished provenance scan may change what the license check finds (verified lineage).
    registry.subscribe(ScanFinished, "recheck_after_scan", release.recheck_after_scan)
    # Embargoes whose date has come are released, hourly.
    registry.every("commons.release_due", RELEASE_DUE_SECONDS, release.release_due_sweep)
    registry.job("commons.release_recheck", release.recheck_job)
