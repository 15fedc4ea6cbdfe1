"""Who sees what of a provenance report: every route that shows one goes through ``report_view_for``.

A report compares a subject revision with a reference revision, and candidates include private
repos (a team copying another team's private weights must still be caught). So:

- whoever may read the subject repo may see the report (private subjects stay 404 to others);
- the *full* report (the reference's name and commit, per-layer statistics, alignment, norms,
  configuration) only to whoever may also read the reference repo: its readers and site admins;
- everyone else gets the *public* view: verdict, relation, p-value and components (name, status,
  test, p-value), with the reference named by a pseudonym (an HMAC under a key derived from the
  server's secret) and a salted commitment to (repo, revision), whose salt the full view carries.

Access is decided when the report is read, from the repos as they are then (a reference made
public later shows in full; one made private later is sealed from then on).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core.sealing import Sealed, commitment, model_value, pseudonym
from baton.hub import repos
from baton.hub.hf_api import iso
from baton.hub.models import Repo
from baton.provenance.models import ProvenanceReport

ReportView = Literal["full", "public"]
# The server secret is never used directly: pseudonyms get their own derived key (core.signing).
PSEUDONYM_PURPOSE = "provenance-pseudonyms"

# What the public view keeps of a comparison's result: the conclusions, never the measurements.
PUBLIC_RESULT_KEYS = ("verdict", "relation", "p_value", "alpha", "correction", "explanation")
PUBLIC_COMPONENT_KEYS = ("name", "status", "test", "p_value")
WITHHELD = (
    "evidence",
    "norms",
    "alignment",
    "layer_alignment",
    "transformations",
    "config_likeness",
    "context",
    "candidate",
    "unreadable",
)


class ReferenceNames(Protocol):
    """How a summary names the models it mentions (the real names, or sealed ones for the public)."""

    def reference(self, report: ProvenanceReport) -> Sealed | None:
        """None: the reference may be named; else its sealed name."""

    def declared(self, name: str) -> str:
        """What to print for a base model the subject's card declares (by name) without a report."""


def can_read(session: Session, user: Actor | None, repo: Repo | None) -> bool:
    return repo is not None and (not repo.private or repos.has_role(session, user, repo, "read"))


def reference_repo(session: Session, report: ProvenanceReport) -> Repo | None:
    return session.get(Repo, report.reference_repo_id) if report.reference_repo_id is not None else None


def report_view_for(session: Session, user: Actor | None, report: ProvenanceReport) -> ReportView | None:
    """None: the report does not exist for this user (404); else how much of it the user sees."""
    if not can_read(session, user, session.get(Repo, report.repo_id)):
        return None
    # A deleted reference (NULL) is sealed: who could read it can no longer be told.
    return "full" if can_read(session, user, reference_repo(session, report)) else "public"


def reference_parts(report: ProvenanceReport) -> tuple[str, str]:
    """(repo id, revision) of the report's reference."""
    name, _, revision = report.reference.rpartition("@")
    return name, revision


def sealed_reference(key: bytes, report: ProvenanceReport) -> Sealed:
    """The reference's pseudonym (per repo) and the commitment to its (repo, revision) under the report's salt."""
    name, revision = reference_parts(report)
    identity = f"repo:{report.reference_repo_id}" if report.reference_repo_id is not None else f"name:{name}"
    return Sealed(
        pseudonym(key, "repo", identity), commitment(model_value("model", name, revision), report.reference_salt)
    )


def public_result(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison's conclusions without the statistics and configuration it was drawn from."""
    public = {key: result[key] for key in PUBLIC_RESULT_KEYS if key in result}
    public["components"] = [
        {key: component.get(key) for key in PUBLIC_COMPONENT_KEYS}
        for component in result.get("components") or []
        if isinstance(component, dict)
    ]
    public["withheld"] = [key for key in WITHHELD if key in result]
    return public


class PublicNames:
    """Names for a user's view of a summary: a reference the user cannot read is sealed."""

    def __init__(self, session: Session, user: Actor | None, key: bytes) -> None:
        self.session, self.user, self.key = session, user, key

    def reference(self, report: ProvenanceReport) -> Sealed | None:
        if report_view_for(self.session, self.user, report) == "full":
            return None
        return sealed_reference(self.key, report)

    def declared(self, name: str) -> str:
        # Declared bases come from the subject's card, which whoever sees the summary can read.
        return name


def report_json(
    session: Session, report: ProvenanceReport, view: ReportView, key: bytes, *, detail: bool = False
) -> dict[str, Any]:
    """A report as ``view`` shows it; ``detail`` adds the subject and the (full or public) result."""
    # A reference the public may read is named to everyone; otherwise the public sees it sealed, and
    # the full view carries the sealed name and its salt, so its readers can check the commitment.
    sealed = None if can_read(session, None, reference_repo(session, report)) else sealed_reference(key, report)
    data: dict[str, Any] = {
        "id": report.id,
        "reference": report.reference if view == "full" or sealed is None else sealed.pseudonym,
        "reason": report.reason,
        "verdict": report.verdict,
        "relation": report.relation,
        "p_value": report.p_value,
        "commit": report.commit_oid,
        "created_at": iso(report.created_at),
        "html": f"/api/provenance/reports/{report.id}.html",
    }
    if sealed is not None:
        data["sealed"] = sealed.to_json()
        if view == "full":
            data["salt"] = report.reference_salt
    if detail:
        subject = session.get(Repo, report.repo_id)
        data["subject"] = f"{subject.repo_id if subject else '?'}@{report.commit_oid}"
        data["result"] = report.report if view == "full" else public_result(report.report)
    return data


def html_labels(session: Session, report: ProvenanceReport, view: ReportView, key: bytes) -> tuple[str, str, bool]:
    """(subject label, reference label, withheld) for the HTML page of ``report`` as ``view`` shows it."""
    subject = session.get(Repo, report.repo_id)
    subject_label = f"{subject.repo_id if subject else '?'}@{report.commit_oid[:12]}"
    if view == "full":
        return subject_label, report.reference, False
    sealed = sealed_reference(key, report)
    return subject_label, f"{sealed.pseudonym} (commitment {sealed.commitment})", True
