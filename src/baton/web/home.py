"""The home page, ``/``: what is going on.

Each challenge with its stages, the one under way and its deadline (``baton.challenge``), the latest
releases in the commons (``baton.commons``), a search form, and for a newcomer how to download a
model with the Hugging Face client. Everything shown is what the public API shows anyone: challenge
specs and stage states, team counts (not names), and released repos the viewer may read; sealed or
private repos are left out. An empty site says so and how to load the demo (``baton demo``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge import service as challenges
from baton.challenge.models import Challenge
from baton.commons import catalogue as commons_catalogue
from baton.core import clock
from baton.core.errors import NotFoundError
from baton.core.http import RuntimeDep
from baton.web import templating
from baton.web.i18n import N_, page_language
from baton.web.signin import PageUser

router = APIRouter(include_in_schema=False)

MAX_CHALLENGES: Final = 12  # the most recent; older ones stay in the API (GET /api/challenges)
MAX_RELEASES: Final = 8

# A stage's state, as the page names it.
STAGE_STATES: Final = {
    "upcoming": N_("Upcoming"),
    "open": N_("Open for submissions"),
    "judging": N_("Deadline passed, awaiting the decision"),
    "decided": N_("Decided, appeal window open"),
    "final": N_("Final"),
}


@dataclass
class StageView:
    id: str
    title: str
    opens: str | None
    deadline: str
    state: str
    teams: int


@dataclass
class ChallengeView:
    slug: str
    title: str
    timezone: str
    stages: list[StageView] = field(default_factory=list)
    current: StageView | None = None
    ended: bool = False


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _stage_state(
    session: Session, challenge: Challenge, stage_id: str, opens: datetime | None, deadline: datetime, now: datetime
) -> str:
    try:
        record = challenges.decision_record(session, challenge.slug, stage_id)
    except NotFoundError:
        record = None
    if record is not None:
        return "final" if record.get("final") else "decided"
    if opens is not None and now < opens:
        return "upcoming"
    return "open" if now <= deadline else "judging"


def challenge_views(
    session: Session, lang: str, now: datetime, *, limit: int | None = MAX_CHALLENGES
) -> list[ChallengeView]:
    """The most recent challenges with their stages' states (public: the API shows the same)."""
    rows = sorted(challenges.list_challenges(session), key=lambda row: (row.created_at, row.id), reverse=True)
    views = []
    for challenge in rows[:limit]:
        spec = challenges.spec_of(challenge)
        view = ChallengeView(
            slug=challenge.slug,
            title=(spec.title_ko if lang == "ko" and spec.title_ko else spec.title),
            timezone=spec.timezone,
            ended=challenge.ended_at is not None,
        )
        for stage in spec.stages:
            shown = StageView(
                id=stage.id,
                title=(stage.title_ko if lang == "ko" and stage.title_ko else stage.title) or stage.id,
                opens=_local(stage.opens, spec.timezone) if stage.opens else None,
                deadline=_local(stage.deadline, spec.timezone),
                state=_stage_state(session, challenge, stage.id, stage.opens, stage.deadline, now),
                teams=len(challenges.participants(session, challenge, spec, stage.id)),
            )
            view.stages.append(shown)
            if view.current is None and shown.state != "final":
                view.current = shown
        view.ended = view.ended or view.current is None
        views.append(view)
    return views


def home_data(session: Session, user: Actor | None, lang: str) -> dict[str, Any]:
    releases = commons_catalogue.latest_releases(session, user, limit=MAX_RELEASES)
    example = next((release["repo"] for release in releases if release["type"] == "model"), None)
    return {
        "challenges": challenge_views(session, lang, clock.now()),
        "releases": releases,
        "example_model": example,
    }


@router.get("/", name="home", response_class=HTMLResponse)
def home(request: Request, runtime: RuntimeDep, user: PageUser) -> HTMLResponse:
    lang = page_language(request)
    with runtime.database.session() as session:
        data = home_data(session, user, lang)
    return templating.render_page(
        request,
        "home.html",
        viewer=user.name if user else None,
        endpoint=str(request.base_url).rstrip("/"),
        states=STAGE_STATES,
        **data,
    )
