"""Provenance in the hub: fingerprint model revisions, pick candidates, compare, store reports.

Flow for a new commit on a model repo's default branch (run by the ``provenance.scan`` job):
1. ``fingerprint_revision`` streams the checkpoint once and stores every tensor's digest plus a
   small architecture signature, and one short vector per component (``provenance.components``:
   the hub-wide component index), all from one read of each tensor. Nothing else is kept.
2. ``candidates_for`` looks only at stored fingerprints and the card: declared ``base_model``
   repos, repos sharing any non-trivial tensor digest (a copy under any name), repos holding a
   component near one of ours in the component index (a retrained copy of a vision tower beside
   a language model of another width), and repos with the same residual width (what a fine-tune
   keeps). The scan never streams weights of other repos.
   Private repos are candidates too (copying another team's private weights must be caught);
   what a reader of the report learns about them is decided in ``provenance.access``.
3. ``compare`` (the statistical engine) streams the two checkpoints for each candidate only.
4. Each result is stored as a ``ProvenanceReport``, and the revision is recorded as scanned
   (``follow.record_done``); ``summarize`` turns them into the repo's status: a declared base
   confirmed or not, and any undeclared derivation flagged.

Reports follow the repo across commits that keep its weights (``provenance.follow``): a summary asked
for a revision uses the reports of the revision with the same weights, and says which commit they
were computed on; one whose weights were not scanned yet says the scan is pending (or stale).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core import events, jobs
from baton.core.errors import InvalidNameError, NotFoundError
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.hub.models import Commit, Repo
from baton.provenance import components, follow
from baton.provenance.access import ReferenceNames
from baton.provenance.events import ScanFinished
from baton.provenance.models import ComponentPrint, ModelFingerprint, ProvenanceReport, TensorDigest
from baton.provenance.onnx_reader import OnnxCheckpoint
from baton.provenance.reader import SafetensorsCheckpoint, hub_checkpoint

SCAN_JOB = "provenance.scan"
# Digests of tensors this small say nothing (an all-ones norm gain is the same in every model).
MIN_DIGEST_BYTES = 4096
MAX_CANDIDATES = 50
MAX_COMPONENT_CANDIDATES = 10  # repos found through the component index, nearest first
ALPHA = 0.01  # family-wise significance level of one scan
DERIVED_VERDICTS = ("derived", "copied")


@dataclass(frozen=True)
class Candidate:
    repo: Repo
    commit_oid: str
    reason: str  # declared, digest, component, width
    # For reason "component": our component, the reference's component and their index distance.
    match: tuple[str, str, float] | None = None


def has_weights(paths: Iterable[str]) -> bool:
    """Whether a commit touching these paths may change the weights provenance reads (safetensors,
    or an ONNX graph and its external data; see ``follow.touches_weights``)."""
    return follow.touches_weights(list(paths))


def enqueue_scan(session: Session, repo: Repo, commit_oid: str) -> jobs.Job:
    """Queue fingerprinting and scanning of a model revision (once per revision); the revision's
    summary says the scan is pending until it finishes."""
    job = jobs.enqueue(
        session,
        SCAN_JOB,
        {"repo_id": repo.id, "commit": commit_oid},
        dedupe_key=f"provenance-scan:{repo.id}:{commit_oid}",
    )
    follow.record_queued(session, repo.id, commit_oid, job.id)
    return job


def checkpoint_at(runtime: Runtime, repo: Repo, commit_oid: str) -> SafetensorsCheckpoint | OnnxCheckpoint:
    """Open a revision as the system (background jobs read private repos too): its safetensors, or
    its ``model.onnx`` when it has no safetensors."""
    with runtime.database.session() as session:
        commit = session.get(Commit, commit_oid)
        if commit is None or commit.repo_id != repo.id:
            raise NotFoundError(f"No commit {commit_oid} in {repo.repo_id}", code="RevisionNotFound")
        entries = commits.tree_entries(session, commit.tree_id)
    label = f"{repo.repo_id}@{commit_oid[:12]}"
    return hub_checkpoint(
        runtime.store,
        entries,
        label,
        repo_id=repo.repo_id,
        commit_oid=commit_oid,
        max_onnx_bytes=runtime.settings.provenance_max_onnx_bytes,
    )


def _signature(source: SafetensorsCheckpoint | OnnxCheckpoint) -> dict[str, Any]:
    config = source.config()
    widths: dict[int, int] = {}
    for name in source.names():
        shape = source.meta(name).shape
        if len(shape) == 1:
            widths[shape[0]] = widths.get(shape[0], 0) + 1
    # The residual width is the most common length of 1-D parameters (norm gains and biases).
    width = max(widths, key=lambda size: widths[size]) if widths else None
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    return {
        "hidden_size": int(hidden) if isinstance(hidden, int) else width,
        "model_type": config.get("model_type"),
        "num_layers": config.get("num_hidden_layers") or config.get("n_layer"),
        "vocab_size": config.get("vocab_size"),
    }


def fingerprint_revision(runtime: Runtime, repo: Repo, commit_oid: str) -> ModelFingerprint:
    """Store every tensor's digest and every component's print for one revision (idempotent).

    Each tensor is read once: its digest and, when its component is indexed, its features come
    from the same read. A revision fingerprinted before the component index existed gets its
    prints the next time it is fingerprinted.
    """
    with runtime.database.session() as session:
        existing = session.scalar(
            select(ModelFingerprint).where(
                ModelFingerprint.repo_id == repo.id, ModelFingerprint.commit_oid == commit_oid
            )
        )
        if existing is not None:
            indexed = session.scalar(select(ComponentPrint.id).where(ComponentPrint.fingerprint_id == existing.id))
            if indexed is None:
                _index_components(runtime, existing, checkpoint_at(runtime, repo, commit_oid))
            return existing
    source = checkpoint_at(runtime, repo, commit_oid)
    # Tensors the reader cannot decode (GPTQ, bitsandbytes, ...) are stored by digest only.
    unreadable = unreadable_tensors(source)
    shapes = {name: tuple(source.meta(name).shape) for name in source.names() if name not in unreadable}
    wanted = set(components.indexed_tensors(shapes))
    features: dict[str, Any] = {}
    rows = []
    parameters = 0
    for name in source.names():
        meta = source.meta(name)
        count = 1
        for dim in meta.shape:
            count *= dim
        parameters += count
        if name in wanted:
            array, digest = source.read_with_digest(name)
            features[name] = components.tensor_features(array)
            del array
        else:
            digest = source.digest(name)
        rows.append(
            TensorDigest(name=name, digest=digest, dtype=meta.dtype, shape=list(meta.shape), nbytes=meta.nbytes)
        )
    prints = components.assemble(shapes, features)
    with runtime.database.session(write=True) as session:
        existing = session.scalar(
            select(ModelFingerprint).where(
                ModelFingerprint.repo_id == repo.id, ModelFingerprint.commit_oid == commit_oid
            )
        )
        if existing is not None:  # another worker got there first: results are written once
            return existing
        fingerprint = ModelFingerprint(
            repo_id=repo.id,
            commit_oid=commit_oid,
            tensor_count=len(rows),
            parameter_count=parameters,
            signature=_signature(source),
        )
        session.add(fingerprint)
        session.flush()
        for row in rows:
            row.fingerprint_id = fingerprint.id
        session.add_all(rows)
        session.add_all(_print_rows(fingerprint.id, prints))
        return fingerprint


def _print_rows(fingerprint_id: int, prints: list[components.ComponentPrint]) -> list[ComponentPrint]:
    return [
        ComponentPrint(
            fingerprint_id=fingerprint_id,
            component=item.component,
            kind=item.kind,
            signature=item.signature,
            vector=item.vector.astype("<f4").tobytes(),
        )
        for item in prints
    ]


def _index_components(
    runtime: Runtime, fingerprint: ModelFingerprint, source: SafetensorsCheckpoint | OnnxCheckpoint
) -> None:
    unreadable = unreadable_tensors(source)  # digests only, as in fingerprint_revision
    shapes = {name: tuple(source.meta(name).shape) for name in source.names() if name not in unreadable}
    wanted = components.indexed_tensors(shapes)
    prints = components.assemble(shapes, {name: components.tensor_features(source.read(name)) for name in wanted})
    with runtime.database.session(write=True) as session:
        if session.scalar(select(ComponentPrint.id).where(ComponentPrint.fingerprint_id == fingerprint.id)) is None:
            session.add_all(_print_rows(fingerprint.id, prints))


def _latest_fingerprints(session: Session) -> dict[int, ModelFingerprint]:
    """The newest fingerprint of each repo, by repo id."""
    newest: dict[int, ModelFingerprint] = {}
    for fingerprint in session.scalars(select(ModelFingerprint).order_by(ModelFingerprint.created_at)):
        newest[fingerprint.repo_id] = fingerprint
    return newest


def candidates_for(session: Session, repo: Repo, fingerprint: ModelFingerprint) -> list[Candidate]:
    """Other model revisions worth a full comparison, found from stored fingerprints and cards only."""
    latest = _latest_fingerprints(session)
    latest.pop(repo.id, None)
    chosen: dict[int, Candidate] = {}

    declared = (repo.card_data or {}).get("base_model") or []
    for base in [declared] if isinstance(declared, str) else declared:
        try:
            base_repo = repos.find_repo(session, repos.parse_repo_id("model", str(base)))
        except InvalidNameError:
            continue
        if base_repo is not None and base_repo.id in latest:
            chosen[base_repo.id] = Candidate(base_repo, latest[base_repo.id].commit_oid, "declared")

    ours = select(TensorDigest.digest).where(
        TensorDigest.fingerprint_id == fingerprint.id, TensorDigest.nbytes >= MIN_DIGEST_BYTES
    )
    shared = session.execute(
        select(TensorDigest.fingerprint_id, func.count())
        .where(TensorDigest.digest.in_(ours), TensorDigest.fingerprint_id != fingerprint.id)
        .group_by(TensorDigest.fingerprint_id)
    ).all()
    by_fingerprint = {fp.id: fp for fp in latest.values()}
    for fingerprint_id, _count in sorted(shared, key=lambda row: -int(row[1])):
        other = by_fingerprint.get(fingerprint_id)
        if other is not None and other.repo_id not in chosen:
            other_repo = session.get(Repo, other.repo_id)
            if other_repo is not None:
                chosen[other.repo_id] = Candidate(other_repo, other.commit_oid, "digest")

    _component_candidates(session, repo, fingerprint, latest, chosen)

    width = (fingerprint.signature or {}).get("hidden_size")
    for other in sorted(latest.values(), key=lambda fp: fp.created_at, reverse=True):
        if len(chosen) >= MAX_CANDIDATES:
            break
        if other.repo_id in chosen or width is None or (other.signature or {}).get("hidden_size") != width:
            continue
        other_repo = session.get(Repo, other.repo_id)
        if other_repo is not None:
            chosen[other.repo_id] = Candidate(other_repo, other.commit_oid, "width")
    return list(chosen.values())[:MAX_CANDIDATES]


def component_index(
    session: Session, signatures: Iterable[str], fingerprint_ids: set[int]
) -> components.ComponentIndex:
    """The stored prints of the given signatures, restricted to the given fingerprints."""
    wanted = sorted(set(signatures))
    if not wanted:
        return components.ComponentIndex([])
    rows = session.execute(
        select(
            ComponentPrint.fingerprint_id, ComponentPrint.component, ComponentPrint.signature, ComponentPrint.vector
        ).where(ComponentPrint.signature.in_(wanted))
    )
    return components.ComponentIndex(
        (int(fid), str(component), str(signature), bytes(vector))
        for fid, component, signature, vector in rows
        if fid in fingerprint_ids
    )


def stored_prints(session: Session, fingerprint: ModelFingerprint) -> list[components.ComponentPrint]:
    rows = session.execute(
        select(ComponentPrint.component, ComponentPrint.kind, ComponentPrint.signature, ComponentPrint.vector)
        .where(ComponentPrint.fingerprint_id == fingerprint.id)
        .order_by(ComponentPrint.id)
    )
    return [
        components.ComponentPrint(str(name), str(kind), str(signature), np.frombuffer(bytes(vector), dtype="<f4"))
        for name, kind, signature, vector in rows
    ]


def _component_candidates(
    session: Session,
    repo: Repo,
    fingerprint: ModelFingerprint,
    latest: dict[int, ModelFingerprint],
    chosen: dict[int, Candidate],
) -> None:
    """Repos whose latest revision holds a component near one of ours (same signature), nearest first.

    Private repos are in the index like any other; what a reader learns about them is decided
    when the report is read (``provenance.access``).
    """
    prints = stored_prints(session, fingerprint)
    by_id = {fp.id: fp for fp in latest.values()}
    index = component_index(session, (item.signature for item in prints), set(by_id))
    added = 0
    for neighbour in index.nearest(prints):
        if added >= MAX_COMPONENT_CANDIDATES:
            break
        other = by_id[neighbour.owner]
        if other.repo_id in chosen or other.repo_id == repo.id:
            continue
        other_repo = session.get(Repo, other.repo_id)
        if other_repo is not None:
            match = (neighbour.query, neighbour.component, round(neighbour.distance, 4))
            chosen[other.repo_id] = Candidate(other_repo, other.commit_oid, "component", match)
            added += 1


def _store_report(
    runtime: Runtime, repo: Repo, commit_oid: str, candidate: Candidate, result: dict[str, Any]
) -> ProvenanceReport:
    reference = f"{candidate.repo.repo_id}@{candidate.commit_oid}"
    with runtime.database.session(write=True) as session:
        session.execute(
            delete(ProvenanceReport).where(
                ProvenanceReport.repo_id == repo.id,
                ProvenanceReport.commit_oid == commit_oid,
                ProvenanceReport.reference == reference,
            )
        )
        report = ProvenanceReport(
            repo_id=repo.id,
            commit_oid=commit_oid,
            reference=reference,
            reference_repo_id=candidate.repo.id,
            reason=candidate.reason,
            verdict=str(result.get("verdict")),
            relation=result.get("relation"),
            p_value=result.get("p_value"),
            report=result,
        )
        session.add(report)
        session.flush()
        return report


def unreadable_tensors(source: SafetensorsCheckpoint | OnnxCheckpoint) -> dict[str, str]:
    """Tensor -> why the reader refuses to decode it (a quantization format it does not read)."""
    return source.unsupported_tensors() if isinstance(source, SafetensorsCheckpoint) else {}


def compare_revisions(
    subject: SafetensorsCheckpoint | OnnxCheckpoint, reference: SafetensorsCheckpoint | OnnxCheckpoint, alpha: float
) -> dict[str, Any]:
    """The engine's comparison, or exact copies only when either side holds weights the readers
    cannot decode (``compare.compare_checkpoints``)."""
    from baton.provenance.compare import compare_checkpoints  # the engine pulls in scipy: import when used

    return compare_checkpoints(subject, reference, alpha=alpha)


def scan_revision(runtime: Runtime, repo_pk: int, commit_oid: str) -> dict[str, Any]:
    """Fingerprint a revision and compare it with every candidate; returns the summary."""
    with runtime.database.session() as session:
        repo = session.get(Repo, repo_pk)
        if repo is None:
            raise NotFoundError(f"Repo {repo_pk} no longer exists", code="RepoNotFound")
    fingerprint = fingerprint_revision(runtime, repo, commit_oid)
    with runtime.database.session() as session:
        found = candidates_for(session, repo, fingerprint)
    subject = checkpoint_at(runtime, repo, commit_oid)
    # Testing against several references: Bonferroni over them, so the chance that an independent
    # model is flagged against any of the candidates stays within ALPHA.
    alpha = ALPHA / max(1, len(found))
    for candidate in found:
        reference = checkpoint_at(runtime, candidate.repo, candidate.commit_oid)
        result = compare_revisions(subject, reference, alpha)
        if candidate.match is not None:
            # Why this reference was compared (the full view only: it names the reference's component).
            ours, theirs, distance = candidate.match
            result["candidate"] = {
                "reason": candidate.reason,
                "component": ours,
                "reference_component": theirs,
                "distance": distance,
            }
        result["correction"] = (
            f"{result.get('correction', '')} Bonferroni over the {len(found)} reference model(s) of this scan: "
            f"alpha {ALPHA} / {len(found)} = {alpha:.3g}."
        ).strip()
        _store_report(runtime, repo, commit_oid, candidate, result)
    with runtime.database.session(write=True) as session:
        row = follow.record_done(session, repo.id, commit_oid)
        assert row.finished_at is not None
        events.publish(
            session, ScanFinished(repo_pk=repo.id, repo=repo.repo_id, commit=commit_oid, finished_at=row.finished_at)
        )
    with runtime.database.session() as session:
        return summarize(session, repo, commit_oid)


def scan_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Job handler for ``provenance.scan``."""
    return scan_revision(runtime, int(payload["repo_id"]), str(payload["commit"]))


