"""The checks a release item goes through before its repo opens: personal data and licenses.

They read whole files (a personal-data scan reads up to ``MAX_SCANNED_BYTES`` of each), so they run
in read-only sessions before the write that records their outcome (``release.precheck``): uploads
and commits never wait behind a scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.commons.models import ReleaseItem
from baton.core.errors import ConflictError
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.hub.models import LineageEdge, Repo

if TYPE_CHECKING:
    from baton.core.sealing import Sealed
    from baton.provenance.models import ProvenanceReport

NOT_SCANNED = frozenset({".gitattributes", ".gitignore"})
MAX_SCANNED_BYTES = 256 * 1024 * 1024
MAX_LINEAGE_DEPTH = 16


@dataclass
class CheckOutcome:
    """The findings of one check run on one revision; ``notes`` are informational only."""

    kind: str
    findings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (summary, detail)
    notes: list[str] = field(default_factory=list)
    effective_license: str | None = None


def read_blob(runtime: Runtime, sha256: str, limit: int | None = None) -> bytes:
    end = None if limit is None else limit - 1
    return b"".join(runtime.store.open_range(sha256, 0, end))


EXAMPLES_PER_FINDING = 5


def scan_personal_data(session: Session, runtime: Runtime, repo: Repo, commit_oid: str) -> CheckOutcome:
    """Scan every file of the revision for personal data, one finding per file and kind of data.

    What the scanner could not read (binary files, unreadable Parquet, the part of a file past the
    size limit) is a finding too: a file nobody read is not known to be clean.
    """
    from baton.commons import pii

    outcome = CheckOutcome(kind="pii")
    commit = commits.resolve_revision(session, repo, commit_oid)
    for entry in commits.tree_entries(session, commit.tree_id):
        if entry.path.rsplit("/", 1)[-1] in NOT_SCANNED:
            continue
        data = read_blob(runtime, entry.sha256, min(entry.size, MAX_SCANNED_BYTES) or None)
        result = pii.scan_bytes(data, path=entry.path, max_bytes=MAX_SCANNED_BYTES)
        skipped = list(result.skipped)
        if entry.size > MAX_SCANNED_BYTES:
            skipped.append(f"{entry.path}: only the first {MAX_SCANNED_BYTES} of {entry.size} bytes were scanned")
        grouped: dict[str, list[Any]] = {}
        for finding in result:
            grouped.setdefault(finding.kind, []).append(finding)
        for kind, found in sorted(grouped.items()):
            confidences = sorted({f.confidence for f in found}, key=("high", "medium", "low").index)
            examples = [
                {
                    "line": f.line,
                    "column": f.column,
                    "masked": f.masked,
                    "confidence": f.confidence,
                    "reason": f.reason,
                    "field": getattr(f, "field", ""),
                }
                for f in found[:EXAMPLES_PER_FINDING]
            ]
            first = examples[0]
            outcome.findings.append(
                (
                    f"{entry.path}: {len(found)} × {kind} ({'/'.join(confidences)} confidence), "
                    f"first at line {first['line']} column {first['column']}: {first['masked']}",
                    {"path": entry.path, "kind": kind, "count": len(found), "examples": examples},
                )
            )
        for reason in skipped:
            outcome.findings.append(
                (
                    f"{reason}; an operator must confirm it holds no personal data",
                    {"path": entry.path, "kind": "unscanned", "count": 1, "reason": reason},
                )
            )
    return outcome


def lineage_licenses(session: Session, repo: Repo) -> list[dict[str, Any]]:
    """Every base along the repo's lineage (transitively), with the license its card declares."""
    found: list[dict[str, Any]] = []
    seen = {repo.repo_id}
    frontier = [(repo, 0)]
    while frontier:
        child, depth = frontier.pop(0)
        if depth >= MAX_LINEAGE_DEPTH:
            continue
        for edge in session.scalars(select(LineageEdge).where(LineageEdge.child_repo_id == child.id)):
            if edge.base in seen:
                continue
            seen.add(edge.base)
            namespace, _, name = edge.base.partition("/")
            base = repos.find_repo(session, repos.RepoKey("model", namespace, name)) if name else None
            license_id = (base.card_data or {}).get("license") if base is not None else None
            found.append(
                {
                    "id": edge.base,
                    "license": str(license_id) if license_id else None,
                    "in_hub": base is not None,
                    "depth": depth + 1,
                    "via": child.repo_id,
                }
            )
            if base is not None:
                frontier.append((base, depth + 1))
    return found


