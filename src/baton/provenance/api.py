"""Provenance routes: a repo revision's reports (JSON; their page is the web layer's) and on-demand scans.

What each route shows of a report is decided by ``provenance.access.report_view_for`` (a private
reference is sealed for whoever cannot read it).
"""

from __future__ import annotations

from fastapi import APIRouter

from baton.accounts.http import OptionalUser, WriteUser
from baton.core.errors import NotFoundError
from baton.core.http import DbId, ExactRoute, RuntimeDep
from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.hub.hf_api import key_from
from baton.provenance import access, schemas, service
from baton.provenance.models import ProvenanceReport

router = APIRouter(route_class=ExactRoute)


def pseudonym_key(runtime: Runtime) -> bytes:
    return runtime.signer.derived_key(access.PSEUDONYM_PURPOSE)


@router.get("/api/{type_plural}/{namespace}/{name}/provenance")
def repo_provenance(
    type_plural: str,
    namespace: str,
    name: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    revision: str | None = None,
) -> schemas.RepoProvenance:
    key = key_from(type_plural, namespace, name)
    secret = pseudonym_key(runtime)
    with runtime.database.session() as session:
        repo, commit, reports = service.revision_reports(session, user, key, revision)
        shown = []
        for report in reports:
            view = access.report_view_for(session, user, report)
            if view is not None:
                shown.append(access.report_json(session, report, view, secret))
        summary = service.summarize(session, repo, commit.oid, access.PublicNames(session, user, secret))
        return schemas.RepoProvenance.model_validate({"summary": summary, "reports": shown})


@router.post("/api/{type_plural}/{namespace}/{name}/provenance/scan")
def request_scan(
    type_plural: str, namespace: str, name: str, runtime: RuntimeDep, user: WriteUser, revision: str | None = None
) -> schemas.ScanQueued:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        repo = repos.get_writable_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision)
        job = service.enqueue_scan(session, repo, commit.oid)
        return schemas.ScanQueued(job=job.id, status=job.status, commit=commit.oid)


def _not_found(report_id: int) -> NotFoundError:
    return NotFoundError(f"No provenance report {report_id}", code="ReportNotFound")


# The report's page, /api/provenance/reports/{report_id}.html, is the web layer's (baton.web.provenance_pages).
@router.get("/api/provenance/reports/{report_id}")
def report_json(report_id: DbId, runtime: RuntimeDep, user: OptionalUser) -> schemas.Report:
    with runtime.database.session() as session:
        report = session.get(ProvenanceReport, report_id)
        view = access.report_view_for(session, user, report) if report is not None else None
        if report is None or view is None:
            raise _not_found(report_id)
        return schemas.Report.model_validate(
            access.report_json(session, report, view, pseudonym_key(runtime), detail=True)
        )
