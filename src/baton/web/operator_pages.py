"""The operator's console: site admins only (anyone else gets the site's 404, so the page is not advertised).

- ``/admin``: the challenges, the gate queue (inconclusive checks awaiting a ruling), held releases
  with their personal-data findings, and the jobs that died (dead letters) with a retry button.
- ``/admin/challenges/{challenge}``: per stage, each team's gate standing with an override form
  (pass or fail and a written reason), the decision (a decide button, who advanced, finality).

Every action is a form with the session's CSRF value, calls the same service as the HTTP API (which
checks the operator again and writes the ledger) and comes back with what happened.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.challenge import report as reports
from baton.challenge import service
from baton.challenge.service._common import _latest_decision, participants
from baton.commons import release
from baton.core import jobs
from baton.core.errors import BadRequestError, BatonError, NotFoundError
from baton.core.http import DbId, RuntimeDep
from baton.hub import repos
from baton.hub.models import AccessRequest, Repo
from baton.web import templating
from baton.web.errors import error_page
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import PageUser, csrf_ok, request_csrf, sign_in_redirect
from baton.web.workspace_pages import _csrf_refused, gate_view, stage_title

router = APIRouter(include_in_schema=False)

_DONE = {
    "override": N_("The gate ruling was recorded in the ledger."),
    "decide": N_("The stage was decided; the report is published."),
    "resolve": N_("The finding was resolved."),
    "retry": N_("The job was queued again."),
    "access": N_("The access request was answered."),
    "appeal": N_("The appeal was answered; the answer is published beside it."),
    "finalize": N_("Every decision that was due is now final."),
}


def _not_here() -> NotFoundError:
    return NotFoundError("No such page")


def _operator_post(request: Request, user: Actor | None, csrf: str) -> Actor | Response:
    """The operator behind a console form, or the answer refusing it: sign in first, a 404 to anyone who is
    not an operator (the console does not exist for them), a 403 for a form without the session's CSRF value."""
    if user is None:
        return sign_in_redirect(request)
    if not user.is_operator:
        return error_page(request, _not_here(), viewer=user.name)
    if not csrf_ok(request, csrf):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    return user


def _console(session: Session) -> dict[str, Any]:
    challenges = [{"slug": c.slug, "title": c.title} for c in service.list_challenges(session)]
    queue = []
    for challenge in challenges:
        for team, result in service.gate_queue(session, challenge["slug"]):
            queue.append(
                {"challenge": challenge["slug"], "stage": result.stage, "gate": result.gate, "team": team.slug}
            )
    held = release.held_items(session, None)
    dead = [
        {
            "id": job.id,
            "kind": job.kind,
            "attempts": job.attempts,
            "error": (job.error or "").splitlines()[0][:300] if job.error else "",
        }
        for job in jobs.list_jobs(session, status="dead", limit=50)
    ]
    return {
        "challenges": challenges,
        "queue": queue,
        "held": held,
        "dead": dead,
        "access_requests": pending_access_requests(session),
    }


