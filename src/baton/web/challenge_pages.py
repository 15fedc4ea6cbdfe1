"""The challenge's pages: blind arena voting and a stage's decision report (and its downloads).

The challenge keeps its services (``baton.challenge.service``, ``baton.challenge.report``); these
routes only call them and draw the answers with the site's templates. The report's download route
(``/api/challenges/{challenge}/stages/{stage}/report``: JSON, CSV or the page) lives here because its
HTML form is the page.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton.accounts.actor import VOTE
from baton.accounts.http import limit_actions
from baton.challenge import report as reports
from baton.challenge import service
from baton.challenge.gate_evidence import evidence_lines
from baton.core.errors import AuthenticationError, BatonError
from baton.core.http import RuntimeDep
from baton.web import templating
from baton.web.errors import error_page
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import PageUser, csrf_ok, request_csrf, sign_in_redirect

router = APIRouter(include_in_schema=False)
downloads = APIRouter()

_REPORT_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The decision report: JSON (format=json), CSV or an HTML page",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}


# --------------------------------------------------------------------------------------------- arena


def _arena_page(
    request: Request,
    *,
    viewer: str,
    challenge: str,
    stage: str,
    battle: dict[str, Any] | None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templating.render_page(
        request,
        "arena.html",
        viewer=viewer,
        status_code=status_code,
        challenge=challenge,
        stage=stage,
        battle=battle,
        csrf=request_csrf(request),
        notice=notice,
        error=error,
    )


@router.get("/challenges/{challenge}/stages/{stage}/arena", name="arena_page", response_class=HTMLResponse)
def arena_page(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str, voted: str | None = None
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    try:
        user.require(VOTE, "vote")
        with runtime.database.session() as session:
            battle = service.next_battle(session, challenge, stage, voter=user)
            shown = (
                {
                    "battle": battle.battle,
                    "prompt": battle.prompt,
                    "answer_a": battle.answer_a,
                    "answer_b": battle.answer_b,
                }
                if battle is not None
                else None
            )
    except BatonError as error:
        return error_page(request, error, viewer=user.name)
    notice = translate(page_language(request), N_("Your vote was recorded.")) if voted else None
    return _arena_page(request, viewer=user.name, challenge=challenge, stage=stage, battle=shown, notice=notice)


@router.post("/challenges/{challenge}/stages/{stage}/arena/vote", name="arena_vote")
def arena_vote(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    battle: Annotated[str, Form(max_length=200)] = "",
    choice: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if user is None:
        return sign_in_redirect(request)
    if not csrf_ok(request, csrf):
        error = AuthenticationError(
            "This vote did not come from the voting page", hint="Open the arena page again and vote from there."
        )
        return error_page(request, error, viewer=user.name)
    try:
        user.require(VOTE, "vote")
        limit_actions(runtime, request, "vote", user)
        with runtime.database.session(write=True) as session:
            service.record_vote(session, challenge, stage, battle, voter=user, choice=choice)
    except BatonError as error:
        return _arena_page(
            request,
            viewer=user.name,
            challenge=challenge,
            stage=stage,
            battle=None,
            error=f"{error.message} {error.hint}".strip(),
            status_code=error.status_code,
        )
    target = templating.path_for(request, "arena_page", challenge=challenge, stage=stage)
    return RedirectResponse(templating.with_query(target, voted="1"), status_code=303)


# --------------------------------------------------------------------------------------------- report


def render_report(
    report: dict[str, Any], lang: str, *, request: Request | None = None, viewer: str | None = None
) -> str:
    """A stage's decision report (``baton.challenge.report.load_report``) as a page in ``lang``."""
    reports.check_language(lang)
    return templating.render(
        "report.html",
        lang=lang,
        request=request,
        viewer=viewer,
        report=report,
        composite_svg=reports.composite_chart_svg(report, lang),
        criteria_svg=reports.criteria_chart_svg(report, lang),
        fmt=reports.format_number,
        gate_evidence=evidence_lines,
    )


@router.get("/challenges/{challenge}/stages/{stage}/report", name="report_page", response_class=HTMLResponse)
def report_page(request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str) -> HTMLResponse:
    viewer = user.name if user else None
    try:
        with runtime.database.session() as session:
            data = reports.load_report(session, challenge, stage)
    except BatonError as error:
        return error_page(request, error, viewer=viewer)
    return templating.page_response(
        request, render_report(data, page_language(request), request=request, viewer=viewer)
    )


@downloads.get(
    "/api/challenges/{challenge}/stages/{stage}/report",
    name="report_download",
    response_model=None,
    response_class=Response,
    responses=_REPORT_FORMATS,
)
def get_report(
    request: Request,
    runtime: RuntimeDep,
    challenge: str,
    stage: str,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
    lang: Annotated[Literal["ko", "en"], Query()] = "en",
) -> Response:
    with runtime.database.session() as session:
        data = reports.load_report(session, challenge, stage)
    name = f"{challenge}-{stage}-decision"
    if format == "csv":
        return Response(
            reports.to_csv(data, lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "html":
        page = render_report(data, lang, request=request)
        return Response(page, media_type="text/html; charset=utf-8", headers=templating.PAGE_HEADERS)
    return Response(reports.to_json(data), media_type="application/json")
