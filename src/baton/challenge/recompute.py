"""From ledger events to state and decisions: pure and deterministic.

``replay(events)`` folds the recorded inputs into a ``State``; ``compute_decision(state, stage, ...)``
turns a stage's inputs into its decision record. The service uses exactly these two to decide, and
``check_decisions(events)`` (behind ``baton challenge verify``) replays a ledger and recomputes every
recorded decision from the inputs that preceded it, reporting each difference. Randomness (the
arena bootstrap, review bootstrap, rank simulation, the tie-break draw) comes from the seed the
ledger recorded for the stage.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.challenge import decisions as ranking
from baton.challenge import panel as panel_math
from baton.challenge import review as review_math
from baton.challenge import scoring
from baton.challenge.ledger import Event
from baton.challenge.scoring import Estimate, rounded
from baton.challenge.spec import BenchmarkTask, ChallengeSpec, Criterion, Stage, ThresholdGate, load_spec
from baton.core.sealing import Sealed, is_commitment, opens

GATE_PASS, GATE_FAIL, GATE_INCONCLUSIVE, GATE_MISSING = "pass", "fail", "inconclusive", "missing"

# Events that feed decisions (or say what became of them), and consequences: what happened because a
# decision became final (release actions). Consequences never change a decision's inputs; verify
# checks the hash chain over them and that each can be read. Any other kind is reported.
INPUT_KINDS = frozenset(
    {
        "challenge.defined",
        "challenge.revised",
        "team.entered",
        "release_plan.filed",
        "submission.made",
        "score.recorded",
        "target_score.recorded",
        "reviewer.assigned",
        "review.recorded",
        "battle.created",
        "vote.recorded",
        "panel.assigned",
        "panel.conflict",
        "panel.rating",
        "panel.ratings",
        "commitments.revealed",
        "gate.checked",
        "gate.overridden",
        "seed.drawn",
        "decision.made",
        "appeal.filed",
        "appeal.answered",
        "decision.final",
        "challenge.ended",
        "repechage.applied",
    }
)
RELEASE_ACTION = "release.action"
# Publishes openings of earlier commitments: a stage's battles when its voting closes, sealed models
# at finality (see service: sealed names). Battles' openings feed the arena; the rest inform readers.
REVEALED = "commitments.revealed"
CONSEQUENCE_KINDS = frozenset({RELEASE_ACTION})
KNOWN_KINDS = INPUT_KINDS | CONSEQUENCE_KINDS


@dataclass
class TeamInfo:
    team: str
    name: str
    organizations: list[str]
    members: list[str]
    target_models: list[str]
    stage: str
    repechage: bool
    release_plan: dict[str, Any]


@dataclass
class Battle:
    battle: str
    criterion: str
    team_a: str  # "" while the battle is sealed (its teams and answers committed, not yet opened)
    team_b: str
    answer_a: str
    answer_b: str
    commitment: str | None = None


@dataclass
class StageData:
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)  # team -> latest submission payload
    scores: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (model, task) -> payload
    # (model, task, task version or None) -> (payload, seq): the latest score measured on that version
    versioned_scores: dict[tuple[str, str, str | None], tuple[dict[str, Any], int]] = field(default_factory=dict)
    # (team, task) -> the latest target_score.recorded payload (with its seq and time); by version too
    entered_targets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    versioned_entered_targets: dict[tuple[str, str, str | None], dict[str, Any]] = field(default_factory=dict)
    reviews: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (criterion, team, reviewer)
    battles: dict[str, Battle] = field(default_factory=dict)
    votes: list[tuple[str, str, str]] = field(default_factory=list)  # (battle, voter, choice)
    # panel criterion -> (team, item, rater) -> points per dimension (the latest rating counts)
    ratings: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = field(default_factory=dict)
    gates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (gate, team) -> check payload
    overrides: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)  # a repechage's: team -> payload
    seed: int | None = None
    decision: dict[str, Any] | None = None
    decision_seq: int | None = None
    final: bool = False


@dataclass
class State:
    challenge: str = ""
    spec: ChallengeSpec | None = None
    teams: dict[str, TeamInfo] = field(default_factory=dict)
    stages: dict[str, StageData] = field(default_factory=dict)
    appeals: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended: bool = False
    last: Event | None = None
    releases: list[dict[str, Any]] = field(default_factory=list)  # release.action payloads, in order
    sealed_battles: dict[str, Battle] = field(default_factory=dict)  # commitment -> battle awaiting its opening
    opened: dict[str, dict[str, Any]] = field(default_factory=dict)  # commitment -> revealed value
    # (team, rater pseudonym) -> how the panel conflict became known ("declared" or "affiliation")
    panel_conflicts: dict[tuple[str, str], str] = field(default_factory=dict)

    def stage_data(self, stage: str) -> StageData:
        return self.stages.setdefault(stage, StageData())

    def require_spec(self) -> ChallengeSpec:
        if self.spec is None:
            raise ValueError("the ledger does not start with the challenge's definition")
        return self.spec


def apply(state: State, event: Event) -> None:
    """Fold one event into the state."""
    payload = event.payload
    kind = event.kind
    state.last = event
    if kind in ("challenge.defined", "challenge.revised"):
        state.spec = load_spec(payload["spec"])
        state.challenge = state.spec.challenge
    elif kind == "team.entered":
        state.teams[payload["team"]] = TeamInfo(
            team=payload["team"],
            name=payload.get("name", payload["team"]),
            organizations=list(payload.get("organizations", [])),
            members=list(payload.get("members", [])),
            target_models=list(payload.get("target_models", [])),
            stage=payload["stage"],
            repechage=bool(payload.get("repechage", False)),
            release_plan=dict(payload.get("release_plan") or {"repos": []}),
        )
    elif kind == "release_plan.filed":
        if payload["team"] in state.teams:
            state.teams[payload["team"]].release_plan = dict(payload["plan"])
    elif kind == "submission.made":
        state.stage_data(payload["stage"]).submissions[payload["team"]] = payload
    elif kind == "score.recorded":
        data = state.stage_data(payload["stage"])
        data.scores[(payload["model"], payload["task"])] = payload
        data.versioned_scores[(payload["model"], payload["task"], score_version(payload))] = (payload, event.seq)
    elif kind == "target_score.recorded":
        check_target_score_payload(payload)
        data = state.stage_data(payload["stage"])
        entered = dict(payload, seq=event.seq, recorded_at=event.recorded_at)
        data.entered_targets[(payload["team"], payload["task"])] = entered
        data.versioned_entered_targets[(payload["team"], payload["task"], payload.get("task_version"))] = entered
    elif kind == "review.recorded":
        key = (payload["criterion"], payload["team"], payload["reviewer"])
        state.stage_data(payload["stage"]).reviews[key] = payload
    elif kind == "battle.created":
        battle = Battle(
            battle=payload["battle"],
            criterion=payload["criterion"],
            team_a=payload.get("team_a", ""),
            team_b=payload.get("team_b", ""),
            answer_a=payload.get("answer_a", ""),
            answer_b=payload.get("answer_b", ""),
            commitment=payload.get("commitment"),
        )
        state.stage_data(payload["stage"]).battles[battle.battle] = battle
        if battle.commitment is not None:
            state.sealed_battles[battle.commitment] = battle
    elif kind == REVEALED:
        for opening in payload["openings"]:
            # An opening that does not match is ignored here and reported by check_commitments.
            if not isinstance(opening, dict):
                continue
            committed, value = opening.get("commitment"), opening.get("value")
            if not isinstance(committed, str) or not isinstance(value, dict):
                continue
            if not opens(committed, value, opening.get("salt")):
                continue
            state.opened[committed] = value
            sealed = state.sealed_battles.pop(committed, None)
            if sealed is not None:
                sealed.team_a, sealed.team_b = str(value["team_a"]), str(value["team_b"])
                sealed.answer_a, sealed.answer_b = str(value["answer_a"]), str(value["answer_b"])
    elif kind == "vote.recorded":
        state.stage_data(payload["stage"]).votes.append((payload["battle"], payload["voter"], payload["choice"]))
    elif kind == "panel.rating":
        ratings = state.stage_data(payload["stage"]).ratings.setdefault(payload["criterion"], {})
        ratings[(payload["team"], str(payload["item"]), payload["rater"])] = dict(payload["scores"])
    elif kind == "panel.ratings":
        ratings = state.stage_data(payload["stage"]).ratings.setdefault(payload["criterion"], {})
        for entry in payload["ratings"]:
            ratings[(entry["team"], str(entry["item"]), entry["rater"])] = dict(entry["scores"])
    elif kind == "panel.conflict":
        state.panel_conflicts.setdefault((payload["team"], payload["rater"]), str(payload["source"]))
    elif kind == "gate.checked":
        state.stage_data(payload["stage"]).gates[(payload["gate"], payload["team"])] = payload
    elif kind == "gate.overridden":
        state.stage_data(payload["stage"]).overrides[(payload["gate"], payload["team"])] = payload
    elif kind == "seed.drawn":
        state.stage_data(payload["stage"]).seed = int(payload["seed"])
    elif kind == "decision.made":
        data = state.stage_data(payload["stage"])
        data.decision = payload["record"]
        data.decision_seq = event.seq
    elif kind == "appeal.filed":
        state.appeals[payload["appeal"]] = dict(payload)
    elif kind == "appeal.answered":
        if payload["appeal"] in state.appeals:
            state.appeals[payload["appeal"]].update(answered=True, upheld=payload.get("upheld"))
    elif kind == "decision.final":
        state.stage_data(payload["stage"]).final = True
    elif kind == "challenge.ended":
        state.ended = True
    elif kind == "repechage.applied":
        state.stage_data(payload["stage"]).applications[payload["team"]] = dict(payload)
    elif kind == RELEASE_ACTION:
        # A consequence of a final exit: kept for readers, never an input to a decision.
        check_release_payload(payload)
        state.releases.append(payload)
    elif kind not in KNOWN_KINDS:
        raise ValueError(f"unknown event kind '{kind}'")
    # Other known kinds (reviewer.assigned, panel.assigned, appeal answers' text) carry record only.


RELEASE_ACTIONS = frozenset(
    {
        "plan_started",
        "no_plan",
        "checked",
        "held",
        "embargoed",
        "card_updated",
        "released",
        "finding_accepted",
        "finding_cleaned",
        "rechecked",
    }
)


def check_release_payload(payload: dict[str, Any]) -> None:
    """ValueError unless ``payload`` is a release action as the service records it."""
    for key in ("team", "action", "actor"):
        if not isinstance(payload.get(key), str) or not payload[key]:
            raise ValueError(f"a release action needs a non-empty string '{key}'")
    if payload["action"] not in RELEASE_ACTIONS:
        raise ValueError(f"unknown release action '{payload['action']}'")
    if not isinstance(payload.get("detail", {}), dict):
        raise ValueError("a release action's detail must be an object")


def replay(events: Iterable[Event]) -> State:
    collecting = gc.isenabled()
    gc.disable()  # many small objects and no cycles: the cyclic collector would only rescan them
    try:
        state = State()
        for event in events:
            apply(state, event)
        return state
    finally:
        if collecting:
            gc.enable()


# --- who competes ------------------------------------------------------------------------------


def participants(state: State, stage_id: str) -> list[str]:
    """The teams competing in a stage: the first stage's entrants; a repechage's applicants; a later
    stage's advancers from the previous regular stage (its latest decision), the teams a repechage
    between them admitted, and the teams entered directly into it (the older ``repechage: N``)."""
    return sorted(entries(state, stage_id))


def entries(state: State, stage_id: str) -> dict[str, dict[str, Any]]:
    """How each team competing in a stage came into it: ``{"via": "entered"}`` (the first stage, or
    entered directly by the older ``repechage: N``), ``{"via": "advanced", "stage": s}``,
    ``{"via": "repechage", "stage": r}`` (admitted by repechage ``r``), or in a repechage
    ``{"via": "applied", "as": "new" | "eliminated", "eliminated_in": s | None}``."""
    spec = state.require_spec()
    stage = spec.stage(stage_id)
    found: dict[str, dict[str, Any]] = {}
    if stage.is_repechage:
        for team, application in state.stage_data(stage_id).applications.items():
            found[team] = {
                "via": "applied",
                "as": application.get("as", "new"),
                "eliminated_in": application.get("eliminated_in"),
            }
        return found
    for info in state.teams.values():
        if info.stage == stage_id:
            found[info.team] = {"via": "entered"}
    repechage = spec.repechage_before(stage_id)
    if repechage is not None:
        admitted = state.stages.get(repechage.id)
        for team in admitted.decision["advance"] if admitted and admitted.decision else []:
            found[team] = {"via": "repechage", "stage": repechage.id}
    previous = spec.previous_regular(stage_id)
    if previous is not None:
        decided = state.stages.get(previous.id)
        for team in decided.decision["advance"] if decided and decided.decision else []:
            found[team] = {"via": "advanced", "stage": previous.id}
    return found


def repechage_limit(state: State, stage: Stage) -> dict[str, Any]:
    """How many a repechage admits: at most ``admits``, and no more than the room left in the next
    stage (its ``teams`` less the teams that advanced into it)."""
    spec = state.require_spec()
    limit = int(stage.admits or 0)
    rule: dict[str, Any] = stage.advancement_rule()
    after = spec.next_regular(stage.id)
    if after is not None:
        arriving = [team for team, entry in entries(state, after.id).items() if entry["via"] != "repechage"]
        room = max(0, after.teams - len(arriving))
        rule["room"] = room
        limit = min(limit, room)
    rule["limit"] = limit
    return rule


def sub_seed(seed: int, *parts: str) -> int:
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()
    return int(digest[:8], 16)


def submission_model(data: StageData, team: str) -> str | None:
    """The submitted model as the ledger names it: 'repo@revision', or a private repo's sealed label."""
    submission = data.submissions.get(team)
    if submission is None:
        return None
    if "sealed" in submission:
        return Sealed(str(submission["sealed"]["pseudonym"]), str(submission["sealed"]["commitment"])).label
    return f"{submission['repo']}@{submission['revision']}"


