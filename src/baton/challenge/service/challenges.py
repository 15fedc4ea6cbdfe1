"""Challenges (create, revise, look up), and their teams: entry, membership and release plans."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ORGANIZATION, USER
from baton.challenge import ledger
from baton.challenge.errors import DeadlinePassedError, StageStateError
from baton.challenge.models import Challenge, Decision, Team
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _latest_decision,
    _local,
    _lock,
    _now,
    _require_member,
    _team,
    get_challenge,
    pseudonym_for,
    spec_of,
    stage_of,
)
from baton.challenge.service.repechage import check_new_entrant
from baton.challenge.service.sealed_names import public_plan, public_target
from baton.challenge.spec import ChallengeSpec, load_release_plan, load_spec, slug_ok
from baton.core.errors import BadRequestError, ConflictError, NotFoundError


def pseudonym(session: Session, slug: str, account_name: str, role: str = "voter") -> str:
    """The pseudonym an account has as ``voter`` or ``reviewer`` in a challenge (for operators)."""
    return pseudonym_for(get_challenge(session, slug), account_name, role)


def create_challenge(
    session: Session, source: str | dict[str, Any] | ChallengeSpec, *, operator: Actor, now: datetime | None = None
) -> Challenge:
    operator.require_operator(OPERATOR_ACTION)
    spec = source if isinstance(source, ChallengeSpec) else load_spec(source)
    if session.scalar(select(Challenge.id).where(Challenge.slug == spec.challenge)) is not None:
        raise ConflictError(
            f"A challenge '{spec.challenge}' exists already",
            hint="Pick another slug for 'challenge:' in the YAML, or revise the existing one.",
        )
    moment = _now(now)
    challenge = Challenge(
        slug=spec.challenge,
        title=spec.title,
        spec=spec.to_json(),
        spec_version=spec.version,
        salt=secrets.token_hex(16),
        head_hash=ledger.GENESIS,
        last_seq=0,
        created_at=moment,
    )
    session.add(challenge)
    session.flush()
    _append(
        session,
        challenge,
        "challenge.defined",
        {"spec": spec.to_json(), "spec_sha256": spec.sha256(), "version": spec.version, "operator": operator.name},
        moment,
    )
    return challenge


def revise_challenge(
    session: Session, slug: str, source: str | dict[str, Any], *, operator: Actor, now: datetime | None = None
) -> Challenge:
    """A new version of the challenge's YAML; stages already decided must stay exactly as they were."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    current = spec_of(challenge)
    spec = load_spec(source)
    if spec.challenge != current.challenge:
        raise BadRequestError(
            f"The YAML defines '{spec.challenge}', not '{slug}'", hint="Keep the slug of 'challenge:'."
        )
    if spec.version <= current.version:
        raise ConflictError(
            f"Version {spec.version} is not newer than the current version {current.version}",
            hint=f"Set 'version: {current.version + 1}' in the YAML.",
        )
    for stage in current.stages:
        if _latest_decision(session, challenge, stage.id) is None:
            continue
        try:
            same = spec.stage(stage.id) == stage
        except KeyError:
            same = False
        if not same:
            raise StageStateError(
                f"{stage.id} is decided; the new version must keep it unchanged",
                hint="Change only stages that have no decision yet.",
            )
    challenge.spec = spec.to_json()
    challenge.spec_version = spec.version
    challenge.title = spec.title
    _append(
        session,
        challenge,
        "challenge.revised",
        {"spec": spec.to_json(), "spec_sha256": spec.sha256(), "version": spec.version, "operator": operator.name},
        moment,
    )
    return challenge


def list_challenges(session: Session) -> list[Challenge]:
    return list(session.scalars(select(Challenge).order_by(Challenge.created_at, Challenge.id)))


# Challenges and teams read to label repos by team (``teams_by_organization``): the latest ones.
MAX_LABELLED_CHALLENGES = 50
MAX_LABELLED_TEAMS = 2000


@dataclass(frozen=True)
class TeamStage:
    """A team an organization belongs to, and the last stage the team reached."""

    challenge: str
    team: str
    team_name: str
    stage: str
    status: str  # active, eliminated, ended


