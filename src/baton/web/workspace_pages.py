"""Each role's workspace in the challenge: a person's own work, a team's page and a reviewer's rubric forms.

- ``/settings/work``: the challenges and roles of the signed-in person (teams, review assignments, operator).
- ``/challenges/{challenge}/teams/{team}``: a team's submissions (pinned revision and its hold),
  evaluation progress (scores recorded or missing per task, gate standing), the release plan editor
  and appeals. Members of the team (or of one of its organizations) and operators only; anyone else
  gets the same 404 as for a team that does not exist.
- ``/challenges/{challenge}/stages/{stage}/review``: a reviewer's assignments, a rubric form for each,
  and a notice instead of the form where the reviewer is affiliated with the team (conflict of interest).

The routes only call ``baton.challenge.service`` (which checks the actor again) and draw the answers;
every form carries the session's CSRF value.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import REVIEW, WRITE, Actor
from baton.challenge import report as reports
from baton.challenge import service
from baton.challenge.access import is_member
from baton.challenge.models import PanelAssignment, PanelConflict, ReviewerAssignment, Team
from baton.challenge.service._common import _conflicts, _latest_decision, participants
from baton.challenge.spec import ASSET_KINDS, ReleasePlan
from baton.core.errors import BatonError, NotFoundError, PermissionDeniedError
from baton.core.http import RuntimeDep
from baton.web import templating
from baton.web.challenge_pages import _GATE_OUTCOMES, _GATE_SOURCES
from baton.web.errors import error_page
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import FORM_EXPIRED, PageUser, csrf_ok, request_csrf, sign_in_redirect

router = APIRouter(include_in_schema=False)

PLAN_FIELDS = ("repo", "repo_type", "kind", "license", "access", "embargo_until")
PLAN_ROWS_EXTRA = 1  # empty rows offered below the plan's repos, to add one
# What a person types in a row; the selects always send a value, so a row without these is empty.
PLAN_TYPED = ("repo", "kind", "license", "embargo_until")
MAX_PLAN_ROWS = 50


def _csrf_refused(request: Request) -> PermissionDeniedError:
    lang = page_language(request)
    return PermissionDeniedError(
        translate(lang, FORM_EXPIRED),
        code="CsrfFailed",
        hint=translate(lang, N_("Open the page again and send the form from there.")),
    )


def _hidden_team(challenge: str, team: str) -> NotFoundError:
    return NotFoundError(f"No team '{team}' in {challenge}")


def _member_team(session: Session, user: Actor, challenge: str, team: str) -> Team:
    """The team, for one of its members or an operator; for anyone else the same 404 as a missing team."""
    try:
        row = service.get_team(session, challenge, team)
    except NotFoundError:
        raise _hidden_team(challenge, team) from None
    if not (user.is_operator or is_member(session, row, user)):
        raise _hidden_team(challenge, team)
    return row


# --------------------------------------------------------------------------------------------- my work


def my_roles(session: Session, user: Actor) -> list[dict[str, Any]]:
    """Per challenge: the teams ``user`` belongs to and the stages where they review."""
    found = []
    for challenge in service.list_challenges(session):
        teams = [team for team in service.list_teams(session, challenge.slug) if is_member(session, team, user)]
        reviewing = select(ReviewerAssignment.stage).where(
            ReviewerAssignment.challenge_id == challenge.id, ReviewerAssignment.reviewer_id == user.account_id
        )
        rating = select(PanelAssignment.stage).where(
            PanelAssignment.challenge_id == challenge.id, PanelAssignment.rater_id == user.account_id
        )
        stages = sorted(set(session.scalars(reviewing)) | set(session.scalars(rating)))
        if teams or stages:
            found.append({"slug": challenge.slug, "title": challenge.title, "teams": teams, "review_stages": stages})
    return found


@router.get("/settings/work", name="my_work", response_class=HTMLResponse)
def my_work(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    with runtime.database.session() as session:
        roles = my_roles(session, user)
    return templating.render_page(request, "my_work.html", viewer=user.name, roles=roles, operator=user.is_operator)


# --------------------------------------------------------------------------------------------- team


def gate_view(standing: Any, lang: str) -> dict[str, Any]:
    """A gate's standing for a page: the verdict and its source in ``lang``, the reason as recorded."""
    outcome = standing.outcome if standing is not None else "missing"
    source = standing.source if standing is not None else None
    return {
        "outcome": outcome,
        "outcome_text": translate(lang, _GATE_OUTCOMES.get(outcome, _GATE_OUTCOMES["missing"])),
        "source": source,
        "source_text": translate(lang, _GATE_SOURCES[source]) if source in _GATE_SOURCES else "",
        "reason": standing.reason if standing is not None else "",
    }


