"""Submissions: a team pins a hub revision for a stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.errors import DeadlinePassedError, StageStateError
from baton.challenge.models import Submission, Team
from baton.challenge.service._common import (
    _append,
    _local,
    _lock,
    _now,
    _require_in_stage,
    _require_member,
    _team,
    get_challenge,
    iso,
    spec_of,
    stage_of,
)
from baton.challenge.service.sealed_names import seal_model
from baton.core.errors import RepoNotFoundError


def submit(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    repo: str,
    repo_type: str = "model",
    revision: str | None = None,
    user: Actor,
    now: datetime | None = None,
) -> Submission:
    """Pin a hub revision as the team's submission for the stage (replacing an earlier one before the deadline)."""
    from baton.hub import commits, repos

    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    row = _team(session, challenge, team)
    _require_member(session, row, user)
    if moment > stage_spec.deadline:
        raise DeadlinePassedError(
            f"The deadline of {stage} was {_local(spec, stage_spec.deadline)}; submissions are frozen",
        )
    if stage_spec.opens is not None and moment < stage_spec.opens:
        raise StageStateError(f"{stage} opens for submissions at {_local(spec, stage_spec.opens)}")
    _require_in_stage(session, challenge, spec, stage_spec, row)
    key = repos.parse_repo_id(repo_type, repo)
    found = repos.find_repo(session, key)
    if found is None or not repos.has_role(session, user, found, "write"):
        raise RepoNotFoundError(
            f"No {key.repo_type} repo '{repo}' the team can submit",
            hint="Submit a repo you can write to (the team's own), by 'namespace/name'.",
        )
    commit = commits.resolve_revision(session, found, revision)
    for previous in session.scalars(
        select(Submission).where(
            Submission.challenge_id == challenge.id,
            Submission.team_id == row.id,
            Submission.stage == stage,
            Submission.current.is_(True),
        )
    ):
        previous.current = False
        if previous.hold_id is not None:
            repos.release_hold(session, previous.hold_id)
    hold = repos.hold_revision(
        session, found, commit.oid, holder=f"challenge:{slug}/{stage}/{team}", reason="challenge submission"
    )
    # A private repo is 404 to the public, so the public ledger must not name it either (item 12).
    sealed = (
        seal_model(session, challenge, found.repo_type, found.id, found.repo_id, commit.oid) if found.private else None
    )
    submission = Submission(
        challenge_id=challenge.id,
        team_id=row.id,
        stage=stage,
        repo_type=found.repo_type,
        repo_name=found.repo_id,
        repo_pk=found.id,
        commit_oid=commit.oid,
        hold_id=hold.id,
        commitment=None if sealed is None else sealed.commitment,
        submitted_at=moment,
        current=True,
    )
    session.add(submission)
    session.flush()
    named: dict[str, Any] = (
        {"repo": found.repo_id, "revision": commit.oid} if sealed is None else {"sealed": sealed.to_json()}
    )
    _append(
        session,
        challenge,
        "submission.made",
        {"stage": stage, "team": team, "repo_type": found.repo_type, "submitted_at": iso(moment), "by": user.name}
        | named,
        moment,
    )
    return submission


def list_submissions(session: Session, slug: str, stage: str) -> list[tuple[Team, Submission]]:
    challenge = get_challenge(session, slug)
    stage_of(spec_of(challenge), stage)
    rows = session.execute(
        select(Team, Submission)
        .join(Submission, Submission.team_id == Team.id)
        .where(Submission.challenge_id == challenge.id, Submission.stage == stage, Submission.current.is_(True))
        .order_by(Team.slug)
    ).all()
    return [(team, submission) for team, submission in rows]
