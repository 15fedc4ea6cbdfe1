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
from baton.core.errors import AuthenticationError, BatonError
from baton.core.http import RuntimeDep
from baton.web import arena_view, templating
from baton.web.errors import error_page
from baton.web.gate_evidence import evidence_lines
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
    closed: bool = False,
    status_code: int = 200,
    progress: dict[str, Any] | None = None,
    revealed: list[dict[str, Any]] | None = None,
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
        closed=closed,
        progress=progress,
        revealed=revealed,
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
            progress = arena_view.progress(session, challenge, stage, user)
            if service.voting_closed(session, challenge, stage):
                return _arena_page(
                    request,
                    viewer=user.name,
                    challenge=challenge,
                    stage=stage,
                    battle=None,
                    closed=True,
                    progress=progress,
                    revealed=arena_view.reveal(session, challenge, stage, user),
                )
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
    return _arena_page(
        request,
        viewer=user.name,
        challenge=challenge,
        stage=stage,
        battle=shown,
        notice=notice,
        progress=progress,
    )


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
        closed = _voting_closed(runtime, challenge, stage)
        return _arena_page(
            request,
            viewer=user.name,
            challenge=challenge,
            stage=stage,
            battle=None,
            error=None if closed else f"{error.message} {error.hint}".strip(),
            closed=closed,
            status_code=error.status_code,
        )
    target = templating.path_for(request, "arena_page", challenge=challenge, stage=stage)
    return RedirectResponse(templating.with_query(target, voted="1"), status_code=303)


def _voting_closed(runtime: Any, challenge: str, stage: str) -> bool:
    try:
        with runtime.database.session() as session:
            return service.voting_closed(session, challenge, stage)
    except BatonError:
        return False


# --------------------------------------------------------------------------------------------- report


_GATE_OUTCOMES = {
    "pass": N_("Passed"),
    "fail": N_("Failed"),
    "inconclusive": N_("Inconclusive: an operator rules"),
    "missing": N_("Not checked"),
}
_GATE_SOURCES = {
    "provenance": N_("Provenance check"),
    "override": N_("Operator's ruling"),
    "repo": N_("Check of the submitted files"),
    "threshold": N_("Points at the decision"),
}
_GATE_KINDS = {
    "independence": N_("Independence"),
    "threshold": N_("Minimum score"),
    "license": N_("License"),
    "documents": N_("Required documents"),
}
_METHODS = {
    "trimmed_mean": N_("Trimmed mean"),
    "median": N_("Median"),
    "mean": N_("Mean"),
    "raw": N_("Raw score"),
    "ratio_to_target": N_("Ratio to the target model"),
    "minmax": N_("Min-max"),
    "rank": N_("Rank"),
}


def _method_text(method: Any, lang: str) -> str:
    """An aggregation or normalization method of the record, in ``lang`` (unknown ones as recorded)."""
    if not method:
        return "–"
    return translate(lang, _METHODS[method]) if method in _METHODS else str(method)


def _gate_title(report: dict[str, Any], gate: str, lang: str) -> str:
    """A gate's title: ``title_ko`` on Korean pages, else the translated name of its kind, else its title or id."""
    for item in report.get("gates") or []:
        if item.get("id") == gate:
            if lang == "ko" and item.get("title_ko"):
                return str(item["title_ko"])
            if item.get("kind") in _GATE_KINDS and (lang == "ko" or not item.get("title")):
                return translate(lang, _GATE_KINDS[item["kind"]])
            return reports.title_in(item, lang, fallback=gate)
    return gate


def _outcome_text(report: dict[str, Any], team: dict[str, Any], lang: str) -> str:
    """A team's outcome in ``lang``, from the record's structured fields (never its English words)."""
    reason = team["outcome_reason"]
    kind = reason["kind"]
    if kind == "advance":
        return translate(lang, N_("Advances"))
    if kind == "gate":
        return translate(lang, N_("Eliminated by the gate %(gate)s"), gate=_gate_title(report, reason["gate"], lang))
    if kind == "lowest":
        return translate(lang, N_("Eliminated as the lowest on points"))
    if kind == "rank":
        return translate(lang, N_("Eliminated on rank (below the places that advance)"))
    return translate(lang, N_("Eliminated"))


