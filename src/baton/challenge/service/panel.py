"""A panel of expert users rating teams' answers: rater assignments, conflicts of interest, ratings
one by one and in bulk.

Follows expert review's security model: an operator assigns raters to teams; a rater affiliated
with a team (a member of it or of one of its organizations) cannot be assigned to it nor rate it,
and a rater may declare a conflict (or an operator for them). A declared conflict, and one found
at decision time for a rater already assigned (``record_affiliation_conflicts``), is appended as
``panel.conflict``, so the decision leaves that rater's ratings of the team out and ``verify``
recomputes the same. The ledger names raters by pseudonym only (``rater-…``); conflicts are
published with their source (declared or affiliation), never the organization.

Events (payloads):

- ``panel.assigned`` ``{stage, criterion, team, rater, operator}`` (record only)
- ``panel.conflict`` ``{stage, team, rater, source: declared|affiliation, by: rater|operator|decision}``
- ``panel.rating`` ``{stage, criterion, team, item, rater, scores: {dimension: points}}``
- ``panel.ratings`` ``{stage, criterion, operator, source: {format, rows, sha256},
  ratings: [{team, item, rater, scores}]}`` (a bulk import, one event)

A later rating of the same (team, item, rater) replaces the earlier one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import USER, Account
from baton.challenge import panel as panel_math
from baton.challenge import recompute
from baton.challenge.errors import ConflictOfInterestError
from baton.challenge.models import Challenge, PanelAssignment, PanelConflict, Team
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _conflicts,
    _lock,
    _now,
    _require_in_stage,
    _require_open,
    _team,
    get_challenge,
    participants,
    pseudonym_for,
    spec_of,
    stage_of,
)
from baton.challenge.spec import SINGLE_DIMENSION, Criterion, Stage
from baton.core.errors import BadRequestError, PermissionDeniedError

RATER = "rater"  # the pseudonyms' role: rater-<10 hex>
MAX_IMPORT_ROWS = 200_000
SHOWN_PROBLEMS = 20
ImportFormat = Literal["csv", "jsonl"]


def panel_criterion(stage: Stage, criterion: str | None) -> Criterion:
    panels = [c for c in stage.criteria if c.kind == "panel"]
    if not panels:
        raise BadRequestError(
            f"{stage.id} has no panel criterion",
            hint="A stage rated by a panel has a criterion with kind: panel in the challenge YAML.",
        )
    if criterion is None:
        if len(panels) > 1:
            raise BadRequestError(
                f"{stage.id} has several panel criteria: {', '.join(c.id for c in panels)}",
                hint="Name one with --criterion (or criterion in the request).",
            )
        return panels[0]
    for candidate in panels:
        if candidate.id == criterion:
            return candidate
    raise BadRequestError(
        f"'{criterion}' is not a panel criterion of {stage.id}",
        hint="Panel criteria of the stage: " + ", ".join(c.id for c in panels) + ".",
    )


def rater_pseudonym(challenge: Challenge, name: str) -> str:
    return pseudonym_for(challenge, name, RATER)


def _recorded_conflict(session: Session, challenge: Challenge, team: Team, rater_id: int) -> PanelConflict | None:
    return session.scalar(
        select(PanelConflict).where(
            PanelConflict.challenge_id == challenge.id,
            PanelConflict.team_id == team.id,
            PanelConflict.rater_id == rater_id,
        )
    )


def _assignment(
    session: Session, challenge: Challenge, stage: str, criterion: str, team: Team, rater_id: int
) -> PanelAssignment | None:
    return session.scalar(
        select(PanelAssignment).where(
            PanelAssignment.challenge_id == challenge.id,
            PanelAssignment.stage == stage,
            PanelAssignment.criterion == criterion,
            PanelAssignment.team_id == team.id,
            PanelAssignment.rater_id == rater_id,
        )
    )


# --- assignments ---------------------------------------------------------------------------------


def assign_raters(
    session: Session,
    slug: str,
    stage: str,
    raters: Sequence[Account],
    *,
    operator: Actor,
    teams: Sequence[str] | None = None,
    criterion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assign raters to rate teams' answers (every competing team when ``teams`` is None).

    A rater conflicted with a team named in ``teams`` refuses the whole call; with every team, the
    conflicted pairs are skipped and listed in the result (``skipped``)."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    chosen = panel_criterion(stage_spec, criterion)
    _require_open(session, challenge, stage, "rater assignments")
    if not raters:
        raise BadRequestError("Name at least one rater", hint="Repeat --rater NAME for each rater.")
    names = teams if teams is not None else participants(session, challenge, spec, stage)
    rows = []
    for name in dict.fromkeys(names):
        row = _team(session, challenge, name)
        _require_in_stage(session, challenge, spec, stage_spec, row)
        rows.append(row)
    result: dict[str, Any] = {"stage": stage, "criterion": chosen.id, "assigned": [], "existing": 0, "skipped": []}
    refused: list[str] = []
    for rater in raters:
        if rater.kind != USER:
            raise BadRequestError(f"'{rater.name}' is an organization; raters are people")
        for row in rows:
            shared = _conflicts(session, rater, [row])
            if not shared and _recorded_conflict(session, challenge, row, rater.id) is not None:
                shared = ["a declared conflict"]
            if shared:
                if teams is not None:
                    refused.append(f"'{rater.name}' with team '{row.slug}' ({', '.join(shared)})")
                result["skipped"].append({"team": row.slug, "rater": rater.name, "reason": "conflict of interest"})
                continue
            if _assignment(session, challenge, stage, chosen.id, row, rater.id) is not None:
                result["existing"] += 1
                continue
            pseudonym = rater_pseudonym(challenge, rater.name)
            session.add(
                PanelAssignment(
                    challenge_id=challenge.id,
                    stage=stage,
                    criterion=chosen.id,
                    team_id=row.id,
                    rater_id=rater.id,
                    pseudonym=pseudonym,
                )
            )
            payload = {
                "stage": stage,
                "criterion": chosen.id,
                "team": row.slug,
                "rater": pseudonym,
                "operator": operator.name,
            }
            _append(session, challenge, "panel.assigned", payload, moment)
            result["assigned"].append({"team": row.slug, "rater": rater.name, "pseudonym": pseudonym})
    if refused:
        raise ConflictOfInterestError("Raters cannot rate teams they are affiliated with: " + "; ".join(refused))
    session.flush()
    return result


def panel_assignments_of(session: Session, slug: str, stage: str, rater: Actor) -> dict[str, Any]:
    """What a rater is asked to rate: per panel criterion, their teams, the items and the scale."""
    challenge = get_challenge(session, slug)
    stage_spec = stage_of(spec_of(challenge), stage)
    panels = []
    for criterion in (c for c in stage_spec.criteria if c.kind == "panel"):
        teams = session.scalars(
            select(Team.slug)
            .join(PanelAssignment, PanelAssignment.team_id == Team.id)
            .where(
                PanelAssignment.challenge_id == challenge.id,
                PanelAssignment.stage == stage,
                PanelAssignment.criterion == criterion.id,
                PanelAssignment.rater_id == rater.account_id,
            )
            .order_by(Team.slug)
        ).all()
        panels.append(
            {
                "criterion": criterion.id,
                "title": criterion.title,
                "items": criterion.panel_items(),
                "dimensions": [
                    {"id": d.id, "title": d.title, "min": d.min, "max": d.max} for d in criterion.panel_dimensions()
                ],
                "teams": list(teams),
            }
        )
    return {"stage": stage, "rater": rater_pseudonym(challenge, rater.name), "panels": panels}


# --- conflicts -----------------------------------------------------------------------------------


def _add_conflict(
    session: Session,
    challenge: Challenge,
    stage: str,
    team: Team,
    rater: Account,
    *,
    source: str,
    by: str,
    moment: datetime,
) -> dict[str, Any]:
    session.add(
        PanelConflict(challenge_id=challenge.id, team_id=team.id, rater_id=rater.id, source=source, recorded_at=moment)
    )
    payload = {
        "stage": stage,
        "team": team.slug,
        "rater": rater_pseudonym(challenge, rater.name),
        "source": source,
        "by": by,
    }
    _append(session, challenge, "panel.conflict", payload, moment)
    return payload


def declare_conflict(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    actor: Actor,
    rater: Account | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A rater declares a conflict of interest with a team (or an operator for the rater named).

    From then on the rater cannot rate the team, and ratings already given are excluded from its
    aggregates. Declaring again changes nothing (``recorded`` is False)."""
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    if not any(c.kind == "panel" for c in stage_spec.criteria):
        panel_criterion(stage_spec, None)  # says the stage has no panel
    if rater is None or rater.id == actor.account_id:
        person = session.get(Account, actor.account_id)
        by = RATER
    else:
        actor.require_operator("declare another rater's conflict of interest")
        person, by = rater, "operator"
    if person is None or person.kind != USER:
        raise BadRequestError("Conflicts of interest are declared for people")
    if by == RATER and not actor.is_operator and not _is_rater(session, challenge, person.id):
        raise PermissionDeniedError(
            f"'{person.name}' rates no team of {challenge.slug}; raters declare their own conflicts",
            hint="An operator records a conflict for a rater: baton challenge panel-conflict SLUG STAGE TEAM "
            "--as OPERATOR --rater NAME",
        )
    row = _team(session, challenge, team)
    existing = _recorded_conflict(session, challenge, row, person.id)
    if existing is not None:
        return {
            "stage": stage,
            "team": row.slug,
            "rater": rater_pseudonym(challenge, person.name),
            "source": existing.source,
            "recorded": False,
        }
    payload = _add_conflict(session, challenge, stage, row, person, source="declared", by=by, moment=moment)
    return {**payload, "recorded": True}


