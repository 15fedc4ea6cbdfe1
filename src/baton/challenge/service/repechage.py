"""The repechage (패자부활): a selection of its own between two regular stages.

A stage with ``kind: repechage`` opens a call for applications (``opens`` to ``deadline``). New
teams (entered by an operator into the repechage) and teams eliminated in an earlier stage (under
their own id, with their history) apply once each; the applicants then compete on the repechage's
own criteria and gates like in any stage (submissions, reviews, gate checks), and its decision —
recorded in the ledger, with its appeal window and finality — admits at most ``admits`` of them
into the next regular stage, beside the teams the previous stage advanced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.errors import RepechageError
from baton.challenge.models import Challenge, Team
from baton.challenge.service._common import (
    REPECHAGE_APPLIED,
    _append,
    _latest_decision,
    _local,
    _lock,
    _now,
    _require_member,
    _team,
    applications_of,
    get_challenge,
    spec_of,
    stage_of,
)
from baton.challenge.spec import ChallengeSpec, Stage
from baton.core.errors import BadRequestError

MAX_STATEMENT = 20_000


def apply_to_repechage(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    user: Actor,
    statement: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A team applies to a repechage (a member of the team, or an operator on its behalf).

    Refused: a stage that is not a repechage, outside its call, once it is decided, a team that still
    competes (or that the YAML's ``open_to`` leaves out), a second application, one over ``teams``.
    """
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    row = _team(session, challenge, team)
    _require_member(session, row, user)  # who may, before anything about the stage is told
    stage_spec = _repechage(spec, stage)
    if len(statement) > MAX_STATEMENT:
        raise BadRequestError(f"The statement is longer than {MAX_STATEMENT} characters", hint="Shorten it.")
    opens = stage_spec.opens or stage_spec.deadline
    if moment < opens:
        raise RepechageError(f"The call of {stage} opens at {_local(spec, opens)}")
    if moment > stage_spec.deadline or _latest_decision(session, challenge, stage) is not None:
        raise RepechageError(f"The call of {stage} closed at {_local(spec, stage_spec.deadline)}")
    earlier = applications_of(session, challenge, stage)
    if any(application["team"] == team for application in earlier):
        raise RepechageError(f"Team '{team}' has applied to {stage} already; a team applies once")
    applying_as, eliminated_in = _eligibility(spec, stage_spec, row)
    if stage_spec.teams and len(earlier) >= stage_spec.teams:
        raise RepechageError(f"{stage} takes {stage_spec.teams} applications and has them all")
    payload = {
        "stage": stage,
        "team": team,
        "as": applying_as,
        "eliminated_in": eliminated_in,
        "statement": statement.strip(),
        "by": user.name,
    }
    event = _append(session, challenge, REPECHAGE_APPLIED, payload, moment)
    return payload | {"seq": event.seq, "applied_at": event.recorded_at}


def _repechage(spec: ChallengeSpec, stage: str) -> Stage:
    stage_spec = stage_of(spec, stage)
    if not stage_spec.is_repechage:
        repechages = ", ".join(s.id for s in spec.stages if s.is_repechage) or "none in this challenge"
        raise RepechageError(
            f"{stage} is not a repechage; only a stage with kind: repechage takes applications",
            hint=f"Repechages: {repechages}.",
        )
    return stage_spec


def _eligibility(spec: ChallengeSpec, stage: Stage, team: Team) -> tuple[str, str | None]:
    """Whether ``team`` may apply: ("new", None) or ("eliminated", the stage it left), else refused."""
    if team.entered_stage == stage.id:
        if "new" not in stage.open_to:
            raise RepechageError(f"{stage.id} is open to teams eliminated earlier only, not to new teams")
        return "new", None
    if team.status == "eliminated" and team.exit_stage is not None:
        if "eliminated" not in stage.open_to:
            raise RepechageError(f"{stage.id} is open to new teams only, not to teams eliminated earlier")
        if spec.stage_index(team.exit_stage) >= spec.stage_index(stage.id):
            raise RepechageError(f"Team '{team.slug}' left in {team.exit_stage}, after {stage.id}")
        return "eliminated", team.exit_stage
    if team.status == "active":
        raise RepechageError(
            f"Team '{team.slug}' still competes in {spec.challenge}; only new teams and teams eliminated "
            "earlier may apply",
            hint="A team eliminated in a stage may apply once that decision is final: baton challenge finalize",
        )
    raise RepechageError(f"Team '{team.slug}' has left {spec.challenge} ({team.status})")


def list_applications(session: Session, slug: str, stage: str) -> list[dict[str, Any]]:
    """A repechage's applications, oldest first."""
    challenge = get_challenge(session, slug)
    _repechage(spec_of(challenge), stage)
    return applications_of(session, challenge, stage)


def readmit(session: Session, challenge: Challenge, record: dict[str, Any]) -> list[str]:
    """At a repechage's finality, the teams it admitted that had been eliminated compete again
    (status active, under their own id); returns them. New teams it admitted are active already."""
    back = []
    for slug in record.get("advance", []):
        team = _team(session, challenge, slug)
        if team.status == "eliminated":
            team.status = "active"
            team.exit_stage = None
            back.append(slug)
    return back


def check_new_entrant(
    session: Session, challenge: Challenge, spec: ChallengeSpec, stage: Stage, moment: datetime
) -> None:
    """Whether a new team may be entered into a repechage (to apply to it): before its deadline, while
    undecided, and only if it is open to new teams."""
    if "new" not in stage.open_to:
        raise RepechageError(f"{stage.id} is open to teams eliminated earlier only, not to new teams")
    if moment > stage.deadline or _latest_decision(session, challenge, stage.id) is not None:
        raise RepechageError(f"The call of {stage.id} closed at {_local(spec, stage.deadline)}")
