"""The challenge in public: the list of challenges, a challenge's page and a stage's standings.

``/challenges`` lists every challenge with the stage under way, its deadline in the challenge's time
zone and how many teams compete. ``/challenges/{challenge}`` shows the timeline of stages (a
repechage with its window), each stage's state, the teams with how they entered and what became of
them at each decided stage, the appeals with their answers, and the ledger's published head with the
commands that verify it. ``/challenges/{challenge}/stages/{stage}`` shows the stage's standings:
before the decision, the stored snapshot of ``baton.challenge.standings`` (computed by the decision's
own code at a ledger head, with the time and seq it was computed at, and a note when the ledger has
moved on since); once decided, the decision record's numbers.

Everything shown is what the public API shows anyone: the spec, team names, decision records,
appeals without who filed or answered them, and the public ledger's head. A blind arena's battles are
sealed in the ledger until the decision closes voting, so no standings show an arena rating before.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.challenge import report as reports
from baton.challenge import service, standings
from baton.challenge.models import Challenge, LedgerEntry
from baton.core import clock
from baton.core.errors import BatonError, NotFoundError
from baton.core.http import RuntimeDep
from baton.web import templating
from baton.web.challenge_pages import _outcome_text
from baton.web.errors import error_page
from baton.web.home import STAGE_STATES, ChallengeView, StageView, _local, _stage_state, challenge_views
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import PageUser

router = APIRouter(include_in_schema=False)

# A stage's composite chart, drawn once per snapshot (or decision) and language: (slug, stage, head,
# computed at, lang) -> SVG; forgotten all at once past this many.
CHART_CACHE_SIZE: Final = 256
_charts: dict[tuple[str, str, Any, Any, str], str] = {}

MAX_LISTED: Final = 200  # challenges on /challenges (newest first); every one stays in GET /api/challenges
APPEAL_KEYS: Final = ("id", "stage", "team", "text", "filed_at", "answer", "upheld", "answered_at")


# --------------------------------------------------------------------------------------------- list


@router.get("/challenges", name="challenges_page", response_class=HTMLResponse)
def challenges_page(request: Request, runtime: RuntimeDep, user: PageUser) -> HTMLResponse:
    lang = page_language(request)
    with runtime.database.session() as session:
        views = challenge_views(session, lang, clock.now(), limit=MAX_LISTED)
    return templating.render_page(
        request, "challenges.html", viewer=user.name if user else None, challenges=views, states=STAGE_STATES
    )


# --------------------------------------------------------------------------------------------- one challenge


def _records(session: Session, slug: str, stage_ids: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for stage_id in stage_ids:
        try:
            found[stage_id] = service.decision_record(session, slug, stage_id)
        except NotFoundError:
            continue
    return found


def challenge_data(session: Session, slug: str, lang: str) -> dict[str, Any]:
    """What the challenge's page shows (all of it public)."""
    row = service.get_challenge(session, slug)
    spec = service.spec_of(row)
    zone = spec.timezone
    view = challenge_view_of(session, lang, row)
    records = _records(session, slug, [stage.id for stage in spec.stages])
    stage_titles = {stage.id: reports.title_in(stage.model_dump(), lang, fallback=stage.id) for stage in spec.stages}
    stages = []
    for stage, shown in zip(spec.stages, view.stages, strict=True):
        stages.append(
            {
                "id": stage.id,
                "title": shown.title,
                "repechage": stage.is_repechage,
                "opens": reports.show_time(stage.opens.isoformat(), zone) if stage.opens else None,
                "deadline": reports.show_time(stage.deadline.isoformat(), zone),
                "state": shown.state,
                "teams": shown.teams,
                "decided": stage.id in records,
                "admits": stage.admits,
            }
        )
    teams = []
    for team in service.list_teams(session, slug):
        outcomes = []
        for stage_id, record in records.items():
            row_of = next((t for t in record["teams"] if t["team"] == team.slug), None)
            if row_of is None:
                continue
            shaped = row_of | {"outcome_reason": reports.outcome_of(row_of)}
            gates = {"gates": record.get("gates") or []}
            outcomes.append(
                {
                    "stage": stage_id,
                    "stage_title": stage_titles.get(stage_id, stage_id),
                    "advance": row_of.get("outcome") == "advance",
                    "text": _outcome_text(gates, shaped, lang),
                    "final": bool(record.get("final")),
                }
            )
        teams.append(
            {
                "slug": team.slug,
                "name": team.name,
                "entered_stage": stage_titles.get(team.entered_stage, team.entered_stage),
                "repechage": team.repechage,
                "status": team.status,
                "outcomes": outcomes,
            }
        )
    appeals = [
        {key: appeal.get(key) for key in APPEAL_KEYS}
        | {
            "filed_at": reports.show_time(appeal.get("filed_at"), zone),
            "answered_at": reports.show_time(appeal.get("answered_at"), zone) if appeal.get("answered_at") else None,
            "stage_title": stage_titles.get(str(appeal.get("stage")), str(appeal.get("stage"))),
        }
        for appeal in service.list_appeals(session, slug)
    ]
    return {
        "slug": slug,
        "title": view.title,
        "zone": zone,
        "stages": stages,
        "teams": teams,
        "appeals": appeals,
        "head": ledger_head(session, row),
    }