def _is_rater(session: Session, challenge: Challenge, rater_id: int) -> bool:
    return (
        session.scalar(
            select(PanelAssignment.id)
            .where(PanelAssignment.challenge_id == challenge.id, PanelAssignment.rater_id == rater_id)
            .limit(1)
        )
        is not None
    )


def record_affiliation_conflicts(session: Session, slug: str, stage: str, *, now: datetime | None = None) -> int:
    """Append a ``panel.conflict`` for every rater assigned in the stage who is affiliated with the team
    now (an affiliation that began after the assignment): called before a stage is decided, so the
    decision excludes their ratings of that team. Returns how many were recorded."""
    moment = _now(now)
    challenge = _lock(session, slug)
    found = 0
    pairs = session.execute(
        select(PanelAssignment.team_id, PanelAssignment.rater_id)
        .where(PanelAssignment.challenge_id == challenge.id, PanelAssignment.stage == stage)
        .distinct()
        .order_by(PanelAssignment.team_id, PanelAssignment.rater_id)
    ).all()
    for team_id, rater_id in pairs:
        team, rater = session.get(Team, team_id), session.get(Account, rater_id)
        if team is None or rater is None or _recorded_conflict(session, challenge, team, rater_id) is not None:
            continue
        if _conflicts(session, rater, [team]):
            _add_conflict(session, challenge, stage, team, rater, source="affiliation", by="decision", moment=moment)
            found += 1
    return found