def reached_stage(spec: ChallengeSpec, team: Team, advanced: dict[str, set[str]]) -> str:
    """The last stage ``team`` reached: where it left, or the furthest stage it competes in (its
    entry stage, then each stage after one whose current decision advanced it)."""
    if team.exit_stage:
        return team.exit_stage
    ids = [stage.id for stage in spec.stages]
    index = ids.index(team.entered_stage) if team.entered_stage in ids else 0
    reached = ids[index]
    for later in spec.stages[index + 1 :]:
        if later.is_repechage:
            continue  # a repechage's applicants are counted where they competed; its admitted, in the next stage
        via = [spec.previous_regular(later.id), spec.repechage_before(later.id)]
        if not any(stage is not None and team.slug in advanced.get(stage.id, set()) for stage in via):
            break
        reached = later.id
    return reached


def teams_by_organization(session: Session) -> dict[str, TeamStage]:
    """Organization name → its team and the stage the team reached, over the latest challenges
    (an organization in several: its team in the most recent one). Team names, their
    organizations and stages are public (``GET /api/challenges/{c}/teams``); nothing sealed."""
    challenges = list(
        session.scalars(
            select(Challenge).order_by(Challenge.created_at.desc(), Challenge.id.desc()).limit(MAX_LABELLED_CHALLENGES)
        )
    )
    found: dict[str, TeamStage] = {}
    for challenge in challenges:  # most recent first: the first label an organization gets stays
        spec = spec_of(challenge)
        advanced: dict[str, set[str]] = {}
        for stage, record in session.execute(
            select(Decision.stage, Decision.record)
            .where(Decision.challenge_id == challenge.id, Decision.superseded.is_(False))
            .order_by(Decision.id)
        ):
            advanced[stage] = set(record.get("advance") or []) if isinstance(record, dict) else set()
        teams = session.scalars(
            select(Team).where(Team.challenge_id == challenge.id).order_by(Team.slug).limit(MAX_LABELLED_TEAMS)
        )
        for team in teams:
            label = TeamStage(challenge.slug, team.slug, team.name, reached_stage(spec, team, advanced), team.status)
            for organization in team.organizations or []:
                if isinstance(organization, str):
                    found.setdefault(organization, label)
    return found


def get_team(session: Session, slug: str, team: str) -> Team:
    challenge = get_challenge(session, slug)
    return _team(session, challenge, team)


def list_teams(session: Session, slug: str) -> list[Team]:
    challenge = get_challenge(session, slug)
    return list(session.scalars(select(Team).where(Team.challenge_id == challenge.id).order_by(Team.slug)))


def release_plan(session: Session, slug: str, team: str) -> dict[str, Any]:
    return load_release_plan(get_team(session, slug, team).release_plan).model_dump(mode="json")


def _accounts(session: Session, names: Sequence[str], kind: str) -> list[str]:
    found = []
    for name in names:
        account = accounts.find_account(session, name)
        if account is None or account.kind != kind:
            what = "organization" if kind == ORGANIZATION else "user"
            raise NotFoundError(
                f"No {what} '{name}'",
                hint=(
                    f"Create it first: baton org create {name} --admin USER"
                    if kind == ORGANIZATION
                    else f"Create it first: baton user create {name}"
                ),
            )
        found.append(account.name)
    return found


@dataclass(frozen=True)
class TeamEntry:
    """A team entering a challenge (``enter_team``): its id and name, its consortium, and what it declares.

    ``stage`` None: the first stage; a repechage (``kind: repechage``) registers a new team that may
    then apply to it; a later regular stage with ``repechage: N`` admits the team directly.
    """

    team: str
    name: str
    organizations: Sequence[str]
    members: Sequence[str] = ()
    target_models: Sequence[str] = ()
    release_plan: dict[str, Any] | None = None
    stage: str | None = None