def stage_title(stage: Any, lang: str) -> str:
    return reports.title_in({"title": stage.title, "title_ko": stage.title_ko}, lang, fallback=stage.id)


def _stage_rows(session: Session, challenge_slug: str, team: Team, lang: str) -> list[dict[str, Any]]:
    challenge = service.get_challenge(session, challenge_slug)
    spec = service.spec_of(challenge)
    zone = spec.timezone
    state = service.state_of(session, challenge)
    rows = []
    for stage in spec.stages:
        competing = team.slug in participants(session, challenge, spec, stage.id)
        submission = service.current_submission(session, challenge, stage.id, team)
        if not competing and submission is None:
            continue
        model = service.public_model(session, submission) if submission is not None else None
        scores = state.stage_data(stage.id).scores
        tasks = [
            {"criterion": criterion.id, "task": task.id, "recorded": model is not None and (model, task.id) in scores}
            for criterion in stage.criteria
            if criterion.kind == "benchmark"
            for task in criterion.tasks
        ]
        gates = []
        for gate in stage.gates:
            standing = service.gate_standing(session, challenge, stage.id, gate.id, team)
            gates.append({"gate": gate.id} | gate_view(standing, lang))
        decision = _latest_decision(session, challenge, stage.id)
        rows.append(
            {
                "id": stage.id,
                "title": stage_title(stage, lang),
                "deadline": reports.show_time(service.iso(stage.deadline), zone),
                "submission": submission,
                "submitted_at": reports.show_time(service.iso(submission.submitted_at), zone)
                if submission is not None
                else None,
                "tasks": tasks,
                "recorded": sum(1 for task in tasks if task["recorded"]),
                "gates": gates,
                "decided": decision is not None,
                "final": decision is not None and decision.final_at is not None,
                "appeal_deadline": reports.show_time(service.iso(decision.appeal_deadline), zone)
                if decision is not None
                else None,
                "appealable": decision is not None and decision.final_at is None,
            }
        )
    return rows


def _plan_rows(plan: dict[str, Any]) -> list[dict[str, str]]:
    rows = [{field: str(repo.get(field) or "") for field in PLAN_FIELDS} for repo in plan.get("repos", [])]
    return rows + [dict.fromkeys(PLAN_FIELDS, "") for _ in range(PLAN_ROWS_EXTRA)]