# --- criteria ------------------------------------------------------------------------------------


def score_version(payload: dict[str, Any]) -> str | None:
    """The task version a recorded score was measured on: its ``task_version``, else its run manifest's."""
    version = payload.get("task_version")
    if version is None:
        source = payload.get("source")
        manifest = source.get("manifest") if isinstance(source, dict) else None
        task = manifest.get("task") if isinstance(manifest, dict) else None
        version = task.get("version") if isinstance(task, dict) else None
    return None if version is None else str(version)


def check_target_score_payload(payload: dict[str, Any]) -> None:
    """ValueError unless ``payload`` is an entered target score as the service records it."""
    for key in ("stage", "team", "task", "target_model", "source", "operator"):
        if not isinstance(payload.get(key), str) or not payload[key].strip():
            raise ValueError(f"an entered target score needs a non-empty string '{key}'")
    if not isinstance(payload.get("score"), int | float) or isinstance(payload.get("score"), bool):
        raise ValueError("an entered target score needs a number 'score'")


def _version_reason(task: BenchmarkTask, measured: str | None, what: str) -> str:
    if measured is None:
        return f"{what} was recorded without a task version; the criterion counts version {task.version} only"
    return f"{what} was measured on version {measured} of {task.id}; the criterion counts version {task.version} only"