def pending_access_requests(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Requests for gated repos' files that nobody has answered yet, oldest first (no e-mail shown)."""
    rows = session.execute(
        select(AccessRequest, Repo, Account)
        .join(Repo, Repo.id == AccessRequest.repo_id)
        .join(Account, Account.id == AccessRequest.user_id)
        .where(AccessRequest.status == "pending")
        .order_by(AccessRequest.created_at, AccessRequest.id)
        .limit(limit)
    ).all()
    return [
        {"id": request.id, "repo": repo.repo_id, "type": repo.repo_type, "user": account.name}
        for request, repo, account in rows
    ]


@router.get("/admin", name="operator_console", response_class=HTMLResponse)
def operator_console(request: Request, runtime: RuntimeDep, user: PageUser, done: str | None = None) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not user.is_operator:
        return error_page(request, _not_here(), viewer=user.name)
    with runtime.database.session() as session:
        data = _console(session)
    notice = translate(page_language(request), _DONE[done]) if done in _DONE else None
    return templating.render_page(
        request, "operator_console.html", viewer=user.name, notice=notice, csrf=request_csrf(request), **data
    )


def _stages(session: Session, slug: str, lang: str) -> list[dict[str, Any]]:
    challenge = service.get_challenge(session, slug)
    spec = service.spec_of(challenge)
    zone = spec.timezone
    stages = []
    for stage in spec.stages:
        decision = _latest_decision(session, challenge, stage.id)
        teams = []
        for team_slug in participants(session, challenge, spec, stage.id):
            team = service.get_team(session, slug, team_slug)
            gates = []
            for gate in stage.gates:
                standing = service.gate_standing(session, challenge, stage.id, gate.id, team)
                gates.append({"gate": gate.id, "kind": gate.kind} | gate_view(standing, lang))
            teams.append({"team": team_slug, "name": team.name, "gates": gates})
        record = decision.record if decision is not None else None
        stages.append(
            {
                "id": stage.id,
                "title": stage_title(stage, lang),
                "deadline": reports.show_time(service.iso(stage.deadline), zone),
                "teams": teams,
                "decided": decision is not None,
                "advanced": list(record.get("advance") or []) if record else [],
                "final": decision is not None and decision.final_at is not None,
                "appeal_deadline": reports.show_time(service.iso(decision.appeal_deadline), zone)
                if decision is not None
                else None,
            }
        )
    return stages


def _challenge_page(
    request: Request,
    runtime: Any,
    user: Actor,
    challenge: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_at: str | None = None,
    typed_reason: str = "",
    status_code: int = 200,
) -> Response:
    try:
        with runtime.database.session() as session:
            stages = _stages(session, challenge, page_language(request))
            appeals = [a for a in service.list_appeals(session, challenge) if a["answered_at"] is None]
    except BatonError as failure:
        return error_page(request, failure, viewer=user.name)
    return templating.render_page(
        request,
        "operator_challenge.html",
        viewer=user.name,
        status_code=status_code,
        challenge=challenge,
        stages=stages,
        appeals=appeals,
        notice=notice,
        error=error,
        error_at=error_at,
        typed_reason=typed_reason,
        csrf=request_csrf(request),
    )


@router.get("/admin/challenges/{challenge}", name="operator_challenge", response_class=HTMLResponse)
def operator_challenge(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, done: str | None = None
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not user.is_operator:
        return error_page(request, _not_here(), viewer=user.name)
    notice = translate(page_language(request), _DONE[done]) if done in _DONE else None
    return _challenge_page(request, runtime, user, challenge, notice=notice)


def _back(request: Request, challenge: str, done: str, anchor: str) -> RedirectResponse:
    target = templating.path_for(request, "operator_challenge", challenge=challenge)
    return RedirectResponse(templating.with_query(target, done=done) + anchor, status_code=303)


@router.post("/admin/challenges/{challenge}/stages/{stage}/gates/{gate}/override", name="operator_override")
def operator_override(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    gate: str,
    team: Annotated[str, Form(max_length=64)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        with runtime.database.session(write=True) as session:
            service.override_gate(
                session, challenge, stage, team, outcome=outcome, reason=reason, operator=user, gate=gate
            )
    except BatonError as error:
        return _challenge_page(
            request,
            runtime,
            user,
            challenge,
            error=f"{error.message} {error.hint or ''}".strip(),
            error_at=f"{stage}/{gate}/{team}",
            typed_reason=reason,
            status_code=error.status_code,
        )
    return _back(request, challenge, "override", f"#stage-{stage}")


@router.post("/admin/challenges/{challenge}/stages/{stage}/decide", name="operator_decide")
def operator_decide(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    if confirm != "yes":
        message = translate(page_language(request), N_("Tick the box to confirm the decision first."))
        return _challenge_page(
            request, runtime, user, challenge, error=message, error_at=f"{stage}/decide", status_code=400
        )
    try:
        with runtime.database.session(write=True) as session:
            service.decide(session, runtime, challenge, stage, operator=user)
    except BatonError as error:
        return _challenge_page(
            request,
            runtime,
            user,
            challenge,
            error=f"{error.message} {error.hint or ''}".strip(),
            error_at=f"{stage}/decide",
            status_code=error.status_code,
        )
    return _back(request, challenge, "decide", f"#stage-{stage}")


@router.post("/admin/findings/{finding_id}/resolve", name="operator_resolve")
def operator_resolve(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    finding_id: DbId,
    resolution: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        if resolution not in ("accept", "cleaned") or not reason.strip():
            raise BadRequestError("A finding is resolved as 'accept' or 'cleaned', with a reason")
        with runtime.database.session(write=True) as session:
            release.resolve_finding(session, runtime, finding_id, user, resolution=resolution, reason=reason)
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    target = templating.path_for(request, "operator_console")
    return RedirectResponse(templating.with_query(target, done="resolve") + "#held", status_code=303)


@router.post("/admin/jobs/{job_id}/retry", name="operator_retry")
def operator_retry(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    job_id: DbId,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        with runtime.database.session(write=True) as session:
            jobs.requeue(session, job_id)
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    target = templating.path_for(request, "operator_console")
    return RedirectResponse(templating.with_query(target, done="retry") + "#dead-letters", status_code=303)


@router.post("/admin/access-requests/{request_id}", name="operator_access")
def operator_access(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    request_id: DbId,
    status: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        if status not in ("accepted", "rejected"):
            raise BadRequestError("An access request is accepted or rejected")
        with runtime.database.session(write=True) as session:
            found = session.get(AccessRequest, request_id)
            repo = session.get(Repo, found.repo_id) if found is not None else None
            account = session.get(Account, found.user_id) if found is not None else None
            if found is None or repo is None or account is None:
                raise NotFoundError(f"No access request {request_id}")
            key = repos.parse_repo_id(repo.repo_type, repo.repo_id)
            repos.decide_access(session, user, key, account.name, status)
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    target = templating.path_for(request, "operator_console")
    return RedirectResponse(templating.with_query(target, done="access") + "#access-requests", status_code=303)


@router.post("/admin/challenges/{challenge}/appeals/{appeal_id}/answer", name="operator_answer_appeal")
def operator_answer_appeal(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    appeal_id: DbId,
    answer: Annotated[str, Form(max_length=10000)] = "",
    upheld: Annotated[str, Form(max_length=10)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        with runtime.database.session(write=True) as session:
            service.answer_appeal(session, challenge, appeal_id, answer=answer, upheld=upheld == "yes", operator=user)
    except BatonError as error:
        return _challenge_page(
            request,
            runtime,
            user,
            challenge,
            error=f"{error.message} {error.hint or ''}".strip(),
            error_at=f"appeal/{appeal_id}",
            typed_reason=answer,
            status_code=error.status_code,
        )
    return _back(request, challenge, "appeal", "#appeals")


@router.post("/admin/finalize", name="operator_finalize")
def operator_finalize(
    request: Request, runtime: RuntimeDep, user: PageUser, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Make final the decisions whose appeal window closed with no appeal open (as the hourly job does)."""
    checked = _operator_post(request, user, csrf)
    if isinstance(checked, Response):
        return checked
    user = checked
    try:
        user.require_operator("make decisions final")
        with runtime.database.session(write=True) as session:
            service.finalize_due(session)
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    target = templating.path_for(request, "operator_console")
    return RedirectResponse(templating.with_query(target, done="finalize"), status_code=303)
