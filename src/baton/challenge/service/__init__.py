"""The challenge's operations: every input is checked, appended to the ledger and projected, in one transaction.

Functions take a session whose transaction the caller owns (``runtime.database.session(write=True)``);
a refused input raises before anything is written, and an error after a write rolls the whole
transaction back, so nothing is ever recorded in part. Appends are serialized per challenge by
locking its row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write lock is taken at BEGIN), so
concurrent appends cannot fork the hash chain.

The operations live in submodules by sub-domain, and are all re-exported here (callers write
``from baton.challenge import service; service.decide(...)``):

- ``challenges``: create, revise and look up challenges; teams, their membership and release plans.
- ``submissions``: a team pins a hub revision for a stage.
- ``scores``: benchmark scores and evaluation results.
- ``targets``: declared target models' scores entered by an operator with a cited source.
- ``review``: expert reviewers' assignments and scores.
- ``arena``: blind battles and votes.
- ``panel``: a panel's raters, their conflicts of interest and their ratings (one by one or imported).
- ``gates``: the independence gate and operators' overrides.
- ``decisions``: deciding a stage, its record, and finality (``finalize_due``, team exits).
- ``appeals``: appeals against a decision and their answers.
- ``repechage``: applications to a repechage, and readmitting the teams it admitted.
- ``sealed_names``: private repos and open battles named by commitments in the public ledger.
- ``records``: the ledger as a whole (read, export, verify) and release actions.
- ``_common``: helpers they share (the row lock, the ledger append, lookups).
"""

from __future__ import annotations

from baton.challenge.service._common import (
    current_submission,
    events_of,
    get_challenge,
    get_challenge_by_id,
    iso,
    participants,
    pseudonym_for,
    spec_of,
    stage_entries,
    stage_of,
    state_of,
)
from baton.challenge.service.appeals import answer_appeal, appeal_json, file_appeal, list_appeals
from baton.challenge.service.arena import (
    CHOICES,
    NewBattle,
    create_battle,
    get_battle,
    next_battle,
    record_vote,
    voting_closed,
)
from baton.challenge.service.challenges import (
    TeamEntry,
    TeamStage,
    create_challenge,
    enter_team,
    file_release_plan,
    get_team,
    list_challenges,
    list_teams,
    pseudonym,
    release_plan,
    revise_challenge,
    teams_by_organization,
)
from baton.challenge.service.decisions import decide, decision_record, due, finalize_due
from baton.challenge.service.gates import (
    GateCheck,
    check_gate,
    check_gates,
    gate_queue,
    gate_standing,
    override_gate,
)
from baton.challenge.service.panel import (
    assign_raters,
    declare_conflict,
    import_ratings,
    panel_assignments_of,
    panel_criterion,
    rate,
)
from baton.challenge.service.records import (
    check_ledger_head,
    export_bundle,
    has_challenge,
    ledger_events,
    record_release_action,
    verify_database,
)
from baton.challenge.service.repechage import apply_to_repechage, list_applications
from baton.challenge.service.review import assign_reviewer, assignments_of, record_review, review_criterion
from baton.challenge.service.scores import BenchmarkScore, record_evaluation, record_score
from baton.challenge.service.sealed_names import (
    REVEALED,
    ChallengeNames,
    export_openings,
    find_sealed,
    model_pseudonym,
    named_repo,
    openings,
    public_model,
    public_plan,
    public_target,
    reveal_public,
    seal_if_private,
    seal_model,
    submission_sealed,
)
from baton.challenge.service.submissions import list_submissions, submit
from baton.challenge.service.targets import TargetScoreEntry, record_target_score
from baton.challenge.spec import load_spec

__all__ = [
    "CHOICES",
    "REVEALED",
    "BenchmarkScore",
    "ChallengeNames",
    "GateCheck",
    "NewBattle",
    "TargetScoreEntry",
    "TeamEntry",
    "TeamStage",
    "answer_appeal",
    "appeal_json",
    "apply_to_repechage",
    "assign_raters",
    "assign_reviewer",
    "assignments_of",
    "check_gate",
    "check_gates",
    "check_ledger_head",
    "create_battle",
    "create_challenge",
    "current_submission",
    "decide",
    "decision_record",
    "declare_conflict",
    "due",
    "enter_team",
    "events_of",
    "export_bundle",
    "export_openings",
    "file_appeal",
    "file_release_plan",
    "finalize_due",
    "find_sealed",
    "gate_queue",
    "gate_standing",
    "get_battle",
    "get_challenge",
    "get_challenge_by_id",
    "get_team",
    "has_challenge",
    "import_ratings",
    "iso",
    "ledger_events",
    "list_appeals",
    "list_applications",
    "list_challenges",
    "list_submissions",
    "list_teams",
    "load_spec",
    "model_pseudonym",
    "named_repo",
    "next_battle",
    "openings",
    "override_gate",
    "panel_assignments_of",
    "panel_criterion",
    "participants",
    "pseudonym",
    "pseudonym_for",
    "public_model",
    "public_plan",
    "public_target",
    "rate",
    "record_evaluation",
    "record_release_action",
    "record_review",
    "record_score",
    "record_target_score",
    "record_vote",
    "release_plan",
    "reveal_public",
    "review_criterion",
    "revise_challenge",
    "seal_if_private",
    "seal_model",
    "spec_of",
    "stage_entries",
    "stage_of",
    "state_of",
    "submission_sealed",
    "submit",
    "teams_by_organization",
    "verify_database",
    "voting_closed",
]