def challenge_view_of(session: Session, lang: str, row: Challenge) -> ChallengeView:
    """The home page's view of one challenge (its stages' states and team counts)."""
    spec = service.spec_of(row)
    now = clock.now()
    view = ChallengeView(
        slug=row.slug,
        title=spec.title_ko if lang == "ko" and spec.title_ko else spec.title,
        timezone=spec.timezone,
    )
    for stage in spec.stages:
        view.stages.append(
            StageView(
                id=stage.id,
                title=(stage.title_ko if lang == "ko" and stage.title_ko else stage.title) or stage.id,
                opens=_local(stage.opens, spec.timezone) if stage.opens else None,
                deadline=_local(stage.deadline, spec.timezone),
                state=_stage_state(session, row, stage.id, stage.opens, stage.deadline, now),
                teams=len(service.participants(session, row, spec, stage.id)),
            )
        )
    return view


def ledger_head(session: Session, row: Challenge) -> dict[str, Any]:
    """The published head: its hash, seq and when its event was recorded (in the challenge's zone)."""
    recorded = session.scalar(
        select(LedgerEntry.recorded_at).where(LedgerEntry.challenge_id == row.id, LedgerEntry.seq == row.last_seq)
    )
    zone = service.spec_of(row).timezone
    return {"hash": row.head_hash, "seq": row.last_seq, "at": reports.show_time(recorded, zone) if recorded else "–"}


@router.get("/challenges/{challenge}", name="challenge_page", response_class=HTMLResponse)
def challenge_page(request: Request, runtime: RuntimeDep, user: PageUser, challenge: str) -> Response:
    viewer = user.name if user else None
    lang = page_language(request)
    try:
        with runtime.database.session() as session:
            data = challenge_data(session, challenge, lang)
    except BatonError as error:
        return error_page(request, error, viewer=viewer)
    return templating.render_page(request, "challenge.html", viewer=viewer, c=data, states=STAGE_STATES)


# --------------------------------------------------------------------------------------------- a stage


def stage_data(session: Session, slug: str, stage_id: str, lang: str) -> dict[str, Any]:
    """A stage's standings: the decision's once decided, else the stored snapshot (or none yet)."""
    row = service.get_challenge(session, slug)
    spec = service.spec_of(row)
    stage = service.stage_of(spec, stage_id)
    zone = spec.timezone
    try:
        record: dict[str, Any] | None = service.decision_record(session, slug, stage_id)
    except NotFoundError:
        record = None
    snapshot = None if record is not None else standings.snapshot(session, row, stage_id)
    source = record if record is not None else (snapshot.standings if snapshot is not None else None)
    board = None
    if source is not None:
        board = reports.build_report(source, timezone=zone)
    arena_sealed = record is None and any(c.kind == "arena" for c in stage.criteria)
    data: dict[str, Any] = {
        "slug": slug,
        "challenge_title": spec.title_ko if lang == "ko" and spec.title_ko else spec.title,
        "stage": stage_id,
        "stage_title": reports.title_in(stage.model_dump(), lang, fallback=stage_id),
        "zone": zone,
        "deadline": reports.show_time(stage.deadline.isoformat(), zone),
        "decided": record is not None,
        "final": bool(record and record.get("final")),
        "board": board,
        "arena_sealed": arena_sealed,
        "arena_criteria": {c.id for c in stage.criteria if c.kind == "arena"},
        "head_seq": row.last_seq,
    }
    if record is not None:
        data["as_of"] = reports.show_time(record.get("decided_at"), zone)
        data["as_of_seq"] = record.get("head_seq")
        data["as_of_head"] = f"{record.get('head')}:{record.get('seq')}"  # a redone decision has its own seq
    elif snapshot is not None:
        data["as_of"] = reports.show_time(clock.aware(snapshot.computed_at).isoformat(), zone)
        data["as_of_seq"] = snapshot.head_seq
        data["as_of_head"] = snapshot.head_hash
        data["behind"] = max(0, row.last_seq - snapshot.head_seq)
    return data


def _chart(data: dict[str, Any], lang: str) -> str:
    """The standings' composite chart (the decision report's), remembered per snapshot and language."""
    key = (data["slug"], data["stage"], data.get("as_of_head"), data.get("as_of"), lang)
    found = _charts.get(key)
    if found is None:
        title = translate(lang, N_("Composite score by criterion, with its %(level)s interval"), level="95%")
        found = reports.composite_chart_svg(data["board"], lang, title=title)
        if len(_charts) >= CHART_CACHE_SIZE:
            _charts.clear()
        _charts[key] = found
    return found


@router.get("/challenges/{challenge}/stages/{stage}", name="stage_page", response_class=HTMLResponse)
def stage_page(request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str) -> Response:
    viewer = user.name if user else None
    lang = page_language(request)
    try:
        with runtime.database.session() as session:
            data = stage_data(session, challenge, stage, lang)
    except BatonError as error:
        return error_page(request, error, viewer=viewer)
    board = data["board"]
    composite_svg = None
    if board is not None and board["teams"]:
        composite_svg = _chart(data, lang)
    return templating.render_page(
        request,
        "stage.html",
        viewer=viewer,
        s=data,
        composite_svg=composite_svg,
        criteria=[c | {"shown_title": reports.title_in(c, lang)} for c in (board or {}).get("criteria", [])],
        fmt=reports.format_number,
    )