def _measured(data: StageData, model: str, task: BenchmarkTask) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """The score of ``model`` on ``task`` that counts (payload, seq), or why the one recorded does not."""
    if task.version is None:
        payload = data.scores.get((model, task.id))
        if payload is None:
            return None, None, None
        return payload, data.versioned_scores.get((model, task.id, score_version(payload)), (payload, None))[1], None
    found = data.versioned_scores.get((model, task.id, task.version))
    if found is not None:
        return found[0], found[1], None
    latest = data.scores.get((model, task.id))
    if latest is None:
        return None, None, None
    return None, None, _version_reason(task, score_version(latest), "the score")


def _entered(data: StageData, team: str, task: BenchmarkTask) -> tuple[dict[str, Any] | None, str | None]:
    if task.version is None:
        return data.entered_targets.get((team, task.id)), None
    found = data.versioned_entered_targets.get((team, task.id, task.version))
    if found is not None:
        return found, None
    latest = data.entered_targets.get((team, task.id))
    if latest is None:
        return None, None
    return None, _version_reason(task, latest.get("task_version"), "the entered target score")


@dataclass
class TargetScore:
    """A team's declared target model's score on a task, and where it comes from (the record's origin)."""

    estimate: Estimate | None = None
    model: str | None = None
    origin: dict[str, Any] | None = None
    reason: str | None = None  # why no target score counts, when one was recorded


