"""HTTP routes of the challenge engine, for every role: operator, team member, reviewer, voter.

Thin: each route opens one transaction and calls ``baton.challenge.service``; role checks live in
the service (operators are site admins with a write token; team actions need a member of the
team; reviews need an assignment; votes need a signed-in user without a conflict of interest).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.http import OperatorUser, OptionalUser, RequiredUser, ReviewUser, VoteUser, WriteUser, limit_actions
from baton.challenge import access, schemas, service
from baton.challenge.models import Battle, Challenge, GateResult, Submission, Team
from baton.core.errors import BadRequestError, NotFoundError
from baton.core.http import DbId, ExactRoute, RuntimeDep

router = APIRouter(prefix="/api/challenges", tags=["challenge"], route_class=ExactRoute)


class ChallengeBody(BaseModel):
    yaml: str = Field(min_length=1, max_length=1_000_000)


class TeamBody(BaseModel):
    team: str
    name: str = ""
    organizations: list[str]
    members: list[str] = Field(default_factory=list)
    target_models: list[str] = Field(default_factory=list)
    release_plan: dict[str, Any] | None = None
    stage: str | None = None  # a later stage admits by repechage


class SubmissionBody(BaseModel):
    team: str
    repo: str
    repo_type: Literal["model", "dataset"] = "model"
    revision: str | None = None


class ScoreBody(BaseModel):
    task: str
    model: str
    score: float
    stderr: float = 0.0
    n: int | None = None
    task_version: str | None = None


class TargetScoreBody(BaseModel):
    team: str
    task: str
    score: float
    source: str = Field(max_length=2000)  # a URL or a document reference; an empty one is refused
    stderr: float | None = None
    task_version: str | None = None
    model: str | None = None  # one of the team's declared target models (default: its first)


class AssignmentBody(BaseModel):
    team: str
    reviewer: str


class ReviewBody(BaseModel):
    team: str
    scores: dict[str, Any]
    comment: str = Field(default="", max_length=20_000)
    criterion: str | None = None


class BattleBody(BaseModel):
    prompt: str
    team_a: str
    team_b: str
    answer_a: str
    answer_b: str
    criterion: str | None = None


class VoteBody(BaseModel):
    battle: str
    choice: str


class GateBody(BaseModel):
    team: str


class GatesBody(BaseModel):
    team: str | None = None  # every competing team when left out
    gate: str | None = None  # every gate of the stage when left out


class OverrideBody(BaseModel):
    team: str
    outcome: Literal["pass", "fail"]
    reason: str = Field(max_length=20_000)


class AppealBody(BaseModel):
    team: str
    text: str = Field(max_length=20_000)


class ApplicationBody(BaseModel):
    team: str
    statement: str = Field(default="", max_length=20_000)


class AnswerBody(BaseModel):
    answer: str = Field(max_length=20_000)
    upheld: bool


def challenge_json(challenge: Challenge) -> dict[str, Any]:
    return {
        "challenge": challenge.slug,
        "title": challenge.title,
        "spec_version": challenge.spec_version,
        "spec": challenge.spec,
        "head": challenge.head_hash,
        "events": challenge.last_seq,
        "ended_at": None if challenge.ended_at is None else service.iso(challenge.ended_at),
    }


def team_json(session: Session, user: Actor | None, team: Team) -> dict[str, Any]:
    """A team as ``user`` may see it (``access.team_view_for``): private repos it names are sealed to the public."""
    declared = access.team_view_for(session, user, team)
    return {
        "team": team.slug,
        "name": team.name,
        "organizations": team.organizations,
        "members": team.members,
        "target_models": declared["target_models"],
        "entered_stage": team.entered_stage,
        "repechage": team.repechage,
        "status": team.status,
        "exit_stage": team.exit_stage,
        "release_plan": declared["release_plan"],
    }


def submission_json(session: Session, user: Actor | None, team: Team, submission: Submission) -> dict[str, Any]:
    """A submission as ``user`` may see it (``access.entry_view_for``): a private repo is sealed to the public."""
    from baton.hub.models import Repo

    repo = session.get(Repo, submission.repo_pk) if submission.repo_pk is not None else None
    sealed = service.submission_sealed(session, submission)
    data: dict[str, Any] = {"team": team.slug, "stage": submission.stage, "repo_type": submission.repo_type}
    if sealed is not None:
        data["sealed"] = sealed.to_json()
    if access.entry_view_for(session, user, team, repo) == "full":
        data |= {
            "repo": submission.repo_name,
            "revision": submission.commit_oid,
            "model": f"{submission.repo_name}@{submission.commit_oid}",
        }
    else:
        challenge = service.get_challenge_by_id(session, submission.challenge_id)
        hidden = service.model_pseudonym(challenge, submission.repo_type, submission.repo_pk, submission.repo_name)
        data |= {"repo": None, "revision": None, "model": sealed.label if sealed is not None else hidden}
    return data | {"submitted_at": service.iso(submission.submitted_at)}


def gate_json(team: Team, result: GateResult) -> dict[str, Any]:
    return {
        "team": team.slug,
        "stage": result.stage,
        "gate": result.gate,
        "outcome": result.outcome,
        "source": result.source,
        "reason": result.reason,
        "evidence": result.evidence,
        "operator": result.operator,
        "recorded_at": service.iso(result.recorded_at),
    }


def blind_battle(battle: Battle) -> dict[str, Any]:
    """What a voter sees: the prompt and two answers, never the teams."""
    return {
        "battle": battle.battle,
        "stage": battle.stage,
        "prompt": battle.prompt,
        "answer_a": battle.answer_a,
        "answer_b": battle.answer_b,
    }


@router.post("", status_code=201)
def create_challenge(body: ChallengeBody, runtime: RuntimeDep, user: OperatorUser) -> schemas.Challenge:
    with runtime.database.session(write=True) as session:
        return schemas.Challenge.model_validate(
            challenge_json(service.create_challenge(session, body.yaml, operator=user))
        )


@router.get("")
def list_challenges(runtime: RuntimeDep) -> list[schemas.Challenge]:
    with runtime.database.session() as session:
        return [
            schemas.Challenge.model_validate(challenge_json(challenge))
            for challenge in service.list_challenges(session)
        ]


@router.post("/finalize")
def finalize(runtime: RuntimeDep, user: OperatorUser) -> schemas.Finalized:
    with runtime.database.session(write=True) as session:
        done = service.finalize_due(session)
    return schemas.Finalized(finalized=[schemas.FinalizedStage(challenge=slug, stage=stage) for slug, stage in done])


@router.get("/{slug}")
def get_challenge(slug: str, runtime: RuntimeDep) -> schemas.ChallengeDetail:
    with runtime.database.session() as session:
        challenge = service.get_challenge(session, slug)
        spec = service.spec_of(challenge)
        stages = []
        for stage in spec.stages:
            try:
                record = service.decision_record(session, slug, stage.id)
            except NotFoundError:
                record = None
            stages.append(
                {
                    "stage": stage.id,
                    "title": stage.title,
                    "deadline": stage.deadline.isoformat(),
                    "teams": service.participants(session, challenge, spec, stage.id),
                    "decided": record is not None,
                    "final": bool(record and record["final"]),
                    "advance": None if record is None else record["advance"],
                }
            )
        return schemas.ChallengeDetail.model_validate(challenge_json(challenge) | {"stages": stages})


@router.put("/{slug}/spec")
def revise_challenge(slug: str, body: ChallengeBody, runtime: RuntimeDep, user: OperatorUser) -> schemas.Challenge:
    with runtime.database.session(write=True) as session:
        return schemas.Challenge.model_validate(
            challenge_json(service.revise_challenge(session, slug, body.yaml, operator=user))
        )


@router.post("/{slug}/teams", status_code=201)
def enter_team(slug: str, body: TeamBody, runtime: RuntimeDep, user: OperatorUser) -> schemas.TeamOut:
    with runtime.database.session(write=True) as session:
        entry = service.TeamEntry(
            team=body.team,
            name=body.name,
            organizations=body.organizations,
            members=body.members,
            target_models=body.target_models,
            release_plan=body.release_plan,
            stage=body.stage,
        )
        team = service.enter_team(session, slug, entry, operator=user)
        return schemas.TeamOut.model_validate(team_json(session, user, team))


@router.get("/{slug}/teams")
def list_teams(slug: str, runtime: RuntimeDep, user: OptionalUser) -> list[schemas.TeamOut]:
    with runtime.database.session() as session:
        return [
            schemas.TeamOut.model_validate(team_json(session, user, team)) for team in service.list_teams(session, slug)
        ]


@router.get("/{slug}/teams/{team}")
def get_team(slug: str, team: str, runtime: RuntimeDep, user: OptionalUser) -> schemas.TeamOut:
    with runtime.database.session() as session:
        return schemas.TeamOut.model_validate(team_json(session, user, service.get_team(session, slug, team)))


@router.get("/{slug}/teams/{team}/release-plan")
def get_release_plan(slug: str, team: str, runtime: RuntimeDep, user: OptionalUser) -> schemas.ReleasePlan:
    with runtime.database.session() as session:
        plan = service.release_plan(session, slug, team)
        view = access.release_plan_view_for(session, user, service.get_team(session, slug, team), plan)
        return schemas.ReleasePlan.model_validate(view)


@router.put("/{slug}/teams/{team}/release-plan")
def put_release_plan(
    slug: str, team: str, plan: dict[str, Any], runtime: RuntimeDep, user: WriteUser
) -> schemas.ReleasePlan:
    with runtime.database.session(write=True) as session:
        return schemas.ReleasePlan.model_validate(service.file_release_plan(session, slug, team, plan, user=user))


@router.post("/{slug}/stages/{stage}/submissions", status_code=201)
def submit(slug: str, stage: str, body: SubmissionBody, runtime: RuntimeDep, user: WriteUser) -> schemas.SubmissionOut:
    with runtime.database.session(write=True) as session:
        submission = service.submit(
            session, slug, stage, body.team, repo=body.repo, repo_type=body.repo_type, revision=body.revision, user=user
        )
        team = service.get_team(session, slug, body.team)
        return schemas.SubmissionOut.model_validate(submission_json(session, user, team, submission))


@router.get("/{slug}/stages/{stage}/submissions")
def list_submissions(slug: str, stage: str, runtime: RuntimeDep, user: OptionalUser) -> list[schemas.SubmissionOut]:
    with runtime.database.session() as session:
        return [
            schemas.SubmissionOut.model_validate(submission_json(session, user, team, sub))
            for team, sub in service.list_submissions(session, slug, stage)
        ]


@router.post("/{slug}/stages/{stage}/scores", status_code=201)
def record_score(
    slug: str, stage: str, body: ScoreBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.ScoreRecorded:
    with runtime.database.session(write=True) as session:
        score = service.BenchmarkScore(
            task=body.task,
            model=body.model,
            score=body.score,
            stderr=body.stderr,
            n=body.n,
            task_version=body.task_version,
        )
        return schemas.ScoreRecorded.model_validate(service.record_score(session, slug, stage, score, operator=user))


@router.post("/{slug}/stages/{stage}/target-scores", status_code=201)
def record_target_score(
    slug: str, stage: str, body: TargetScoreBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.TargetScoreRecorded:
    """A team's declared target model's score, entered by an operator with its cited source."""
    with runtime.database.session(write=True) as session:
        entry = service.TargetScoreEntry(
            team=body.team,
            task=body.task,
            score=body.score,
            source=body.source,
            stderr=body.stderr,
            task_version=body.task_version,
            model=body.model,
        )
        recorded = service.record_target_score(session, slug, stage, entry, operator=user)
        return schemas.TargetScoreRecorded.model_validate(recorded)


@router.post("/{slug}/stages/{stage}/reviewers", status_code=201)
def assign_reviewer(
    slug: str, stage: str, body: AssignmentBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.ReviewerAssigned:
    from baton.accounts import service as accounts

    with runtime.database.session(write=True) as session:
        reviewer = accounts.get_account(session, body.reviewer)
        assignment = service.assign_reviewer(session, slug, stage, body.team, reviewer, operator=user)
        return schemas.ReviewerAssigned(
            team=body.team, reviewer=body.reviewer, pseudonym=assignment.pseudonym, stage=stage
        )


@router.get("/{slug}/stages/{stage}/assignments")
def my_assignments(slug: str, stage: str, runtime: RuntimeDep, user: RequiredUser) -> schemas.Assignments:
    with runtime.database.session() as session:
        teams = service.assignments_of(session, slug, stage, user)
        challenge = service.get_challenge(session, slug)
        criterion = service.review_criterion(service.stage_of(service.spec_of(challenge), stage), None)
        return schemas.Assignments(
            stage=stage,
            criterion=criterion.id,
            rubric=[schemas.RubricItem.model_validate(item.model_dump()) for item in criterion.rubric],
            teams=[schemas.AssignedTeam(team=team.slug, name=team.name) for team in teams],
        )


@router.post("/{slug}/stages/{stage}/reviews", status_code=201)
def record_review(
    slug: str, stage: str, body: ReviewBody, runtime: RuntimeDep, user: ReviewUser
) -> schemas.ReviewRecorded:
    with runtime.database.session(write=True) as session:
        recorded = service.record_review(
            session,
            slug,
            stage,
            body.team,
            reviewer=user,
            scores=body.scores,
            comment=body.comment,
            criterion=body.criterion,
        )
        return schemas.ReviewRecorded.model_validate(recorded)


@router.post("/{slug}/stages/{stage}/battles", status_code=201)
def create_battle(
    slug: str, stage: str, body: BattleBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.BattleCreated:
    with runtime.database.session(write=True) as session:
        new_battle = service.NewBattle(
            prompt=body.prompt,
            team_a=body.team_a,
            team_b=body.team_b,
            answer_a=body.answer_a,
            answer_b=body.answer_b,
            criterion=body.criterion,
        )
        battle = service.create_battle(session, slug, stage, new_battle, operator=user)
        return schemas.BattleCreated.model_validate(
            blind_battle(battle)
            | {"team_a": battle.team_a, "team_b": battle.team_b, "reveals_identity": battle.reveals_identity}
        )


@router.get("/{slug}/stages/{stage}/battles/next")
def next_battle(slug: str, stage: str, runtime: RuntimeDep, user: VoteUser) -> schemas.BlindBattle | schemas.NoBattle:
    with runtime.database.session() as session:
        battle = service.next_battle(session, slug, stage, voter=user)
        if battle is None:
            return schemas.NoBattle(battle=None, message="No battle left for you in this stage. Thank you for voting.")
        return schemas.BlindBattle.model_validate(blind_battle(battle))


@router.post("/{slug}/stages/{stage}/votes", status_code=201)
def vote(
    slug: str, stage: str, body: VoteBody, runtime: RuntimeDep, user: VoteUser, request: Request
) -> schemas.VoteRecorded:
    limit_actions(runtime, request, "vote", user)
    with runtime.database.session(write=True) as session:
        recorded = service.record_vote(session, slug, stage, body.battle, voter=user, choice=body.choice)
        return schemas.VoteRecorded(battle=recorded["battle"], choice=recorded["choice"], voter=recorded["voter"])


@router.post("/{slug}/stages/{stage}/gates/{gate}/check")
def check_gate(
    slug: str, stage: str, gate: str, body: GateBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.GateResult:
    with runtime.database.session(write=True) as session:
        result = service.check_gate(session, slug, stage, body.team, operator=user, gate=gate, store=runtime.store)
        return schemas.GateResult.model_validate(gate_json(service.get_team(session, slug, body.team), result))


@router.post("/{slug}/stages/{stage}/gates/check")
def check_gates(
    slug: str, stage: str, body: GatesBody, runtime: RuntimeDep, user: OperatorUser
) -> list[schemas.GateCheck]:
    """Check every gate of the stage (or ``gate``) for every competing team (or ``team``)."""
    with runtime.database.session(write=True) as session:
        checks = service.check_gates(
            session, slug, stage, operator=user, team=body.team, gate=body.gate, store=runtime.store
        )
        return [
            schemas.GateCheck(
                team=check.team,
                gate=check.gate,
                kind=check.kind,
                outcome=check.outcome,
                reason=check.reason,
                result=None
                if check.result is None
                else schemas.GateResult.model_validate(
                    gate_json(service.get_team(session, slug, check.team), check.result)
                ),
            )
            for check in checks
        ]


@router.post("/{slug}/stages/{stage}/gates/{gate}/override")
def override_gate(
    slug: str, stage: str, gate: str, body: OverrideBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.GateResult:
    with runtime.database.session(write=True) as session:
        result = service.override_gate(
            session, slug, stage, body.team, outcome=body.outcome, reason=body.reason, operator=user, gate=gate
        )
        return schemas.GateResult.model_validate(gate_json(service.get_team(session, slug, body.team), result))


@router.get("/{slug}/gates/queue")
def gate_queue(slug: str, runtime: RuntimeDep, user: OperatorUser) -> list[schemas.GateResult]:
    with runtime.database.session() as session:
        return [
            schemas.GateResult.model_validate(gate_json(team, result))
            for team, result in service.gate_queue(session, slug)
        ]


@router.post("/{slug}/stages/{stage}/decision", status_code=201)
def decide(slug: str, stage: str, runtime: RuntimeDep, user: OperatorUser) -> schemas.Decision:
    with runtime.database.session(write=True) as session:
        return schemas.Decision.model_validate(service.decide(session, runtime, slug, stage, operator=user))


@router.get("/{slug}/stages/{stage}/decision")
def get_decision(slug: str, stage: str, runtime: RuntimeDep) -> schemas.DecisionRecord:
    with runtime.database.session() as session:
        return schemas.DecisionRecord.model_validate(service.decision_record(session, slug, stage))


@router.post("/{slug}/stages/{stage}/appeals", status_code=201)
def file_appeal(slug: str, stage: str, body: AppealBody, runtime: RuntimeDep, user: WriteUser) -> schemas.Appeal:
    with runtime.database.session(write=True) as session:
        appeal = service.file_appeal(session, slug, stage, body.team, text=body.text, user=user)
        return schemas.Appeal.model_validate(service.appeal_json(session, appeal))


@router.post("/{slug}/stages/{stage}/applications", status_code=201)
def apply_to_repechage(
    slug: str, stage: str, body: ApplicationBody, runtime: RuntimeDep, user: WriteUser
) -> schemas.Application:
    with runtime.database.session(write=True) as session:
        application = service.apply_to_repechage(session, slug, stage, body.team, user=user, statement=body.statement)
        return schemas.Application.model_validate(application)


@router.get("/{slug}/stages/{stage}/applications")
def list_applications(slug: str, stage: str, runtime: RuntimeDep) -> list[schemas.Application]:
    with runtime.database.session() as session:
        return [schemas.Application.model_validate(item) for item in service.list_applications(session, slug, stage)]


@router.get("/{slug}/appeals")
def list_appeals(slug: str, runtime: RuntimeDep, stage: str | None = None) -> list[schemas.Appeal]:
    with runtime.database.session() as session:
        return [schemas.Appeal.model_validate(appeal) for appeal in service.list_appeals(session, slug, stage)]


@router.post("/{slug}/appeals/{appeal_id}/answer")
def answer_appeal(
    slug: str, appeal_id: DbId, body: AnswerBody, runtime: RuntimeDep, user: OperatorUser
) -> schemas.Appeal:
    with runtime.database.session(write=True) as session:
        appeal = service.answer_appeal(session, slug, appeal_id, answer=body.answer, upheld=body.upheld, operator=user)
        return schemas.Appeal.model_validate(service.appeal_json(session, appeal))


def _download(text: str, media_type: str, filename: str) -> PlainTextResponse:
    return PlainTextResponse(
        text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


_FILE = {"type": "string", "format": "binary"}


@router.get(
    "/{slug}/ledger",
    response_class=Response,
    responses={
        200: {
            "description": "The ledger bundle: one event per line",
            "content": {"application/x-ndjson": {"schema": _FILE}},
        }
    },
)
def export_ledger(slug: str, runtime: RuntimeDep) -> PlainTextResponse:
    with runtime.database.session() as session:
        bundle = service.export_bundle(session, slug)
    return _download(bundle, "application/x-ndjson", f"{slug}.ledger.jsonl")


@router.get(
    "/{slug}/openings",
    response_class=Response,
    responses={
        200: {
            "description": "Every commitment's opening (a JSON document)",
            "content": {"application/json": {"schema": _FILE}},
        }
    },
)
def get_openings(slug: str, runtime: RuntimeDep, user: OperatorUser) -> PlainTextResponse:
    """Every commitment's opening, revealed or not: for operators, who hand them to auditors."""
    with runtime.database.session() as session:
        document = service.export_openings(session, slug)
    return _download(document, "application/json", f"{slug}.openings.json")


@router.get("/{slug}/verify")
def verify(slug: str, runtime: RuntimeDep, user: OptionalUser, head: str | None = None) -> schemas.Verification:
    if head is not None and (len(head) != 64 or any(c not in "0123456789abcdef" for c in head)):
        raise BadRequestError("head must be a 64-character sha256 hex digest", hint="Copy it from a decision record.")
    with runtime.database.session() as session:
        return schemas.Verification.model_validate(service.verify_database(session, slug, head).to_json())