def raters_short(state: recompute.State, stage: Stage, teams: Sequence[str]) -> list[str]:
    """Teams short of a panel criterion's ``min_raters`` (conflicted raters not counted)."""
    data = state.stage_data(stage.id)
    short: list[str] = []
    for criterion in (c for c in stage.criteria if c.kind == "panel"):
        short += panel_math.raters_short(criterion, teams, data.ratings.get(criterion.id, {}), state.panel_conflicts)
    return short


# --- ratings -------------------------------------------------------------------------------------


def _scores_of(criterion: Criterion, score: Any, scores: dict[str, Any] | None) -> dict[str, Any]:
    """Points per dimension from either one ``score`` (a single scale) or ``scores``."""
    if scores:
        return dict(scores)
    if score is None:
        return {}
    return {SINGLE_DIMENSION: score}


def rate(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    rater: Actor,
    item: str | int,
    score: Any = None,
    scores: dict[str, Any] | None = None,
    criterion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record an assigned rater's rating of one team's answer to one item (``panel.rating``)."""
    moment = _now(now)
    challenge = _lock(session, slug)
    stage_spec = stage_of(spec_of(challenge), stage)
    chosen = panel_criterion(stage_spec, criterion)
    row = _team(session, challenge, team)
    _require_open(session, challenge, stage, "ratings")
    shared = _conflicts(session, rater, [row])
    if _recorded_conflict(session, challenge, row, rater.account_id) is not None:
        shared.append("a recorded conflict of interest")
    if shared:
        raise ConflictOfInterestError(
            f"Rater '{rater.name}' is excluded from rating team '{team}': {', '.join(shared)}"
        )
    assignment = _assignment(session, challenge, stage, chosen.id, row, rater.account_id)
    if assignment is None:
        raise PermissionDeniedError(
            f"'{rater.name}' is not assigned to rate team '{team}' for {chosen.id} in {stage}",
            hint="An operator assigns raters: baton challenge panel-assign SLUG STAGE --rater NAME --as OPERATOR",
        )
    try:
        item_id, checked = panel_math.check_rating(chosen, item, _scores_of(chosen, score, scores))
    except panel_math.PanelRatingError as error:
        raise BadRequestError(
            f"The rating does not fit {chosen.id}: {error}",
            hint=f"Rate an item of the criterion with whole points on its scale ({panel_math.scale_text(chosen)}).",
        ) from None
    payload = {
        "stage": stage,
        "criterion": chosen.id,
        "team": row.slug,
        "item": item_id,
        "rater": assignment.pseudonym,
        "scores": checked,
    }
    _append(session, challenge, "panel.rating", payload, moment)
    return payload


@dataclass(frozen=True)
class _Row:
    number: int  # the line of the file
    data: dict[str, Any]


def _rows(text: str, fmt: ImportFormat) -> Iterator[_Row | str]:
    """The file's rows, or a problem (a string naming the line) for one that cannot be read."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as error:
                yield f"line {number}: not JSON ({error.args[0] if error.args else error})"
                continue
            if not isinstance(value, dict):
                yield f"line {number}: not a JSON object"
                continue
            yield _Row(number, value)
        return
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in ("team", "item", "rater") if name not in header]
    if missing:
        yield (
            "line 1: the header lacks "
            + ", ".join(missing)
            + " (expected team,item,rater,score or a column per dimension)"
        )
        return
    reader.fieldnames = header
    try:
        for record in reader:
            if None in record:
                yield f"line {reader.line_num}: more fields than the header has"
                continue
            yield _Row(reader.line_num, {key: (value or "").strip() for key, value in record.items()})
    except csv.Error as error:
        yield f"line {reader.line_num}: {error}"