def target_score(data: StageData, info: TeamInfo | None, task: BenchmarkTask) -> TargetScore:
    """The target score that counts for a team's task under the task's ``target_source``.

    ``measured``: a score.recorded of a declared target model (on the task's version, when it names one);
    ``entered``: a target_score.recorded by an operator with its cited source; ``either`` (default): the
    measured score when there is one, else the entered one.
    """
    if info is None:
        return TargetScore()
    reasons: list[str] = []
    if task.target_source in ("measured", "either"):
        for target in info.target_models:
            for model in (target, target.split("@", 1)[0]):
                payload, seq, reason = _measured(data, model, task)
                if payload is not None:
                    origin = {
                        "kind": "measured",
                        "model": model,
                        "score_seq": seq,
                        "task_version": score_version(payload),
                    }
                    source = payload.get("source")
                    if isinstance(source, dict) and source.get("metric") is not None:
                        origin["metric"] = source["metric"]
                    return TargetScore(
                        Estimate(float(payload["score"]), float(payload.get("stderr") or 0.0)), model, origin
                    )
                if reason is not None and f"measured target: {reason}" not in reasons:
                    reasons.append(f"measured target: {reason}")
    if task.target_source in ("entered", "either"):
        entered, reason = _entered(data, info.team, task)
        if entered is not None:
            origin = {
                "kind": "entered",
                "source": entered["source"],
                "operator": entered["operator"],
                "entered_at": entered["recorded_at"],
                "entry_seq": entered["seq"],
                "task_version": entered.get("task_version"),
            }
            stderr = float(entered.get("stderr") or 0.0)
            return TargetScore(Estimate(float(entered["score"]), stderr), str(entered["target_model"]), origin)
        if reason is not None:
            reasons.append(f"entered target: {reason}")
    return TargetScore(reason="; ".join(reasons) or None)


def _benchmark(
    state: State, data: StageData, criterion: Criterion, teams: Sequence[str], seed: int
) -> tuple[dict[str, Estimate], dict[str, dict[str, Any]]]:
    per_task: dict[str, dict[str, Estimate]] = {}
    details: dict[str, dict[str, Any]] = {team: {"tasks": {}, "missing": []} for team in teams}
    ratio = criterion.normalization == "ratio_to_target"
    for task in criterion.tasks:
        values: dict[str, Estimate] = {}
        targets: dict[str, Estimate | None] = {}
        cap = criterion.task_cap(task)
        for team in teams:
            model = submission_model(data, team)
            payload, _seq, reason = _measured(data, model, task) if model else (None, None, None)
            entry: dict[str, Any] = {"model": model}
            if not task.plain:  # a task written as an object states its terms beside its result
                entry.update(weight=task.weight, version=task.version)
            if payload is None:
                details[team]["missing"].append(task.id)
                if reason is not None:
                    entry["reason"] = reason
                details[team]["tasks"][task.id] = entry
                continue
            values[team] = Estimate(float(payload["score"]), float(payload.get("stderr") or 0.0))
            entry.update(score=payload["score"], stderr=payload.get("stderr"), n=payload.get("n"))
            if ratio:
                found = target_score(data, state.teams.get(team), task)
                targets[team] = found.estimate
                entry.update(
                    target_model=found.model,
                    target_score=None if found.estimate is None else found.estimate.value,
                    target_stderr=None if found.estimate is None else found.estimate.stderr,
                    target_origin=found.origin,
                    cap=cap,
                )
                if found.estimate is None:
                    details[team]["missing"].append(f"{task.id} (target)")
                    if found.reason is not None:
                        entry["target_reason"] = found.reason
            details[team]["tasks"][task.id] = entry
        normalized = scoring.normalize(
            criterion.normalization, values, targets=targets, cap=cap, seed=sub_seed(seed, criterion.id, task.id)
        )
        for team, estimate in normalized.items():
            details[team]["tasks"][task.id]["normalized"] = rounded(estimate.value)
            details[team]["tasks"][task.id]["normalized_stderr"] = rounded(estimate.stderr)
        per_task[task.id] = normalized
    weights = [task.weight for task in criterion.tasks]
    result = {
        team: scoring.weighted_mean_estimate(
            [per_task[task.id].get(team, Estimate(0.0, 0.0)) for task in criterion.tasks], weights
        )
        for team in teams
    }
    return result, details


def _review(
    state: State, data: StageData, criterion: Criterion, teams: Sequence[str], seed: int
) -> tuple[dict[str, Estimate], dict[str, dict[str, Any]], dict[str, Any]]:
    natural: dict[str, Estimate] = {}
    details: dict[str, dict[str, Any]] = {}
    published: dict[str, Any] = {}
    for team in teams:
        entries = sorted(
            (payload for (crit, tm, _reviewer), payload in data.reviews.items() if crit == criterion.id and tm == team),
            key=lambda payload: payload["reviewer"],
        )
        totals = [review_math.rubric_total(criterion, payload["scores"]) for payload in entries]
        result = review_math.aggregate_with_interval(
            totals, criterion.aggregation, criterion.trim, seed=sub_seed(seed, criterion.id, team)
        )
        natural[team] = result.estimate
        details[team] = {"reviews": len(entries), "method": criterion.aggregation}
        published[team] = {
            "reviewers": [payload["reviewer"] for payload in entries],
            "totals": [rounded(total) for total in totals],
            "aggregate": rounded(result.estimate.value),
            "lower": rounded(result.lower),
            "upper": rounded(result.upper),
            "method": criterion.aggregation,
        }
    normalized = scoring.normalize(criterion.normalization, natural, seed=sub_seed(seed, criterion.id, "rank"))
    return normalized, details, published


