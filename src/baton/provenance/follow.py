"""Reports follow a repo across commits: the weights' identity is the key, not the commit.

A release commit (the card gets a license and tags) or a README edit leaves the weights as they
were, so the reports computed on an earlier revision with the same weights apply to the new one
unchanged. A commit that changes the weights gets a scan of its own (``provenance.scan``, queued
by ``domain.scan_new_weights``); until it finishes, the repo's summary says the scan is pending
(or stale, when it failed or was never queued) and shows the earlier verdicts as *previous*,
computed on other weights, instead of answering "no references".

A revision's weights are identified by sha256 over the sorted content hashes (sha256) of its weight
files, ``*.safetensors`` and ``*.safetensors.index.json``; a revision without them whose weights are
an ONNX graph (``model.onnx`` at the top) is identified by ``model.onnx`` and its external data files
(``*.onnx.data``, ``*.onnx_data``, ``*.data``). Renaming a safetensors file does not change the
identity, changing any byte of a tensor does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.core.database import utcnow
from baton.core.job_models import DEAD, Job
from baton.hub.models import Commit, TreeEntry
from baton.provenance.models import ProvenanceReport, RevisionScan

WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")
ONNX_FILE = "model.onnx"
ONNX_DATA_SUFFIXES = (".onnx.data", ".onnx_data", ".data")


def weight_files(paths: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (path, sha256) pairs provenance reads: safetensors files, or else an ONNX graph's files."""
    safetensors = [(path, sha) for path, sha in paths if path.endswith(WEIGHT_SUFFIXES)]
    if safetensors or ONNX_FILE not in {path for path, _ in paths}:
        return safetensors
    return [(path, sha) for path, sha in paths if path == ONNX_FILE or path.endswith(ONNX_DATA_SUFFIXES)]


def touches_weights(paths: list[str]) -> bool:
    """Whether a commit changing these paths may change the weights (a scan decides by identity)."""
    return any(path.endswith((*WEIGHT_SUFFIXES, ".onnx", *ONNX_DATA_SUFFIXES)) for path in paths)


PENDING, DONE = "pending", "done"


def weights_identity(session: Session, commit: Commit) -> str | None:
    """The identity of the revision's weights (None: it has no weight files)."""
    entries = [
        (str(path), str(sha256))
        for path, sha256 in session.execute(
            select(TreeEntry.path, TreeEntry.sha256).where(TreeEntry.tree_id == commit.tree_id)
        )
    ]
    hashes = sorted(sha256 for _, sha256 in weight_files(entries))
    if not hashes:
        return None
    return hashlib.sha256(("baton-weights-v1\n" + "\n".join(hashes)).encode()).hexdigest()


def _scan_row(session: Session, repo_pk: int, commit_oid: str) -> RevisionScan | None:
    return session.scalar(
        select(RevisionScan).where(RevisionScan.repo_id == repo_pk, RevisionScan.commit_oid == commit_oid)
    )


def record_queued(session: Session, repo_pk: int, commit_oid: str, job_id: int | None) -> RevisionScan:
    """A scan of the revision was queued (a finished one stays finished: a rescan replaces its reports)."""
    row = _scan_row(session, repo_pk, commit_oid)
    if row is None:
        commit = session.get(Commit, commit_oid)
        row = RevisionScan(
            repo_id=repo_pk,
            commit_oid=commit_oid,
            weights=weights_identity(session, commit) if commit is not None else None,
            state=PENDING,
            job_id=job_id,
        )
        session.add(row)
    elif row.state != DONE:
        row.job_id = job_id
    session.flush()
    return row


def record_done(session: Session, repo_pk: int, commit_oid: str) -> RevisionScan:
    """The revision's scan finished: its reports are complete (none at all means no reference was found)."""
    row = _scan_row(session, repo_pk, commit_oid)
    if row is None:
        commit = session.get(Commit, commit_oid)
        row = RevisionScan(
            repo_id=repo_pk,
            commit_oid=commit_oid,
            weights=weights_identity(session, commit) if commit is not None else None,
            state=DONE,
        )
        session.add(row)
    row.state = DONE
    row.finished_at = utcnow()
    session.flush()
    return row


@dataclass(frozen=True)
class Basis:
    """Which stored reports speak for a revision.

    ``computed_on``: the revision whose reports apply to this one (itself, or an earlier one with the
    same weights), or None. ``scan``: ``done`` (they apply), ``pending`` (a scan of these weights is
    queued or running), ``failed`` (its job gave up) or ``none`` (never queued). ``previous``: when
    nothing applies, the newest scanned revision of the repo (other weights), or None.
    """

    commit: str
    weights: str | None
    computed_on: str | None
    scan: str
    previous: str | None = None


def _has_reports(session: Session, repo_pk: int, commit_oid: str) -> bool:
    return (
        session.scalar(
            select(ProvenanceReport.id)
            .where(ProvenanceReport.repo_id == repo_pk, ProvenanceReport.commit_oid == commit_oid)
            .limit(1)
        )
        is not None
    )


def basis_for(session: Session, repo_pk: int, commit_oid: str) -> Basis:
    """The reports that speak for ``commit_oid`` of the repo, found by its weights."""
    own = _scan_row(session, repo_pk, commit_oid)
    if (own is not None and own.state == DONE) or _has_reports(session, repo_pk, commit_oid):
        return Basis(commit_oid, own.weights if own is not None else None, commit_oid, DONE)
    commit = session.get(Commit, commit_oid)
    weights = own.weights if own is not None else (weights_identity(session, commit) if commit is not None else None)
    same: list[RevisionScan] = []
    if weights is not None:
        same = list(
            session.scalars(
                select(RevisionScan)
                .where(RevisionScan.repo_id == repo_pk, RevisionScan.weights == weights)
                .order_by(RevisionScan.id.desc())
            )
        )
        done = [row for row in same if row.state == DONE]
        if done:
            newest = max(done, key=lambda row: (row.finished_at or row.requested_at, row.id))
            return Basis(commit_oid, weights, newest.commit_oid, DONE)
    state = "none"
    queued = [row for row in ([own] if own is not None else []) + same if row.state == PENDING]
    if queued:
        state = "failed"
        for row in queued:
            job = session.get(Job, row.job_id) if row.job_id is not None else None
            if job is None or job.status != DEAD:
                state = PENDING
                break
    previous = session.scalar(
        select(RevisionScan.commit_oid)
        .where(RevisionScan.repo_id == repo_pk, RevisionScan.state == DONE)
        .order_by(RevisionScan.finished_at.desc(), RevisionScan.id.desc())
        .limit(1)
    )
    if previous is None:  # reports stored without a scan record (a compare requested by hand)
        previous = session.scalar(
            select(ProvenanceReport.commit_oid)
            .where(ProvenanceReport.repo_id == repo_pk)
            .order_by(ProvenanceReport.id.desc())
            .limit(1)
        )
    return Basis(commit_oid, weights, None, state, previous)