def _row_scores(criterion: Criterion, data: dict[str, Any], fmt: ImportFormat) -> dict[str, Any]:
    if isinstance(data.get("scores"), dict):
        return dict(data["scores"])
    dimensions = [d.id for d in criterion.panel_dimensions()]
    if fmt == "csv":
        return {name: data[name] for name in dimensions if data.get(name, "") != ""}
    return {name: data[name] for name in dimensions if name in data and data[name] is not None}


def import_ratings(
    session: Session,
    slug: str,
    stage: str,
    text: str,
    *,
    operator: Actor,
    fmt: ImportFormat = "csv",
    criterion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Import many ratings at once: all or nothing, as one ``panel.ratings`` event.

    Each row names the team, the item, the rater (their user name) and the points (``score`` for a
    single scale, a column or key per dimension otherwise; JSON lines may give ``scores``). Every
    row is checked like a rating entered by the rater: an assigned rater without a conflict of
    interest, an item of the criterion, whole points on its scale, and no (team, item, rater) twice.
    Any problem refuses the whole file with the problems' line numbers."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    chosen = panel_criterion(stage_spec, criterion)
    _require_open(session, challenge, stage, "ratings")
    competing = set(participants(session, challenge, spec, stage))
    teams = {row.slug: row for row in session.scalars(select(Team).where(Team.challenge_id == challenge.id))}
    assigned = set(
        session.execute(
            select(PanelAssignment.team_id, PanelAssignment.rater_id).where(
                PanelAssignment.challenge_id == challenge.id,
                PanelAssignment.stage == stage,
                PanelAssignment.criterion == chosen.id,
            )
        ).all()
    )
    declared = set(
        session.execute(
            select(PanelConflict.team_id, PanelConflict.rater_id).where(PanelConflict.challenge_id == challenge.id)
        ).all()
    )
    people: dict[str, Account | None] = {}
    affiliated: dict[tuple[int, int], bool] = {}
    seen: dict[tuple[str, str, str], int] = {}
    problems: list[str] = []
    ratings: list[dict[str, Any]] = []
    rows = 0
    for entry in _rows(text, fmt):
        if isinstance(entry, str):
            problems.append(entry)
            continue
        rows += 1
        if rows > MAX_IMPORT_ROWS:
            problems.append(f"line {entry.number}: more than {MAX_IMPORT_ROWS} rows; split the file")
            break
        where = f"line {entry.number}"
        team_name, rater_name = str(entry.data.get("team") or "").strip(), str(entry.data.get("rater") or "").strip()
        team = teams.get(team_name)
        if team is None or team_name not in competing:
            problems.append(f"{where}: team '{team_name}' does not compete in {stage}")
            continue
        if rater_name not in people:
            found = accounts.find_account(session, rater_name) if rater_name else None
            people[rater_name] = found if found is not None and found.kind == USER else None
        person = people[rater_name]
        if person is None:
            problems.append(f"{where}: no user named '{rater_name}'")
            continue
        pair = (team.id, person.id)
        if pair not in affiliated:
            affiliated[pair] = pair in declared or bool(_conflicts(session, person, [team]))
        if affiliated[pair]:
            problems.append(f"{where}: rater '{rater_name}' has a conflict of interest with team '{team_name}'")
            continue
        if pair not in assigned:
            problems.append(f"{where}: rater '{rater_name}' is not assigned to team '{team_name}' for {chosen.id}")
            continue
        try:
            item_id, checked = panel_math.check_rating(
                chosen, entry.data.get("item"), _row_scores(chosen, entry.data, fmt)
            )
        except panel_math.PanelRatingError as error:
            problems.append(f"{where}: {error}")
            continue
        key = (team_name, item_id, rater_name)
        if key in seen:
            problems.append(f"{where}: {rater_name} rated item {item_id} of {team_name} already on line {seen[key]}")
            continue
        seen[key] = entry.number
        ratings.append(
            {"team": team_name, "item": item_id, "rater": rater_pseudonym(challenge, person.name), "scores": checked}
        )
    if not problems and not ratings:
        problems.append("the file has no ratings")
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        more = len(problems) - len(shown)
        raise BadRequestError(
            f"Nothing imported: {len(problems)} problem{'s' if len(problems) > 1 else ''} in the ratings file:\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else ""),
            hint="Fix the lines named and import the whole file again: baton challenge import-ratings SLUG STAGE FILE",
            code="InvalidRatings",
            extra={"problems": problems},
        )
    digest = hashlib.sha256(text.encode()).hexdigest()
    payload = {
        "stage": stage,
        "criterion": chosen.id,
        "operator": operator.name,
        "source": {"format": fmt, "rows": len(ratings), "sha256": digest},
        "ratings": ratings,
    }
    event = _append(session, challenge, "panel.ratings", payload, moment)
    return {
        "stage": stage,
        "criterion": chosen.id,
        "ratings": len(ratings),
        "raters": len({entry["rater"] for entry in ratings}),
        "teams": len({entry["team"] for entry in ratings}),
        "sha256": digest,
        "seq": event.seq,
    }