def _panel(
    state: State, data: StageData, criterion: Criterion, teams: Sequence[str], seed: int
) -> tuple[dict[str, Estimate], dict[str, dict[str, Any]], dict[str, Any]]:
    natural, details, published = panel_math.criterion_values(
        criterion,
        teams,
        data.ratings.get(criterion.id, {}),
        state.panel_conflicts,
        {team: sub_seed(seed, criterion.id, team) for team in teams},
    )
    normalized = scoring.normalize(criterion.normalization, natural, seed=sub_seed(seed, criterion.id, "rank"))
    return normalized, details, published


def identities(state: State, data: StageData, teams: Sequence[str]) -> list[str]:
    """Names an answer must not contain: the teams' names, their organizations, their models' repos."""
    names: set[str] = set()
    for team in teams:
        info = state.teams.get(team)
        names.add(team)
        if info is not None:
            names.add(info.name)
            names.update(info.organizations)
        submission = data.submissions.get(team)
        if submission is not None and "repo" in submission:  # a sealed repo's name is not in the ledger
            names.add(submission["repo"])
            names.add(str(submission["repo"]).rsplit("/", 1)[-1])
    return sorted(name for name in names if name)


def _arena(
    state: State, data: StageData, criterion: Criterion, teams: Sequence[str], seed: int
) -> tuple[dict[str, Estimate], dict[str, dict[str, Any]], dict[str, Any]]:
    from baton.challenge import arena

    names = identities(state, data, teams)
    competing = set(teams)
    # Answers repeat across battles (one answer per prompt and model), so each text is checked once.
    checked: dict[str, bool] = {}

    def reveals(answer: str) -> bool:
        if answer not in checked:
            checked[answer] = arena.reveals_identity(answer, names) is not None
        return checked[answer]

    revealing = {
        battle.battle
        for battle in data.battles.values()
        if battle.criterion == criterion.id and (reveals(battle.answer_a) or reveals(battle.answer_b))
    }
    column_a: list[str] = []
    column_b: list[str] = []
    column_outcome: list[str] = []
    column_voter: list[str] = []
    total = 0
    for battle_id, voter, choice in data.votes:
        battle = data.battles.get(battle_id)
        if battle is None or battle.criterion != criterion.id:
            continue
        if battle.team_a not in competing or battle.team_b not in competing:  # also a battle still sealed
            continue
        total += 1
        if battle_id in revealing:
            continue
        column_a.append(battle.team_a)
        column_b.append(battle.team_b)
        column_outcome.append(choice)
        column_voter.append(voter)
    rounds = criterion.bootstrap_rounds
    rating_seed = sub_seed(seed, criterion.id)
    votes = arena.VoteArrays.from_columns(column_a, column_b, column_outcome, column_voter)
    used = len(column_a)
    table = arena.bootstrap_ratings(votes, rounds=rounds, seed=rating_seed) if used else None
    contrarians: list[str] = []
    findings: list[dict[str, Any]] = []
    used_contrarian = 0
    if criterion.exclude_contrarian and table is not None:
        for finding in arena.contrarian_voters(votes, table):
            if finding.flagged:
                contrarians.append(finding.voter)
                findings.append(
                    {
                        "voter": finding.voter,
                        "votes": finding.votes,
                        "decisive": finding.decisive,
                        "disagreements": finding.disagreements,
                        "expected": rounded(finding.expected),
                        "adjusted_p": float(f"{finding.adjusted_p:.6g}"),
                    }
                )
        contrarians.sort()
        if contrarians:
            excluded = set(contrarians)
            keep = [index for index, voter in enumerate(column_voter) if voter not in excluded]
            used_contrarian = used - len(keep)
            used = len(keep)
            votes = arena.VoteArrays.from_columns(
                [column_a[i] for i in keep],
                [column_b[i] for i in keep],
                [column_outcome[i] for i in keep],
                [column_voter[i] for i in keep],
            )
            table = arena.bootstrap_ratings(votes, rounds=rounds, seed=rating_seed) if used else None
    rated = {row.model: row for row in (table.rows if table is not None else ()) if row.model in competing}
    field_mean = sum(row.rating for row in rated.values()) / len(rated) if rated else 0.0
    natural: dict[str, Estimate] = {}
    details: dict[str, dict[str, Any]] = {}
    for team in teams:
        row = rated.get(team)
        if row is None:
            natural[team] = Estimate(0.0, 0.0)
            details[team] = {"rated": False}
            continue
        natural[team] = scoring.win_probability(row.rating, row.lower, row.upper, field_mean)
        details[team] = {
            "rating": rounded(row.rating),
            "rating_lower": rounded(row.lower),
            "rating_upper": rounded(row.upper),
            "win_probability": rounded(natural[team].value),
        }
    published = {
        "ratings": {
            team: {
                "rating": rounded(row.rating),
                "lower": rounded(row.lower),
                "upper": rounded(row.upper),
                "rank": int(row.rank),
            }
            for team, row in sorted(rated.items())
        },
        "votes_total": total,
        "votes_used": used,
        "excluded": {"reveals_identity": total - used - used_contrarian, "contrarian": used_contrarian},
        "revealing_battles": sorted(revealing),
        "contrarian_voters": contrarians,
        "contrarian_findings": findings,
        "bootstrap_rounds": rounds,
    }
    normalized = scoring.normalize(criterion.normalization, natural, seed=sub_seed(seed, criterion.id, "rank"))
    return normalized, details, published


# --- gates ---------------------------------------------------------------------------------------


def gate_status(data: StageData, gate: str, team: str) -> dict[str, Any]:
    """The gate's standing for a team: an operator override wins over the recorded check.

    A check recorded with its gate's kind (every kind but ``threshold``) carries a public summary of
    its evidence, which the standing repeats for reports (beside an override too)."""
    override = data.overrides.get((gate, team))
    check = data.gates.get((gate, team))
    if override is not None:
        status = {
            "outcome": override["outcome"],
            "source": "override",
            "reason": override["reason"],
            "operator": override.get("operator"),
            "checked": None if check is None else check["outcome"],
        }
    elif check is not None:
        status = {
            "outcome": check["outcome"],
            "source": str(check.get("source", "provenance")),
            "reason": check.get("reason", ""),
        }
    else:
        return {"outcome": GATE_MISSING, "source": None, "reason": "not checked"}
    if check is not None and "kind" in check:
        status["kind"] = check["kind"]
        status["evidence"] = check.get("summary")
    return status


