"""Benchmark scores: evaluation results recorded against submissions and declared target models."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.models import Challenge, LedgerEntry
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _lock,
    _now,
    _require_open,
    _team,
    current_submission,
    participants,
    spec_of,
    stage_of,
)
from baton.challenge.service.sealed_names import public_model
from baton.challenge.spec import Stage
from baton.core.errors import BadRequestError


def _benchmark_tasks(stage: Stage) -> set[str]:
    return {task for criterion in stage.criteria if criterion.kind == "benchmark" for task in criterion.task_ids}


@dataclass(frozen=True)
class BenchmarkScore:
    """One evaluation result (``record_score``): ``model`` scored ``score`` ± ``stderr`` on ``task`` over ``n`` items.

    ``model`` is a team's submission ("repo@commit", or its sealed label) or a declared target model;
    ``source`` says where the score comes from (an evaluation run's metric and manifest, say);
    ``task_version`` the version of the task it was measured on (a criterion naming a version counts
    only scores measured on it).
    """

    task: str
    model: str
    score: float
    stderr: float = 0.0
    n: int | None = None
    source: dict[str, Any] | None = None
    task_version: str | None = None


def record_score(
    session: Session, slug: str, stage: str, result: BenchmarkScore, *, operator: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Record an evaluation result: ``model`` is a team's submission ("repo@commit") or a declared target model."""
    task, model, score = result.task, result.model, result.score
    stderr, n, source = result.stderr, result.n, result.source
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    _require_open(session, challenge, stage, "scores")
    tasks = _benchmark_tasks(stage_spec)
    if task not in tasks:
        raise BadRequestError(
            f"Task '{task}' is not scored in {stage}",
            hint="Tasks of its benchmark criteria: " + ", ".join(sorted(tasks)),
        )
    try:
        value, error = float(score), float(stderr or 0.0)
    except (TypeError, ValueError):
        raise BadRequestError("score and stderr must be numbers") from None
    if not math.isfinite(value) or not math.isfinite(error) or error < 0:
        raise BadRequestError(f"score {score} ± {stderr} is not a finite score with a non-negative stderr")
    if n is not None and int(n) < 1:
        raise BadRequestError("n (the number of items scored) must be at least 1")
    # What the ledger may call each model: a sealed submission is scored under its sealed label,
    # whether the operator names it by its label or by its real 'repo@commit'; a target model under
    # the name team.entered gave it (the decision looks its scores up by that name).
    known: dict[str, str] = {}
    declared = _declared_targets(session, challenge)
    teams = participants(session, challenge, spec, stage)
    for team_slug in teams:
        team = _team(session, challenge, team_slug)
        submission = current_submission(session, challenge, stage, team)
        if submission is not None:
            label = public_model(session, submission)
            known[label] = known[f"{submission.repo_name}@{submission.commit_oid}"] = label
        for target, shown in zip(team.target_models, declared.get(team_slug, team.target_models), strict=False):
            for name in (shown, shown.split("@", 1)[0]):
                known[name] = name
            # The repo part first: for an unpinned target it is the target itself, named in full below.
            known[target.split("@", 1)[0]] = shown.split("@", 1)[0]
            known[target] = shown
    if model not in known:
        raise BadRequestError(
            f"'{model}' is neither a submission nor a declared target model of a team in {stage}",
            hint="Score a submitted revision as 'namespace/name@<commit oid>' or a team's declared target model.",
        )
    payload = {
        "stage": stage,
        "task": task,
        "model": known[model],
        "score": value,
        "stderr": error,
        "n": None if n is None else int(n),
        "source": source or {},
        "operator": operator.name,
    }
    if result.task_version is not None:
        payload["task_version"] = _task_version(result.task_version)
    _append(session, challenge, "score.recorded", payload, moment)
    return payload


def _task_version(value: Any) -> str:
    text = str(value).strip()
    if not text or len(text) > 50:
        raise BadRequestError(
            f"task version '{value}' is not a version", hint="Give the task's version as its YAML names it, e.g. 1.0."
        )
    return text


def _declared_targets(session: Session, challenge: Challenge) -> dict[str, list[str]]:
    """Each team's target models as its ``team.entered`` event names them (in the order of ``Team.target_models``)."""
    import json

    found: dict[str, list[str]] = {}
    for text in session.scalars(
        select(LedgerEntry.payload).where(LedgerEntry.challenge_id == challenge.id, LedgerEntry.kind == "team.entered")
    ):
        payload = json.loads(text)
        found[str(payload["team"])] = [str(target) for target in payload.get("target_models") or []]
    return found


def record_evaluation(
    session: Session,
    slug: str,
    stage: str,
    result: dict[str, Any],
    *,
    model: str,
    operator: Actor,
    metric: str | None = None,
    task: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record an evaluation run's result (``baton.evaluation.runner.RunResult.to_json()``) as a benchmark score.

    The score is the ``metric`` (default: the run's first metric) with its stderr and count; the run's
    manifest (task version, backend, data hashes) is kept in the ledger beside it.
    """
    metrics = result.get("metrics") if isinstance(result, dict) else None
    if not isinstance(metrics, dict) or not metrics:
        raise BadRequestError("The evaluation result has no metrics", hint="Pass the run's result JSON (RunResult).")
    name = metric or next(iter(metrics))
    entry = metrics.get(name)
    if not isinstance(entry, dict) or entry.get("value") is None:
        raise BadRequestError(
            f"The evaluation result has no value for metric '{name}'", hint="Metrics: " + ", ".join(sorted(metrics))
        )
    score = BenchmarkScore(
        task=task or str(result.get("task")),
        model=model,
        score=entry["value"],
        stderr=entry.get("stderr") or 0.0,
        n=entry.get("count"),
        source={"metric": name, "manifest": result.get("manifest") or {}},
        task_version=_manifest_version(result.get("manifest")),
    )
    return record_score(session, slug, stage, score, operator=operator, now=now)


def _manifest_version(manifest: Any) -> str | None:
    """The task version an evaluation run's manifest names (``manifest.task.version``), if any."""
    task = manifest.get("task") if isinstance(manifest, dict) else None
    version = task.get("version") if isinstance(task, dict) else None
    return None if version is None else str(version)
