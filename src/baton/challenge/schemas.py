"""The JSON shapes the challenge routes answer with (``baton.challenge.api``), one class per shape.

Each model declares every key the service's dict carries, in the same order, with the same types
(timestamps stay ISO strings). A key the service sets only sometimes is a field with a default, and
the routes serialize with ``response_model_exclude_unset``: a key absent from the service's dict is
absent from the response, exactly as before the models. The service's dicts stay the source; the
routes validate them into these models (``Model.model_validate(data)``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """A response shape: an undeclared key is an error (the response would silently lose it)."""

    model_config = ConfigDict(extra="forbid")


# --- challenges ----------------------------------------------------------------------------------


class Challenge(Schema):
    challenge: str
    title: str
    spec_version: int
    spec: dict[str, Any]  # the validated challenge YAML, as JSON
    head: str
    events: int
    ended_at: str | None


class StageSummary(Schema):
    stage: str
    title: str
    deadline: str
    teams: list[str]
    decided: bool
    final: bool
    advance: list[str] | None


class ChallengeDetail(Challenge):
    stages: list[StageSummary]


class FinalizedStage(Schema):
    challenge: str
    stage: str


class Finalized(Schema):
    finalized: list[FinalizedStage]


# --- teams and release plans ---------------------------------------------------------------------


class SealedName(Schema):
    """How a public response names a private repo: its pseudonym and, where the ledger has one, its commitment."""

    pseudonym: str
    commitment: str | None


class PlannedRepo(Schema):
    """One repo of a release plan as the viewer may see it (a private repo: ``repo`` None and ``sealed``)."""

    repo: str | None
    repo_type: Literal["model", "dataset"] = "model"
    kind: str
    license: str
    embargo_until: str | None = None
    access: Literal["public", "gated"] = "public"
    gated_mode: Literal["auto", "manual"] | None = None
    sealed: SealedName | None = None


class ReleasePlan(Schema):
    repos: list[PlannedRepo]


class TeamOut(Schema):
    team: str
    name: str
    organizations: list[str]
    members: list[str]
    target_models: list[str]
    entered_stage: str
    repechage: bool
    status: str  # active, eliminated, ended
    exit_stage: str | None
    release_plan: ReleasePlan


# --- submissions, scores, reviews ----------------------------------------------------------------


class SubmissionOut(Schema):
    team: str
    stage: str
    repo_type: Literal["model", "dataset"]
    sealed: SealedName | None = None  # only for a sealed (private) submission
    repo: str | None
    revision: str | None
    model: str
    submitted_at: str


class ScoreRecorded(Schema):
    stage: str
    task: str
    model: str
    score: float
    stderr: float
    n: int | None
    source: dict[str, Any]
    operator: str
    task_version: str | None = None


class TargetScoreRecorded(Schema):
    stage: str
    team: str
    task: str
    task_version: str | None
    target_model: str
    score: float
    stderr: float | None
    source: str
    operator: str
    seq: int
    recorded_at: str


class ReviewerAssigned(Schema):
    team: str
    reviewer: str
    pseudonym: str
    stage: str


class RubricItem(Schema):
    id: str
    title: str
    max: float
    weight: float


class AssignedTeam(Schema):
    team: str
    name: str


class Assignments(Schema):
    stage: str
    criterion: str
    rubric: list[RubricItem]
    teams: list[AssignedTeam]


class ReviewRecorded(Schema):
    stage: str
    criterion: str
    team: str
    reviewer: str
    scores: dict[str, float]
    comment: str


# --- arena ---------------------------------------------------------------------------------------


class BlindBattle(Schema):
    """What a voter sees: the prompt and two answers, never the teams."""

    battle: str
    stage: str
    prompt: str
    answer_a: str
    answer_b: str


class NoBattle(Schema):
    battle: None
    message: str


class BattleCreated(BlindBattle):
    team_a: str
    team_b: str
    reveals_identity: bool


class VoteRecorded(Schema):
    battle: str
    choice: str
    voter: str


# --- gates ---------------------------------------------------------------------------------------


class GateResult(Schema):
    team: str
    stage: str
    gate: str
    outcome: str  # pass, fail, inconclusive
    source: str
    reason: str
    evidence: dict[str, Any]  # the provenance check's evidence (or an override's), free-form
    operator: str | None
    recorded_at: str


class GateCheck(Schema):
    """One gate of one team in a stage-wide check: its recorded result, or why none was recorded
    (``outcome`` "decision" for a threshold, which the decision computes; "skipped" without a submission)."""

    team: str
    gate: str
    kind: str
    outcome: str
    reason: str
    result: GateResult | None


# --- decisions and appeals -----------------------------------------------------------------------


class Appeal(Schema):
    id: int
    stage: str
    team: str | None
    filed_by: str
    text: str
    filed_at: str
    answer: str | None
    upheld: bool | None
    answered_by: str | None
    answered_at: str | None


class CriterionInfo(Schema):
    id: str
    title: str
    title_ko: str
    group: str | None
    kind: str  # benchmark, review, arena, panel
    weight: float
    normalization: str


class GateInfo(Schema):
    id: str
    title: str
    kind: str


class GateStanding(Schema):
    """A team's standing at a gate in a decision: an override carries ``operator`` and ``checked``."""

    outcome: str
    source: str | None
    reason: str
    operator: str | None = None
    checked: str | None = None
    # Gates checked with their kind (and thresholds): the kind and the public summary of the evidence
    # (independence: each reference with its verdict, components and whether the reuse is allowed;
    # license: the license found and the allowed ones; documents: each required file; threshold: the value).
    kind: str | None = None
    evidence: Any = None