def threshold_status(data: StageData, gate: ThresholdGate, team: str, value: Estimate, weight: float) -> dict[str, Any]:
    """A threshold gate's standing, computed from the criterion's value (an operator override still wins)."""
    by_points = gate.min_points is not None
    measured = rounded(value.value * weight if by_points else value.value)
    minimum = float(gate.min_points if gate.min_points is not None else gate.min_value or 0.0)
    passed = measured >= minimum
    what = "points" if by_points else "value"
    computed = {
        "outcome": GATE_PASS if passed else GATE_FAIL,
        "source": "threshold",
        "kind": "threshold",
        "reason": f"{gate.criterion} {what} {measured:g} "
        + ("meets" if passed else "is below")
        + f" the minimum {minimum:g}",
        "evidence": {"criterion": gate.criterion, "measure": what, "value": measured, "minimum": minimum},
    }
    override = data.overrides.get((gate.id, team))
    if override is None:
        return computed
    return {
        "outcome": override["outcome"],
        "source": "override",
        "reason": override["reason"],
        "operator": override.get("operator"),
        "checked": computed["outcome"],
        "kind": "threshold",
        "evidence": computed["evidence"],
    }


# --- the decision ------------------------------------------------------------------------------


def compute_decision(
    state: State, stage_id: str, *, seed: int, decided_at: str, head: str, head_seq: int
) -> dict[str, Any]:
    """A stage's decision record from the state (see the contract for the shape)."""
    spec = state.require_spec()
    stage: Stage = spec.stage(stage_id)
    data = state.stage_data(stage_id)
    teams = participants(state, stage_id)
    criteria_values: dict[str, dict[str, Estimate]] = {}
    criteria_details: dict[str, dict[str, dict[str, Any]]] = {}
    arena_published: dict[str, Any] = {}
    review_published: dict[str, Any] = {}
    panel_published: dict[str, Any] = {}
    for criterion in stage.criteria:
        if criterion.kind == "benchmark":
            values, details = _benchmark(state, data, criterion, teams, seed)
        elif criterion.kind == "review":
            values, details, review_published[criterion.id] = _review(state, data, criterion, teams, seed)
        elif criterion.kind == "panel":
            values, details, panel_published[criterion.id] = _panel(state, data, criterion, teams, seed)
        else:
            values, details, arena_published[criterion.id] = _arena(state, data, criterion, teams, seed)
        criteria_values[criterion.id] = values
        criteria_details[criterion.id] = details

    candidates: list[ranking.Candidate] = []
    rows: dict[str, dict[str, Any]] = {}
    for team in teams:
        points: list[Estimate] = []
        per_criterion: dict[str, Any] = {}
        criterion_points: dict[str, float] = {}
        group_points: dict[str, float] = {}
        for criterion in stage.criteria:
            value = criteria_values[criterion.id].get(team, Estimate(0.0, 0.0))
            earned = value.scaled(criterion.weight)
            points.append(earned)
            criterion_points[criterion.id] = earned.value
            if criterion.group:
                group_points[criterion.group] = group_points.get(criterion.group, 0.0) + earned.value
            per_criterion[criterion.id] = {
                "value": rounded(value.value),
                "stderr": rounded(value.stderr),
                "points": rounded(earned.value),
                "lower": rounded(earned.lower),
                "upper": rounded(earned.upper),
                "detail": criteria_details[criterion.id].get(team, {}),
            }
        total = scoring.composite(points)
        gates = {
            gate.id: threshold_status(
                data,
                gate,
                team,
                criteria_values[gate.criterion].get(team, Estimate(0.0, 0.0)),
                stage.criterion(gate.criterion).weight,
            )
            if isinstance(gate, ThresholdGate)
            else gate_status(data, gate.id, team)
            for gate in stage.gates
        }
        failed = next((gate_id for gate_id, status in gates.items() if status["outcome"] == GATE_FAIL), None)
        submission = data.submissions.get(team)
        candidates.append(
            ranking.Candidate(
                team=team,
                composite=total.value,
                criterion_points=criterion_points,
                group_points=group_points,
                submitted_at=None if submission is None else str(submission["submitted_at"]),
                failed_gate=failed,
            )
        )
        info = state.teams.get(team)
        rows[team] = {
            "team": team,
            "name": info.name if info else team,
            "composite": rounded(total.value),
            "stderr": rounded(total.stderr),
            "lower": rounded(total.lower),
            "upper": rounded(total.upper),
            "gates": gates,
            "criteria": per_criterion,
            "submission": None if submission is None else submission_model(data, team),
        }
    rule, result = _advance(state, stage, candidates, seed)
    came = entries(state, stage_id)
    points_rank = {team: position for position, team in enumerate(result.points_order, start=1)}
    team_rows = []
    for position, team in enumerate(result.order, start=1):
        row = rows[team]
        row["rank"] = position
        row["points_rank"] = points_rank[team]
        row["outcome"] = "advance" if team in result.advance else "eliminated"
        row["eliminated_by"] = result.eliminated_by.get(team)
        row["entry"] = came.get(team, {"via": "entered"})
        team_rows.append(row)
    decided = datetime.fromisoformat(decided_at)
    appeal_days = spec.appeal_days_for(stage)
    record: dict[str, Any] = {
        "challenge": spec.challenge,
        "stage": stage.id,
        "stage_title": stage.title,
        "stage_title_ko": stage.title_ko,
        "spec_version": spec.version,
        "spec_sha256": spec.sha256(),
        "decided_at": decided_at,
        "appeal_days": appeal_days,
        "appeal_deadline": (decided + timedelta(days=appeal_days)).isoformat(),
        "head": head,
        "head_seq": head_seq,
        "seed": seed,
        "total": stage.total,
        "advance_count": len(result.advance),
        "engine": ENGINE,
        "kind": stage.kind,
        "advancement": rule,
        "last_stage": spec.stages[-1].id == stage.id,
        "criteria": [
            {
                "id": c.id,
                "title": c.title,
                "title_ko": c.title_ko,
                "group": c.group,
                "kind": c.kind,
                "weight": c.weight,
                "normalization": c.normalization,
            }
            for c in stage.criteria
        ],
        "gates": [{"id": gate.id, "title": gate.title, "kind": gate.kind} for gate in stage.gates],
        "teams": team_rows,
        "advance": result.advance,
        "eliminated": result.eliminated,
        "tie_breaks": result.tie_breaks,
        "arena": arena_published,
        "reviews": review_published,
    }
    if panel_published:  # only stages with a panel carry the key, so older records recompute as they were
        record["panel"] = panel_published
    return record


