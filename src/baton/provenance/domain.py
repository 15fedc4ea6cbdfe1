"""What the provenance domain brings: weight fingerprints, comparisons and reports."""

from __future__ import annotations

from typing import Any

from baton.core.registry import Registry
from baton.core.runtime import Runtime
from baton.hub.events import CommitLanded
from baton.hub.models import Commit, Repo
from baton.provenance import api, follow, models, service  # noqa: F401  (models: the domain's tables)
from baton.provenance.events import ScanFinished


def register(registry: Registry) -> None:
    registry.router(api.router)
    registry.job(service.SCAN_JOB, "baton.provenance.service:scan_job")
    registry.publishes(ScanFinished)
    registry.subscribe(CommitLanded, "scan_new_weights", scan_new_weights)


def scan_new_weights(runtime: Runtime, event: CommitLanded) -> dict[str, Any]:
    """New weights on a model's default branch get fingerprinted and scanned (once per revision)."""
    if event.repo_type != "model" or not event.default_branch:
        return {"queued": False}
    if not event.paths_truncated and not service.has_weights(list(event.changed_paths)):
        return {"queued": False}
    with runtime.database.session(write=True) as session:
        repo = session.get(Repo, event.repo_pk)
        if repo is None:  # deleted since
            return {"queued": False}
        commit = session.get(Commit, event.commit)
        if commit is None or follow.weights_identity(session, commit) is None:
            # No weights provenance reads (all deleted, or a *.data file beside no ONNX graph).
            return {"queued": False}
        # Weight files rewritten with the same bytes (or put back as they were): the reports follow.
        same = follow.basis_for(session, repo.id, event.commit).computed_on
        if same is not None and same != event.commit:
            return {"queued": False, "same_weights_as": same}
        job = service.enqueue_scan(session, repo, event.commit)
        return {"queued": True, "job": job.id}