def enter_team(session: Session, slug: str, entry: TeamEntry, *, operator: Actor, now: datetime | None = None) -> Team:
    """A team (a consortium of organizations and people) enters the first stage, or a later one by repechage."""
    team, name, organizations, members = entry.team, entry.name, entry.organizations, entry.members
    target_models, release_plan, stage = entry.target_models, entry.release_plan, entry.stage
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    target_stage = spec.stages[0] if stage is None else stage_of(spec, stage)
    if not slug_ok(team):
        raise BadRequestError(f"'{team}' is not a valid team id", hint="Use lowercase letters, digits, '-', '_', '.'.")
    if session.scalar(select(Team.id).where(Team.challenge_id == challenge.id, Team.slug == team)) is not None:
        raise ConflictError(f"Team '{team}' is already in {slug}", hint="Pick another team id.")
    if not organizations:
        raise BadRequestError("A team needs at least one organization", hint="Pass the consortium's organizations.")
    orgs = _accounts(session, organizations, ORGANIZATION)
    people = _accounts(session, members, USER)
    plan = load_release_plan(release_plan).model_dump(mode="json")
    index = spec.stage_index(target_stage.id)
    entered = (
        session.scalar(
            select(func.count(Team.id)).where(Team.challenge_id == challenge.id, Team.entered_stage == target_stage.id)
        )
        or 0
    )
    if target_stage.is_repechage:
        check_new_entrant(session, challenge, spec, target_stage, moment)
    elif index == 0:
        if _latest_decision(session, challenge, target_stage.id) is not None:
            raise StageStateError(f"{target_stage.id} is decided already; no team can enter it now")
        if entered >= target_stage.teams:
            raise ConflictError(
                f"{target_stage.id} takes {target_stage.teams} teams and has them all",
                hint="Raise 'teams' (and 'advance') in a new version of the YAML, or admit it by repechage later.",
            )
    else:
        if target_stage.repechage == 0:
            raise StageStateError(
                f"{target_stage.id} admits no team by repechage",
                hint="Only a stage with 'repechage: N' in the YAML admits new teams mid-challenge.",
            )
        if entered >= target_stage.repechage:
            raise ConflictError(f"{target_stage.id} admits {target_stage.repechage} team(s) by repechage, all taken")
        previous = _latest_decision(session, challenge, spec.stages[index - 1].id)
        if previous is None:
            raise StageStateError(f"Repechage into {target_stage.id} opens once {spec.stages[index - 1].id} is decided")
        if moment > target_stage.deadline:
            raise DeadlinePassedError(f"{target_stage.id} closed at {_local(spec, target_stage.deadline)}")
    row = Team(
        challenge_id=challenge.id,
        slug=team,
        name=name or team,
        organizations=orgs,
        members=people,
        target_models=list(target_models),
        entered_stage=target_stage.id,
        repechage=index > 0,
        status="active",
        release_plan=plan,
        entered_at=moment,
    )
    session.add(row)
    session.flush()
    # The row keeps the real names (for the team, operators and the release); the public ledger
    # names a repo private at this moment by its sealed name (``public_target``, ``public_plan``).
    _append(
        session,
        challenge,
        "team.entered",
        {
            "team": team,
            "name": row.name,
            "organizations": orgs,
            "members": people,
            "target_models": [public_target(session, challenge, target) for target in target_models],
            "stage": target_stage.id,
            "repechage": index > 0,
            "release_plan": public_plan(session, challenge, plan),
            "operator": operator.name,
        },
        moment,
    )
    return row


def file_release_plan(
    session: Session, slug: str, team: str, plan: dict[str, Any], *, user: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """File (or replace, while the team is still in the challenge) what the team's outputs become when it leaves."""
    moment = _now(now)
    challenge = _lock(session, slug)
    row = _team(session, challenge, team)
    _require_member(session, row, user)
    if row.status != "active":
        raise ConflictError(f"Team '{team}' has left the challenge; its release plan is fixed")
    checked = load_release_plan(plan).model_dump(mode="json")
    row.release_plan = checked
    public = public_plan(session, challenge, checked)
    _append(session, challenge, "release_plan.filed", {"team": team, "plan": public, "by": user.name}, moment)
    return checked
