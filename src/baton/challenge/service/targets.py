"""Declared target models' scores entered by an operator, with the source they are cited from.

A ``ratio_to_target`` benchmark compares each team with its own declared target model. The target's
score on a task comes from one of two places, both recorded in the ledger:

- **measured**: an evaluation of the target model on the same task (and version), recorded like any
  benchmark score (``score.recorded`` for the target model; ``scores.record_score``/``record_evaluation``);
- **entered**: a score an operator enters with a cited source (a URL or a document reference), for a
  target that cannot be run here (a closed model, a published result): ``target_score.recorded``.

Which one counts is the task's ``target_source`` in the spec (``measured``, ``entered``, or ``either``,
the default: the measured score when there is one, else the entered one); see ``recompute.target_score``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.errors import NotInStageError
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _lock,
    _now,
    _require_open,
    _team,
    participants,
    spec_of,
    stage_of,
)
from baton.challenge.service.scores import _declared_targets
from baton.challenge.spec import BenchmarkTask, Stage
from baton.core.errors import BadRequestError

TARGET_SCORE = "target_score.recorded"
SOURCE_MAX = 2000


@dataclass(frozen=True)
class TargetScoreEntry:
    """An operator's entry: ``team``'s declared target model scored ``score`` (± ``stderr``) on ``task``,
    as ``source`` reports (a URL or a document reference: required). ``model`` picks one of the team's
    declared target models (default: the first); ``task_version`` is the task version the cited score
    was measured on (required when the spec names one, and must be that one)."""

    team: str
    task: str
    score: float
    source: str
    stderr: float | None = None
    task_version: str | None = None
    model: str | None = None


def _ratio_tasks(stage: Stage) -> dict[str, list[BenchmarkTask]]:
    """The tasks of the stage's ratio_to_target criteria (a task id may appear in several)."""
    found: dict[str, list[BenchmarkTask]] = {}
    for criterion in stage.criteria:
        if criterion.kind == "benchmark" and criterion.normalization == "ratio_to_target":
            for task in criterion.tasks:
                found.setdefault(task.id, []).append(task)
    return found


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"{name} must be a number, not '{value}'") from None
    if not math.isfinite(number):
        raise BadRequestError(f"{name} must be a finite number, not {value}")
    return number


def record_target_score(
    session: Session,
    slug: str,
    stage: str,
    entry: TargetScoreEntry,
    *,
    operator: Actor,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a declared target model's score entered by an operator (``target_score.recorded``).

    Refused: a non-operator, a stage whose decision is final, a task no ratio_to_target criterion of
    the stage scores (or only with ``target_source: measured``), a team not competing in the stage or
    without a declared target model, a model that is not one of its declared targets, a score or
    stderr that is not a finite number (stderr ≥ 0), a missing or empty source, and a task version
    other than the one the spec names.
    """
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    source = (entry.source or "").strip()
    if not source:
        raise BadRequestError(
            "An entered target score needs its source: where the score was published or measured",
            hint="Cite a URL or a document reference, e.g. baton challenge target-score SLUG --stage S --team T "
            "--task K --score X --source 'https://example.org/report.pdf, table 3'",
            code="TargetSourceMissing",
        )
    if len(source) > SOURCE_MAX:
        raise BadRequestError(f"The source citation is longer than {SOURCE_MAX} characters; cite it more briefly")
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    _require_open(session, challenge, stage, "target scores")
    tasks = _ratio_tasks(stage_spec)
    if entry.task not in tasks:
        raise BadRequestError(
            f"Task '{entry.task}' is not compared with target models in {stage}",
            hint="Tasks of its ratio_to_target criteria: " + (", ".join(sorted(tasks)) or "none"),
        )
    if all(task.target_source == "measured" for task in tasks[entry.task]):
        raise BadRequestError(
            f"Task '{entry.task}' counts measured target scores only in {stage} (target_source: measured)",
            hint="Record an evaluation of the target model on the task instead (POST .../scores with its model).",
        )
    named = sorted({task.version for task in tasks[entry.task] if task.version is not None})
    version = None if entry.task_version is None else str(entry.task_version).strip() or None
    if named and version not in named:
        raise BadRequestError(
            f"{stage} counts version {' or '.join(named)} of task '{entry.task}'"
            + (f", not version {version}" if version else "; the entry names no version"),
            hint="Enter a score measured on that version, with its task version (--task-version).",
        )
    if version is not None and len(version) > 50:
        raise BadRequestError("The task version is longer than 50 characters")
    score = _number(entry.score, "score")
    stderr = None if entry.stderr is None else _number(entry.stderr, "stderr")
    if stderr is not None and stderr < 0:
        raise BadRequestError(f"stderr must not be negative ({stderr})")
    team = _team(session, challenge, entry.team)
    if team.slug not in participants(session, challenge, spec, stage):
        raise NotInStageError(f"Team '{team.slug}' does not compete in {stage}")
    declared = _declared_targets(session, challenge).get(team.slug, list(team.target_models))
    if not declared:
        raise BadRequestError(
            f"Team '{team.slug}' declared no target model",
            hint="A team's target models are declared when it enters the challenge (target_models).",
        )
    # The target as the ledger names it (a private one by its sealed label), whichever name is given.
    names: dict[str, str] = {}
    for real, shown in zip(team.target_models, declared, strict=False):
        names[real] = names[shown] = shown
    model = declared[0] if entry.model is None else names.get(entry.model)
    if model is None:
        raise BadRequestError(
            f"'{entry.model}' is not a declared target model of {team.slug}",
            hint="Its declared target models: " + ", ".join(declared),
        )
    payload = {
        "stage": stage,
        "team": team.slug,
        "task": entry.task,
        "task_version": version,
        "target_model": model,
        "score": score,
        "stderr": stderr,
        "source": source,
        "operator": operator.name,
    }
    event = _append(session, challenge, TARGET_SCORE, payload, moment)
    return payload | {"seq": event.seq, "recorded_at": event.recorded_at}