class CriterionScore(Schema):
    value: float
    stderr: float
    points: float
    lower: float
    upper: float
    detail: dict[str, Any]  # the criterion's own statistics (tasks, reviews, arena ratings)


class DecisionTeam(Schema):
    team: str
    name: str
    composite: float
    stderr: float
    lower: float
    upper: float
    gates: dict[str, GateStanding]
    criteria: dict[str, CriterionScore]
    submission: str | None
    rank: int
    # on composite points among all the stage's teams, gate failures included (absent from engine-1 records)
    points_rank: int | None = None
    outcome: str  # advance, eliminated
    eliminated_by: str | None  # gate:<id>, lowest (eliminate_lowest), rank (beyond the number advancing)
    # how it came into the stage: {"via": entered|advanced|repechage|applied, ...} (absent from engine-1 records)
    entry: dict[str, Any] | None = None


class Decision(Schema):
    """A stage's decision as computed and recorded in the ledger (``recompute.compute_decision``)."""

    challenge: str
    stage: str
    stage_title: str
    stage_title_ko: str
    spec_version: int
    spec_sha256: str
    decided_at: str
    appeal_days: int
    appeal_deadline: str
    head: str
    head_seq: int
    seed: int
    total: float
    advance_count: int
    engine: int = 1  # the record's shape (recompute.ENGINE); records without it were written by engine 1
    kind: str = "stage"  # stage, repechage
    # the rule applied (advance; eliminate_lowest/advance_up_to; admits); absent from engine-1 records
    advancement: dict[str, Any] | None = None
    last_stage: bool
    criteria: list[CriterionInfo]
    gates: list[GateInfo]
    teams: list[DecisionTeam]
    advance: list[str]
    eliminated: list[str]
    tie_breaks: list[dict[str, Any]]
    arena: dict[str, Any]  # per arena criterion: its published ratings and votes
    reviews: dict[str, Any]  # per review criterion: its published reviews
    panel: dict[str, Any] | None = None  # per panel criterion (stages with one): aggregates, alpha, exclusions


class DecisionRecord(Decision):
    """The stage's current decision with its finality and appeals (``service.decision_record``)."""

    seq: int
    final: bool
    final_at: str | None
    appeals: list[Appeal]


class Application(Schema):
    """An application to a repechage (``service.apply_to_repechage``)."""

    stage: str
    team: str
    as_: str = Field(alias="as")  # new, eliminated
    eliminated_in: str | None
    statement: str
    by: str
    seq: int
    applied_at: str


# --- ledger --------------------------------------------------------------------------------------


class LedgerProblem(Schema):
    seq: int | None
    line: int | None
    what: str


class Commitments(Schema):
    total: int
    opened: int
    sealed: int


class Verification(Schema):
    challenge: str
    ok: bool
    events: int
    head: str | None
    published_head: str | None
    head_seq: int | None
    decisions_checked: int
    commitments: Commitments
    problems: list[LedgerProblem]
    warnings: list[LedgerProblem]


# --- panel ---------------------------------------------------------------------------------------


class PanelAssigned(Schema):
    team: str
    rater: str
    pseudonym: str


class PanelSkipped(Schema):
    team: str
    rater: str
    reason: str


class PanelAssignment(Schema):
    """An operator's assignment of raters to teams (``service.assign_raters``)."""

    stage: str
    criterion: str
    assigned: list[PanelAssigned]
    existing: int
    skipped: list[PanelSkipped]


class PanelDimension(Schema):
    id: str
    title: str
    min: int
    max: int


class RaterPanel(Schema):
    criterion: str
    title: str
    items: list[str]
    dimensions: list[PanelDimension]
    teams: list[str]


class RaterAssignments(Schema):
    """What a rater is asked to rate (``service.panel_assignments_of``)."""

    stage: str
    rater: str
    panels: list[RaterPanel]


class PanelConflict(Schema):
    stage: str
    team: str
    rater: str
    source: str  # declared, affiliation
    by: str | None = None
    recorded: bool


class PanelRating(Schema):
    stage: str
    criterion: str
    team: str
    item: str
    rater: str
    scores: dict[str, int]


class RatingsImported(Schema):
    stage: str
    criterion: str
    ratings: int
    raters: int
    teams: int
    sha256: str
    seq: int