def _entry_text(team: dict[str, Any], lang: str) -> str:
    entry = team.get("entry") or {}
    if entry.get("via") == "repechage":
        return translate(lang, N_("Entered by repechage (%(stage)s)"), stage=entry.get("stage") or "")
    return ""


def _gate_rows(report: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Each team's gate results: the verdict and its source in ``lang``, the evidence as recorded.

    Provenance evidence is recorded as English text (the engine's messages): it is shown as evidence
    under a translated verdict, marked as English. An operator's ruling is shown as written.
    """
    rows = []
    for team in report["teams"]:
        for gate, result in (team.get("gates") or {}).items():
            outcome = str(result.get("outcome") or "missing")
            source = result.get("source")
            evidence = str(result.get("reason") or "")
            if outcome == "missing":
                evidence = ""
            rows.append(
                {
                    "team": team["team"],
                    "gate": gate,
                    "gate_title": _gate_title(report, gate, lang),
                    "outcome": outcome,
                    "outcome_text": translate(lang, _GATE_OUTCOMES.get(outcome, N_("Not checked"))),
                    "source_text": translate(lang, _GATE_SOURCES[source]) if source in _GATE_SOURCES else "–",
                    "evidence": evidence,
                    "evidence_lang": "en" if source in ("provenance", "repo", "threshold") else None,
                    "evidence_lines": evidence_lines(result, lang),
                }
            )
    return rows


def _rule_text(report: dict[str, Any], rule: str, lang: str) -> str:
    """A tie-break rule of the record (``criterion:<id>``, ``group:<name>``, ``earliest_submission``, ``draw``)."""
    kind, _, name = str(rule).partition(":")
    if kind == "criterion":
        titles = {c["id"]: reports.title_in(c, lang) for c in report["criteria"]}
        return translate(lang, N_("Points in %(criterion)s"), criterion=titles.get(name, name))
    if kind == "group":
        return translate(lang, N_("Points in the group %(group)s"), group=name)
    if rule == "earliest_submission":
        return translate(lang, N_("Earliest submission"))
    if rule == "draw":
        return translate(lang, N_("A draw from the stage's recorded seed"))
    return str(rule)


def render_report(
    report: dict[str, Any], lang: str, *, request: Request | None = None, viewer: str | None = None
) -> str:
    """A stage's decision report (``baton.challenge.report.load_report``) as a page in ``lang``.

    Titles are the spec's in ``lang`` (``title_ko`` on Korean pages), outcomes and gate verdicts come
    from the record's structured fields through the catalogue, and times are shown in the challenge's
    time zone, named.
    """
    reports.check_language(lang)
    zone = str(report.get("timezone") or "UTC")
    composite_title = translate(lang, N_("Composite score by criterion, with its %(level)s interval"), level="95%")
    criteria_title = translate(lang, N_("Points per criterion, with their %(level)s intervals"), level="95%")
    teams = [
        team | {"outcome_text": _outcome_text(report, team, lang), "entry_text": _entry_text(team, lang)}
        for team in report["teams"]
    ]
    stage_title = reports.title_in(
        {"title": report.get("stage_title"), "title_ko": report.get("stage_title_ko")}, lang, fallback=report["stage"]
    )
    return templating.render(
        "report.html",
        lang=lang,
        request=request,
        viewer=viewer,
        report=report,
        teams=teams,
        stage_title=stage_title,
        criteria=[c | {"shown_title": reports.title_in(c, lang)} for c in report["criteria"]],
        criterion_titles={c["id"]: reports.title_in(c, lang) for c in report["criteria"]},
        gate_rows=_gate_rows(report, lang),
        tie_breaks=[tb | {"rule_text": _rule_text(report, tb.get("rule", ""), lang)} for tb in report["tie_breaks"]],
        zone=zone,
        when=lambda value: reports.show_time(value, zone),
        composite_svg=reports.composite_chart_svg(report, lang, title=composite_title),
        criteria_svg=reports.criteria_chart_svg(report, lang, title=criteria_title),
        fmt=reports.format_number,
        method=lambda value: _method_text(value, lang),
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
            reports.to_csv(data),  # one header row of stable keys in every language
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "html":
        page = render_report(data, lang, request=request)
        return Response(page, media_type="text/html; charset=utf-8", headers=templating.PAGE_HEADERS)
    return Response(reports.to_json(data), media_type="application/json")