def _reports_at(session: Session, repo_pk: int, commit_oid: str) -> list[ProvenanceReport]:
    return list(
        session.scalars(
            select(ProvenanceReport)
            .where(ProvenanceReport.repo_id == repo_pk, ProvenanceReport.commit_oid == commit_oid)
            .order_by(ProvenanceReport.id)
        )
    )


def _entries(
    reports: list[ProvenanceReport], repo: Repo, names: ReferenceNames | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """(declared checks, flags, declared bases with a report) of one revision's reports."""
    declared = (repo.card_data or {}).get("base_model") or []
    declared_ids = {declared} if isinstance(declared, str) else {str(item) for item in declared}
    relation_declared = (repo.card_data or {}).get("base_model_relation")
    checks: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    confirmed_ids: set[str] = set()
    for report in reports:
        reference_id = report.reference.split("@", 1)[0]
        sealed = names.reference(report) if names is not None else None
        shown_id = reference_id if sealed is None else sealed.pseudonym
        entry: dict[str, Any] = {
            "reference": report.reference if sealed is None else sealed.pseudonym,
            "reason": report.reason,
            "verdict": report.verdict,
            "relation": report.relation,
            "p_value": report.p_value,
            "report_id": report.id,
            "computed_on": report.commit_oid,
        }
        if sealed is not None:
            entry["commitment"] = sealed.commitment
        if reference_id in declared_ids:
            confirmed = report.verdict in DERIVED_VERDICTS
            entry["declared"] = True
            entry["confirmed"] = confirmed
            confirmed_ids.add(reference_id)
            entry["message"] = f"declared {relation_declared or 'derivative'} of {shown_id}: " + (
                "confirmed" if confirmed else "not confirmed by the weights"
            )
            checks.append(entry)
        elif report.verdict in DERIVED_VERDICTS:
            entry["message"] = f"undeclared derivation from {shown_id} ({report.relation or report.verdict})"
            flags.append(entry)
        elif report.verdict == "inconclusive":
            entry["message"] = f"inconclusive against {shown_id}: an operator should look"
            flags.append(entry)
    return checks, flags, confirmed_ids


def summarize(session: Session, repo: Repo, commit_oid: str, names: ReferenceNames | None = None) -> dict[str, Any]:
    """The repo revision's provenance status from the stored reports that speak for its weights.

    The reports are those of the revision itself or of an earlier one with the same weights
    (``computed_on`` names it; see ``provenance.follow``). When the weights were not scanned yet the
    status is ``pending`` (a scan is queued or running) or ``stale`` (it failed, or none was queued),
    ``declared_checks`` and ``flags`` are empty, and ``previous`` holds the newest earlier verdicts,
    computed on other weights. ``no references``: scanned with nothing to compare, or never scanned.

    ``names`` says how the summary names the references (see ``provenance.access``): without it,
    by their real names, as operators and background jobs see them; a sealed reference is named by
    its pseudonym everywhere in the summary (messages included) and carries its commitment.
    """
    basis = follow.basis_for(session, repo.id, commit_oid)
    reports = _reports_at(session, repo.id, basis.computed_on) if basis.computed_on is not None else []
    checks, flags, confirmed_ids = _entries(reports, repo, names)
    declared = (repo.card_data or {}).get("base_model") or []
    declared_ids = {declared} if isinstance(declared, str) else {str(item) for item in declared}
    previous: dict[str, Any] | None = None
    if basis.computed_on is not None:
        status = (
            "flagged"
            if flags or any(not check["confirmed"] for check in checks)
            else ("checked" if reports else "no references")
        )
        note = (
            "computed on this commit"
            if basis.computed_on == commit_oid
            else f"computed on {basis.computed_on[:12]}, whose weights this commit keeps unchanged"
        )
    else:
        status = "pending" if basis.scan == follow.PENDING else ("stale" if basis.previous else "no references")
        note = {
            "pending": "a scan of this commit's weights is pending",
            "failed": "the scan of this commit's weights failed; an operator can queue it again",
            "none": "this commit's weights have not been scanned",
        }[basis.scan]
        if basis.previous is not None:
            earlier = _reports_at(session, repo.id, basis.previous)
            old_checks, old_flags, _ = _entries(earlier, repo, names)
            previous = {
                "commit": basis.previous,
                "compared": len(earlier),
                "declared_checks": old_checks,
                "flags": old_flags,
            }
            note += f"; the verdicts shown as previous were computed on {basis.previous[:12]}, other weights"
    missing = sorted(declared_ids - confirmed_ids) if status not in ("pending", "stale") else []
    return {
        "repo": repo.repo_id,
        "commit": commit_oid,
        "computed_on": basis.computed_on,
        "scan": basis.scan,
        "note": note,
        "compared": len(reports),
        "declared_checks": checks,
        "declared_not_in_hub": missing if names is None else [names.declared(name) for name in missing],
        "flags": flags,
        "status": status,
        "previous": previous,
    }


def revision_reports(
    session: Session, user: Actor | None, key: repos.RepoKey, revision: str | None
) -> tuple[Repo, Commit, list[ProvenanceReport]]:
    """The repo, the revision asked for, and the reports that speak for its weights (see ``summarize``):
    its own, an earlier revision's with the same weights, or, while its own scan is pending or
    stale, the previous verdicts (each report says which commit it was computed on)."""
    repo = repos.get_repo(session, user, key)
    commit = commits.resolve_revision(session, repo, revision)
    basis = follow.basis_for(session, repo.id, commit.oid)
    shown = basis.computed_on or basis.previous
    return repo, commit, _reports_at(session, repo.id, shown) if shown is not None else []