def _team_page(
    request: Request,
    runtime: Any,
    user: Actor,
    challenge: str,
    team: str,
    *,
    plan_rows: list[dict[str, str]] | None = None,
    plan_errors: dict[tuple[int, str], str] | None = None,
    plan_problem: str | None = None,
    appeal_error: str | None = None,
    appeal_text: str = "",
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        with runtime.database.session() as session:
            row = _member_team(session, user, challenge, team)
            stages = _stage_rows(session, challenge, row, page_language(request))
            appeals = [a for a in service.list_appeals(session, challenge) if a["team"] == row.slug]
            plan = service.release_plan(session, challenge, team)
            info = {"slug": row.slug, "name": row.name, "status": row.status, "organizations": row.organizations}
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    return templating.render_page(
        request,
        "team_workspace.html",
        viewer=user.name,
        status_code=status_code,
        challenge=challenge,
        team=info,
        stages=stages,
        appeals=appeals,
        plan_rows=plan_rows if plan_rows is not None else _plan_rows(plan),
        plan_errors=plan_errors or {},
        plan_problem=plan_problem,
        kinds=ASSET_KINDS,
        appeal_error=appeal_error,
        appeal_text=appeal_text,
        notice=notice,
        csrf=request_csrf(request),
    )


_TEAM_NOTICES = {
    "plan": N_("The release plan was saved and recorded in the ledger."),
    "appeal": N_("Your appeal was filed and recorded in the ledger."),
}


@router.get("/challenges/{challenge}/teams/{team}", name="team_workspace", response_class=HTMLResponse)
def team_workspace(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, team: str, done: str | None = None
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    notice = translate(page_language(request), _TEAM_NOTICES[done]) if done in _TEAM_NOTICES else None
    return _team_page(request, runtime, user, challenge, team, notice=notice)


def _plan_from_form(form: Any) -> list[dict[str, str]]:
    rows = []
    for index in range(MAX_PLAN_ROWS):
        row = {field: str(form.get(f"repos-{index}-{field}") or "").strip()[:200] for field in PLAN_FIELDS}
        if f"repos-{index}-repo" not in form:
            break
        rows.append(row)
    return rows


def _empty(row: dict[str, str]) -> bool:
    return not any(row[field] for field in PLAN_TYPED)


def _plan_value(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The plan the rows describe (empty rows left out; empty optional fields as not given)."""
    repos = []
    for row in rows:
        if _empty(row):
            continue
        repos.append({field: value for field, value in row.items() if value or field in ("repo", "kind", "license")})
    return {"repos": repos}


def _plan_field_errors(rows: list[dict[str, str]], error: ValidationError) -> tuple[dict[tuple[int, str], str], str]:
    """Each problem next to its field (row, field); problems of the plan as a whole in one line."""
    kept = [index for index, row in enumerate(rows) if not _empty(row)]
    fields: dict[tuple[int, str], str] = {}
    whole = []
    for item in error.errors():
        loc = tuple(item.get("loc", ()))
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "repos" and isinstance(loc[1], int) and loc[1] < len(kept):
            field = str(loc[2]) if len(loc) >= 3 and loc[2] in PLAN_FIELDS else "repo"
            fields.setdefault((kept[loc[1]], field), message)
        else:
            whole.append(message)
    return fields, "; ".join(whole)


@router.post("/challenges/{challenge}/teams/{team}/release-plan", name="team_release_plan")
async def team_release_plan(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, team: str
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    form = await request.form(max_fields=MAX_PLAN_ROWS * len(PLAN_FIELDS) + 10)
    if not csrf_ok(request, form.get("csrf")):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    rows = _plan_from_form(form)
    plan = _plan_value(rows)
    try:
        ReleasePlan.model_validate(plan)  # the release plan's own validation, to show problems by field
    except ValidationError as error:
        fields, whole = _plan_field_errors(rows, error)
        return _team_page(
            request,
            runtime,
            user,
            challenge,
            team,
            plan_rows=rows,
            plan_errors=fields,
            plan_problem=whole or None,
            status_code=400,
        )
    try:
        with runtime.database.session(write=True) as session:
            _member_team(session, user, challenge, team)
            user.require(WRITE, "change the release plan")
            service.file_release_plan(session, challenge, team, plan, user=user)
    except NotFoundError as error:
        return error_page(request, error, viewer=user.name)
    except BatonError as error:
        return _team_page(
            request,
            runtime,
            user,
            challenge,
            team,
            plan_rows=rows,
            plan_problem=error.message,
            status_code=error.status_code,
        )
    target = templating.path_for(request, "team_workspace", challenge=challenge, team=team)
    return RedirectResponse(templating.with_query(target, done="plan") + "#release-plan", status_code=303)


@router.post("/challenges/{challenge}/teams/{team}/appeals", name="team_appeal")
def team_appeal(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    team: str,
    stage: Annotated[str, Form(max_length=64)] = "",
    text: Annotated[str, Form(max_length=10000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not csrf_ok(request, csrf):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    try:
        with runtime.database.session(write=True) as session:
            _member_team(session, user, challenge, team)
            user.require(WRITE, "file an appeal")
            service.file_appeal(session, challenge, stage, team, text=text, user=user)
    except NotFoundError as error:
        return error_page(request, error, viewer=user.name)
    except BatonError as error:
        return _team_page(
            request,
            runtime,
            user,
            challenge,
            team,
            appeal_error=error.message,
            appeal_text=text,
            status_code=error.status_code,
        )
    target = templating.path_for(request, "team_workspace", challenge=challenge, team=team)
    return RedirectResponse(templating.with_query(target, done="appeal") + "#appeals", status_code=303)


# --------------------------------------------------------------------------------------------- review


def _review_page(
    request: Request,
    runtime: Any,
    user: Actor,
    challenge: str,
    stage: str,
    *,
    error: str | None = None,
    error_team: str | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        user.require(REVIEW, "review")
        with runtime.database.session() as session:
            found = service.get_challenge(session, challenge)
            stage_spec = service.stage_of(service.spec_of(found), stage)
            has_review = any(c.kind == "review" for c in stage_spec.criteria)
            rubric = service.review_criterion(stage_spec, None) if has_review else None
            if rubric is None and not any(c.kind == "panel" for c in stage_spec.criteria):
                service.review_criterion(stage_spec, None)  # says the stage has no review criterion
            state = service.state_of(session, found)
            teams = service.assignments_of(session, challenge, stage, user) if rubric is not None else []
            decision = _latest_decision(session, found, stage)
            pseudonym = service.pseudonym_for(found, user.name, "reviewer")
            reviews = state.stage_data(stage).reviews
            panels = _panels(session, found, stage, user, state)
            assignments = []
            for team in teams:
                recorded = reviews.get((rubric.id, team.slug, pseudonym)) if rubric is not None else None
                assignments.append(
                    {
                        "team": team.slug,
                        "name": team.name,
                        "conflicts": _conflicts(session, user, [team]),
                        "recorded": recorded,
                    }
                )
    except BatonError as failure:
        return error_page(request, failure, viewer=user.name)
    return templating.render_page(
        request,
        "review_workspace.html",
        viewer=user.name,
        status_code=status_code,
        challenge=challenge,
        stage=stage,
        rubric=rubric,
        assignments=assignments,
        panels=panels,
        closed=decision is not None and decision.final_at is not None,
        error=error,
        error_team=error_team,
        typed=typed or {},
        notice=notice,
        csrf=request_csrf(request),
    )


@router.get("/challenges/{challenge}/stages/{stage}/review", name="review_workspace", response_class=HTMLResponse)
def review_workspace(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str, done: str | None = None
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    notices = {"conflict": N_("Your conflict of interest was recorded; you will not rate that team.")}
    message = notices.get(done or "", N_("Your review was recorded.")) if done else None
    notice = translate(page_language(request), message) if message else None
    return _review_page(request, runtime, user, challenge, stage, notice=notice)


@router.post("/challenges/{challenge}/stages/{stage}/review/{team}", name="review_submit")
async def review_submit(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str, team: str
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    form = await request.form(max_fields=100)
    if not csrf_ok(request, form.get("csrf")):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    typed = {str(key): str(value)[:200] for key, value in form.items() if key != "csrf"}
    typed.pop("comment", None)
    comment = str(form.get("comment") or "")[:5000]
    scores: dict[str, Any] = {}
    for key, value in typed.items():
        if key.startswith("score-"):
            try:
                scores[key.removeprefix("score-")] = float(value)
            except ValueError:
                scores[key.removeprefix("score-")] = value
    try:
        user.require(REVIEW, "review")
        with runtime.database.session(write=True) as session:
            service.record_review(session, challenge, stage, team, reviewer=user, scores=scores, comment=comment)
    except BatonError as error:
        return _review_page(
            request,
            runtime,
            user,
            challenge,
            stage,
            error=error.message,
            error_team=team,
            typed=typed | {"comment": comment},
            status_code=error.status_code,
        )
    target = templating.path_for(request, "review_workspace", challenge=challenge, stage=stage)
    return RedirectResponse(templating.with_query(target, done="1"), status_code=303)


# --------------------------------------------------------------------------------------------- panel


def _panels(session: Session, challenge: Any, stage: str, user: Actor, state: Any) -> list[dict[str, Any]]:
    """The rater's panel assignments: per criterion and team, the items rated so far and any conflict."""
    assigned = service.panel_assignments_of(session, challenge.slug, stage, user)
    ratings = state.stage_data(stage).ratings
    pseudonym = assigned["rater"]
    panels = []
    for panel in assigned["panels"]:
        if not panel["teams"]:
            continue
        given = ratings.get(panel["criterion"], {})
        teams = []
        for slug in panel["teams"]:
            team = service.get_team(session, challenge.slug, slug)
            conflicts = _conflicts(session, user, [team])
            if _panel_conflict_recorded(session, challenge, team, user):
                conflicts.append("declared")
            rated = {
                item: given[(slug, item, pseudonym)] for item in panel["items"] if (slug, item, pseudonym) in given
            }
            teams.append({"team": slug, "name": team.name, "conflicts": conflicts, "rated": rated})
        panels.append(panel | {"teams": teams})
    return panels


def _panel_conflict_recorded(session: Session, challenge: Any, team: Team, user: Actor) -> bool:
    return (
        session.scalar(
            select(PanelConflict.id).where(
                PanelConflict.challenge_id == challenge.id,
                PanelConflict.team_id == team.id,
                PanelConflict.rater_id == user.account_id,
            )
        )
        is not None
    )


@router.post("/challenges/{challenge}/stages/{stage}/panel/{criterion}/{team}", name="panel_rate")
async def panel_rate(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str, criterion: str, team: str
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    form = await request.form(max_fields=50)
    if not csrf_ok(request, form.get("csrf")):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    typed = {str(key): str(value)[:200] for key, value in form.items() if key != "csrf"}
    scores: dict[str, Any] = {}
    for key, value in typed.items():
        if key.startswith("dim-"):
            try:
                scores[key.removeprefix("dim-")] = int(value)
            except ValueError:
                scores[key.removeprefix("dim-")] = value
    try:
        user.require(REVIEW, "rate")
        with runtime.database.session(write=True) as session:
            service.rate(
                session,
                challenge,
                stage,
                team,
                rater=user,
                item=typed.get("item", ""),
                scores=scores,
                criterion=criterion,
            )
    except BatonError as error:
        return _review_page(
            request,
            runtime,
            user,
            challenge,
            stage,
            error=error.message,
            error_team=f"panel:{criterion}:{team}",
            typed=typed,
            status_code=error.status_code,
        )
    target = templating.path_for(request, "review_workspace", challenge=challenge, stage=stage)
    return RedirectResponse(templating.with_query(target, done="1") + f"#panel-{criterion}-{team}", status_code=303)


@router.post("/challenges/{challenge}/stages/{stage}/panel-conflicts/{team}", name="panel_conflict")
def panel_conflict(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    team: str,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not csrf_ok(request, csrf):
        return error_page(request, _csrf_refused(request), viewer=user.name)
    try:
        user.require(REVIEW, "declare a conflict of interest")
        with runtime.database.session(write=True) as session:
            service.declare_conflict(session, challenge, stage, team, actor=user)
    except BatonError as error:
        return _review_page(
            request, runtime, user, challenge, stage, error=error.message, status_code=error.status_code
        )
    target = templating.path_for(request, "review_workspace", challenge=challenge, stage=stage)
    return RedirectResponse(templating.with_query(target, done="conflict"), status_code=303)