MAX_NAMED_COMPONENTS = 5


class _PublicReferences:
    """Names a reference as the public may see it, whoever reads the (still private) subject: a
    reference the public cannot read by its provenance pseudonym and commitment, others by name."""

    def __init__(self, session: Session, runtime: Runtime) -> None:
        from baton.provenance import access

        self.session, self.access = session, access
        self.key = runtime.signer.derived_key(access.PSEUDONYM_PURPOSE)

    def reference(self, report: ProvenanceReport) -> Sealed | None:
        if self.access.can_read(self.session, None, self.access.reference_repo(self.session, report)):
            return None
        return self.access.sealed_reference(self.key, report)

    def declared(self, name: str) -> str:
        return name


def _components(result: dict[str, Any]) -> list[str]:
    """The components a comparison found derived or copied, by name."""
    return [
        str(component.get("name"))
        for component in result.get("components") or []
        if isinstance(component, dict) and component.get("status") in ("derived", "copied")
    ]


def verified_bases(
    session: Session, runtime: Runtime, repo: Repo, commit_oid: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """(bases, notes): the models the provenance scan found in the revision's weights that its card does not declare.

    Read from the reports that speak for the revision's weights (``provenance.service.summarize``:
    its own, or those of an earlier commit with the same weights). While the weights' own scan is
    pending or failed, the repo's previous verdicts count (a derivation found earlier is not dropped
    because the weights moved a little); with no scan at all, only the declared lineage is checked
    and a note says so. A private reference is named as the public sees it: by its pseudonym and
    commitment (``provenance.access``), since findings reach the challenge's public ledger.
    """
    from baton.provenance import access
    from baton.provenance import service as provenance
    from baton.provenance.models import ProvenanceReport

    summary = provenance.summarize(session, repo, commit_oid, _PublicReferences(session, runtime))
    notes: list[str] = []
    flags = summary["flags"]
    if summary["computed_on"] is None:
        previous = summary.get("previous")
        if previous is not None:
            flags = previous["flags"]
            notes.append(
                f"provenance: the weights changed since the last scan ({previous['commit'][:12]}) and "
                + {"pending": "their rescan is pending", "failed": "their rescan failed"}.get(
                    summary["scan"], "no rescan was queued"
                )
                + "; the last verdicts count until the new weights are scanned"
            )
        else:
            notes.append(
                "provenance: a scan of these weights is pending; only the declared lineage is checked"
                if summary["scan"] == "pending"
                else "provenance: these weights were not scanned; only the declared lineage is checked"
            )
    found: list[dict[str, Any]] = []
    for flag in flags:
        if flag["verdict"] not in provenance.DERIVED_VERDICTS:
            continue
        report = session.get(ProvenanceReport, flag["report_id"])
        if report is None:
            continue
        reference = access.reference_repo(session, report)
        sealed = "commitment" in flag
        shown = str(flag["reference"]) if sealed else report.reference.split("@", 1)[0]
        license_id = (reference.card_data or {}).get("license") if reference is not None else None
        components = _components(report.report or {})
        entry: dict[str, Any] = {
            "id": shown,
            "license": str(license_id) if license_id else None,
            "in_hub": reference is not None,
            "depth": 1,
            "via": repo.repo_id,
            "source": "provenance",
            "verdict": report.verdict,
            "relation": report.relation,
            "components": components,
            "report": report.id,
            "computed_on": report.commit_oid,
        }
        if sealed:
            entry["commitment"] = flag["commitment"]
        found.append(entry)
        if reference is not None and not sealed:  # what the public reference's own card declares counts too
            for base in lineage_licenses(session, reference):
                found.append(base | {"depth": base["depth"] + 1, "source": "declared"})
    return found, notes


def _verified_label(base: dict[str, Any]) -> str:
    """How a license conflict names a base the provenance scan found: the model, what was found, and how."""
    if base.get("source") != "provenance":
        return str(base["id"])
    components = list(base.get("components") or [])
    shown = ", ".join(components[:MAX_NAMED_COMPONENTS])
    if len(components) > MAX_NAMED_COMPONENTS:
        shown += f" and {len(components) - MAX_NAMED_COMPONENTS} more"
    what = (
        f"{shown} {base['verdict']} from it"
        if shown
        else f"{base['verdict']} ({base.get('relation') or 'whole model'})"
    )
    return f"{base['id']} (not declared; provenance found {what})"


def check_license(
    session: Session,
    repo: Repo,
    planned_license: str | None,
    *,
    runtime: Runtime | None = None,
    commit_oid: str | None = None,
) -> CheckOutcome:
    """Check the license the repo will carry against its bases' along the lineage.

    The lineage is what the cards declare and, given ``runtime`` and ``commit_oid``, what the
    provenance scan verified in the weights (``verified_bases``): an undeclared component copied
    from a non-commercial model holds the release like a declared non-commercial base.
    """
    outcome = CheckOutcome(kind="license")
    card_license = (repo.card_data or {}).get("license")
    license_id = planned_license or (str(card_license) if card_license else None)
    bases = lineage_licenses(session, repo)
    if runtime is not None and commit_oid is not None:
        verified, notes = verified_bases(session, runtime, repo, commit_oid)
        outcome.notes.extend(notes)
        known = {base["id"] for base in bases} | {repo.repo_id}
        for base in verified:
            if base["id"] not in known:
                known.add(base["id"])
                bases.append(base)
    if not bases:
        outcome.effective_license = license_id
        return outcome
    from baton.commons import licensing

    result = licensing.check_derivative_license(
        license_id, [(_verified_label(base), base["license"]) for base in bases]
    )
    outcome.effective_license = result.effective
    outcome.notes.extend(result.notes)
    if not result.ok:
        conflicts = list(result.conflicts)
        outcome.findings.append(
            (
                f"{repo.repo_id}: license {license_id or '(none)'} conflicts with its bases: " + "; ".join(conflicts),
                {"license": license_id, "effective": result.effective, "conflicts": conflicts, "bases": bases},
            )
        )
    return outcome


Prechecked = dict[tuple[int, str], list[CheckOutcome]]  # (item id, commit) -> the checks' outcomes


class HeadMovedError(ConflictError):
    """A repo's head moved between its checks (read outside the write) and the write: check again."""

    code = "ReleaseHeadMoved"
    retryable = True


def run_checks(
    session: Session,
    runtime: Runtime,
    item: ReleaseItem,
    repo: Repo,
    commit_oid: str,
    prechecked: Prechecked | None = None,
) -> list[CheckOutcome]:
    """The checks that apply to the item's repo: personal data for datasets, licenses for the rest.

    With ``prechecked`` (from :func:`precheck`, run before the write transaction) the outcomes come
    from there; a revision it lacks means the head moved since, and the caller checks again.
    """
    if prechecked is not None:
        if (item.id, commit_oid) not in prechecked:
            raise HeadMovedError(f"{item.repo_type} {item.repo_name} changed while it was being checked")
        return prechecked[(item.id, commit_oid)]
    outcomes = []
    if repo.repo_type == "dataset":
        outcomes.append(scan_personal_data(session, runtime, repo, commit_oid))
    else:
        outcomes.append(check_license(session, repo, item.license, runtime=runtime, commit_oid=commit_oid))
    return outcomes