def _advance(
    state: State, stage: Stage, candidates: Sequence[ranking.Candidate], seed: int
) -> tuple[dict[str, Any], ranking.Ranking]:
    """The stage's advancement rule (as the record states it) applied to the candidates."""
    spec = state.require_spec()
    rules = spec.tie_break_for(stage)
    if stage.is_repechage:
        rule = repechage_limit(state, stage)
        return rule, ranking.rank(candidates, advance=int(rule["limit"]), rules=rules, seed=seed)
    rule = stage.advancement_rule()
    if stage.advancement is not None:
        result = ranking.rank(
            candidates,
            rules=rules,
            seed=seed,
            eliminate_lowest=stage.advancement.eliminate_lowest,
            advance_up_to=stage.advancement.advance_up_to,
        )
        return rule, result
    return rule, ranking.rank(candidates, advance=stage.advance or 0, rules=rules, seed=seed)


# --- verification ------------------------------------------------------------------------------

# The decision record's shape. 1 (records without ``engine``): before advancement rules, repechage
# selections, weighted tasks and target sources; 2 adds ``engine``, ``kind``, ``advancement``, each
# row's ``points_rank`` and ``entry``, and each ratio-to-target task's ``cap``/``target_origin``.
ENGINE = 2


def as_first_engine(record: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """A recomputed record in the first engine's shape, to compare with a record written by it: the keys
    added since are dropped and ``advance_count`` is the stage's ``advance``, as it was then. The
    decision itself (ranks, outcomes, points) is compared as recomputed today."""
    shaped = {key: value for key, value in record.items() if key not in ("engine", "kind", "advancement")}
    if stage.advance is not None:
        shaped["advance_count"] = stage.advance
    rows = []
    for row in record.get("teams", []):
        row = {key: value for key, value in row.items() if key not in ("points_rank", "entry")}
        criteria = {}
        for criterion_id, entry in (row.get("criteria") or {}).items():
            detail = entry.get("detail") or {}
            tasks = detail.get("tasks")
            if isinstance(tasks, dict):
                tasks = {
                    task: {k: v for k, v in value.items() if k not in ("cap", "target_origin", "target_reason")}
                    for task, value in tasks.items()
                }
                entry = entry | {"detail": detail | {"tasks": tasks}}
            criteria[criterion_id] = entry
        rows.append(row | {"criteria": criteria})
    shaped["teams"] = rows
    return shaped



def differences(recorded: Any, recomputed: Any, path: str = "record", limit: int = 8) -> list[str]:
    """Where two records differ (numbers within 1e-6 agree), at most ``limit`` entries."""
    found: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if key not in a:
                    found.append(f"{where}.{key}: missing from the record, recomputed {_short(b[key])}")
                elif key not in b:
                    found.append(f"{where}.{key}: recorded {_short(a[key])}, not produced by recomputation")
                else:
                    walk(a[key], b[key], f"{where}.{key}")
            return
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                found.append(f"{where}: recorded {len(a)} entries, recomputed {len(b)}")
                return
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}[{index}]")
            return
        both_numbers = isinstance(a, int | float) and isinstance(b, int | float)
        if both_numbers and not isinstance(a, bool) and not isinstance(b, bool):
            if abs(float(a) - float(b)) > 1e-6:
                found.append(f"{where}: recorded {a}, recomputed {b}")
            return
        if a != b:
            found.append(f"{where}: recorded {_short(a)}, recomputed {_short(b)}")

    walk(recorded, recomputed, path)
    return found


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_decisions(events: Sequence[Event]) -> tuple[int, list[tuple[int, str]]]:
    """Recompute every ``decision.made`` from the events before it; (decisions checked, [(seq, difference)])."""
    state = State()
    checked = 0
    problems: list[tuple[int, str]] = []
    previous: Event | None = None
    for event in events:
        if event.kind == "decision.made":
            checked += 1
            record = event.payload.get("record", {})
            stage = str(event.payload.get("stage"))
            expected_head = previous.hash if previous else None
            if record.get("head_seq") != event.seq - 1:
                problems.append(
                    (
                        event.seq,
                        f"decision for {stage} names head_seq {record.get('head_seq')} but follows seq {event.seq - 1}",
                    )
                )
            if record.get("head") != expected_head:
                problems.append(
                    (
                        event.seq,
                        f"decision for {stage} names head {str(record.get('head'))[:16]}… but "
                        f"the event before it hashes to {str(expected_head)[:16]}…",
                    )
                )
            try:
                recomputed = compute_decision(
                    state,
                    stage,
                    seed=int(record["seed"]),
                    decided_at=str(record["decided_at"]),
                    head=str(record.get("head")),
                    head_seq=int(record.get("head_seq", 0)),
                )
            except (KeyError, ValueError, TypeError) as error:
                problems.append((event.seq, f"decision for {stage} cannot be recomputed: {error}"))
            else:
                if "engine" not in record:  # written by the first engine: compare in its shape
                    recomputed = as_first_engine(recomputed, state.require_spec().stage(stage))
                for difference in differences(record, recomputed):
                    problems.append((event.seq, f"decision for {stage} differs from its recomputation: {difference}"))
        try:
            apply(state, event)
        except (KeyError, ValueError, TypeError) as error:
            problems.append((event.seq, f"event '{event.kind}' cannot be read: {error}"))
        previous = event
    return checked, problems


