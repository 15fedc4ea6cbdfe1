"""Provenance routes: a repo revision's reports (JSON and HTML) and on-demand scans."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from baton.accounts.http import OptionalUser, WriteUser
from baton.core.errors import NotFoundError
from baton.core.http import DbId, RuntimeDep
from baton.hub import commits, repos
from baton.hub.hf_api import iso, key_from
from baton.hub.models import Repo
from baton.provenance import service
from baton.provenance.models import ProvenanceReport
from baton.provenance.report import render_html

router = APIRouter()


def _report_json(report: ProvenanceReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "reference": report.reference,
        "reason": report.reason,
        "verdict": report.verdict,
        "relation": report.relation,
        "p_value": report.p_value,
        "created_at": iso(report.created_at),
        "html": f"/api/provenance/reports/{report.id}.html",
    }


@router.get("/api/{type_plural}/{namespace}/{name}/provenance")
def repo_provenance(
    type_plural: str,
    namespace: str,
    name: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    revision: str | None = None,
) -> dict[str, Any]:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session() as session:
        repo, commit, reports = service.revision_reports(session, user, key, revision)
        return {
            "summary": service.summarize(session, repo, commit.oid),
            "reports": [_report_json(report) for report in reports],
        }


@router.post("/api/{type_plural}/{namespace}/{name}/provenance/scan")
def request_scan(
    type_plural: str, namespace: str, name: str, runtime: RuntimeDep, user: WriteUser, revision: str | None = None
) -> dict[str, Any]:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        repo = repos.get_writable_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision)
        job = service.enqueue_scan(session, repo, commit.oid)
        return {"job": job.id, "status": job.status, "commit": commit.oid}


def _visible_report(runtime: Any, user: Any, report_id: int) -> tuple[ProvenanceReport, Repo]:
    with runtime.database.session() as session:
        report = session.get(ProvenanceReport, report_id)
        repo = session.get(Repo, report.repo_id) if report is not None else None
        if report is None or repo is None or (repo.private and not repos.has_role(session, user, repo, "read")):
            raise NotFoundError(f"No provenance report {report_id}", code="ReportNotFound")
        return report, repo


@router.get("/api/provenance/reports/{report_id}.html", response_class=HTMLResponse)
def report_html(report_id: DbId, runtime: RuntimeDep, user: OptionalUser) -> HTMLResponse:
    report, repo = _visible_report(runtime, user, report_id)
    return HTMLResponse(render_html(report.report, f"{repo.repo_id}@{report.commit_oid[:12]}", report.reference))


# After the .html route: an int parameter would otherwise swallow "5.html" and fail.
@router.get("/api/provenance/reports/{report_id}")
def report_json(report_id: DbId, runtime: RuntimeDep, user: OptionalUser) -> dict[str, Any]:
    report, repo = _visible_report(runtime, user, report_id)
    return _report_json(report) | {"subject": f"{repo.repo_id}@{report.commit_oid}", "result": report.report}