# --- commitments ---------------------------------------------------------------------------------


def _sealed_in(entries: Any) -> list[Any]:
    """The commitments of the sealed entries of a list of objects (a release plan's repos, gate evidence)."""
    found: list[Any] = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            sealed = entry.get("sealed")
            found.append(sealed.get("commitment") if isinstance(sealed, dict) else entry.get("commitment"))
    return found


def _labelled_in(names: Any, prefixed: bool = False) -> list[Any]:
    """The commitments of the sealed labels in a list of names ("type:label" where ``prefixed``)."""
    found: list[Any] = []
    for name in names if isinstance(names, list) else []:
        sealed = Sealed.from_label(str(name).partition(":")[2] if prefixed else name)
        if sealed is not None:
            found.append(sealed.commitment)
    return found


# The kinds of event that can commit to a repo (``commitments_in``); battles are committed to elsewhere.
REPO_MENTION_KINDS = frozenset(
    {"submission.made", "gate.checked", "team.entered", "release_plan.filed", RELEASE_ACTION}
)


def commitments_in(event: Event) -> list[str]:
    """The commitments an event makes: a sealed battle, a sealed submission, sealed gate references, and
    private repos a team names (target models, release plans, release actions)."""
    payload = event.payload
    found: list[Any] = []
    if event.kind == "battle.created":
        found.append(payload.get("commitment"))
    elif event.kind == "submission.made":
        found.append((payload.get("sealed") or {}).get("commitment"))
    elif event.kind == "gate.checked":
        evidence = payload.get("evidence") or {}
        found += _sealed_in([*(evidence.get("flags") or []), *(evidence.get("declared_checks") or [])])
    elif event.kind in ("team.entered", "release_plan.filed"):
        found += _labelled_in(payload.get("target_models"))
        plan = payload.get("release_plan" if event.kind == "team.entered" else "plan")
        found += _sealed_in(plan.get("repos") if isinstance(plan, dict) else None)
    elif event.kind == RELEASE_ACTION:
        detail = payload.get("detail")
        repos = detail.get("repos") if isinstance(detail, dict) else None
        found += _labelled_in([payload.get("repo"), *(repos if isinstance(repos, list) else [])], True)
    return [value for value in found if is_commitment(value)]


@dataclass
class CommitmentCheck:
    total: int = 0  # distinct commitments in the ledger
    opened: int = 0  # of which an opening (in the ledger or given beside it) matches
    unused: int = 0  # openings given beside the ledger that open nothing in it (e.g. a later part of the chain)
    problems: list[tuple[int | None, str]] = field(default_factory=list)


def check_commitments(events: Sequence[Event], openings: Sequence[dict[str, Any]] = ()) -> CommitmentCheck:
    """Check every opening against the commitment it opens, and that each stage's battles were
    opened before its decision (voting closes with their reveal).

    ``openings`` are openings given beside the ledger (an operator's file for repos still private):
    each is checked like a revealed one; one that opens nothing in this ledger is reported.
    """
    check = CommitmentCheck()
    committed: set[str] = set()
    opened: set[str] = set()
    battles: dict[str, list[str]] = {}  # stage -> battle commitments
    for event in events:
        if event.kind == REVEALED:
            for opening in event.payload.get("openings") or []:
                _check_opening(opening, committed, opened, check, event.seq, "")
            continue
        for value in commitments_in(event):
            committed.add(value)
            if event.kind == "battle.created":
                battles.setdefault(str(event.payload.get("stage")), []).append(value)
        if event.kind == "decision.made":
            stage = str(event.payload.get("stage"))
            sealed = [value for value in battles.get(stage, []) if value not in opened]
            if sealed:
                check.problems.append(
                    (
                        event.seq,
                        f"the decision of {stage} was made while {len(sealed)} of its battles were still sealed "
                        "(their openings must be revealed when voting closes, before the decision)",
                    )
                )
    for opening in openings:
        given = opening.get("commitment") if isinstance(opening, dict) else None
        if isinstance(given, str) and given not in committed:
            check.unused += 1
            continue
        _check_opening(opening, committed, opened, check, None, "the openings file: ")
    check.total = len(committed)
    check.opened = len(opened)
    return check


def _check_opening(
    opening: Any, committed: set[str], opened: set[str], check: CommitmentCheck, seq: int | None, where: str
) -> None:
    target = opening.get("commitment") if isinstance(opening, dict) else None
    if not isinstance(target, str) or not is_commitment(target):
        check.problems.append((seq, f"{where}an opening without a valid commitment"))
    elif target not in committed:
        check.problems.append((seq, f"{where}opening of {target[:16]}…, which no earlier event commits to"))
    elif not opens(target, opening.get("value"), opening.get("salt")):
        check.problems.append((seq, f"{where}the opening of {target[:16]}… does not match its commitment"))
    else:
        opened.add(target)
