"""Gates: the independence check from provenance reports, and operators' overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge.errors import NotInStageError
from baton.challenge.models import Challenge, GateResult, Team
from baton.challenge.service._common import (
    OPERATOR_ACTION,
    _append,
    _latest_decision,
    _lock,
    _now,
    _require_in_stage,
    _require_open,
    _team,
    current_submission,
    get_challenge,
    participants,
    spec_of,
    stage_of,
)
from baton.challenge.service.sealed_names import ChallengeNames, public_model
from baton.challenge.spec import Gate
from baton.core.errors import BadRequestError, NotFoundError, RepoNotFoundError


def _gate_outcome(gate_policy: Any, summary: dict[str, Any]) -> tuple[str, str]:
    """(outcome, reason) for an independence gate from a provenance summary."""

    def policy(value: str) -> str:
        return "inconclusive" if value == "operator" else value

    flags = summary.get("flags") or []
    copied = [f for f in flags if f.get("verdict") == "copied" or f.get("relation") == "copied_component"]
    if copied:
        return policy(gate_policy.on_copied), "; ".join(str(f.get("message")) for f in copied)
    derived = [f for f in flags if f.get("verdict") == "derived"]
    if derived:
        return policy(gate_policy.on_undeclared_derivation), "; ".join(str(f.get("message")) for f in derived)
    unclear = [f for f in flags if f.get("verdict") == "inconclusive"]
    unconfirmed = [c for c in summary.get("declared_checks") or [] if not c.get("confirmed")]
    if unclear or unconfirmed:
        messages = [str(item.get("message")) for item in [*unclear, *unconfirmed]]
        return policy(gate_policy.on_inconclusive), "; ".join(messages)
    if not summary.get("compared"):
        return (
            "inconclusive",
            "no provenance comparison of this revision yet (not scanned, or no comparable model in the hub)",
        )
    return "pass", f"independent of the {summary.get('compared')} model(s) compared"


def _condensed(summary: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "reference",
        "commitment",
        "verdict",
        "relation",
        "p_value",
        "message",
        "report_id",
        "declared",
        "confirmed",
    )
    return {
        "status": summary.get("status"),
        "compared": summary.get("compared"),
        "flags": [{k: f.get(k) for k in keep if k in f} for f in summary.get("flags") or []],
        "declared_checks": [{k: c.get(k) for k in keep if k in c} for c in summary.get("declared_checks") or []],
        "declared_not_in_hub": list(summary.get("declared_not_in_hub") or []),
    }


def _public_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Gate evidence as the public ledger carries it: without provenance report ids.

    A report id is server-wide: beside a sealed reference it would link this challenge's pseudonym
    to the report's own (and to other challenges' pseudonyms of the same repo). Operators keep the
    ids in the gate results (``GateResult.evidence``, the operators' gate routes).
    """
    return evidence | {
        key: [{k: v for k, v in entry.items() if k != "report_id"} for entry in evidence.get(key) or []]
        for key in ("flags", "declared_checks")
    }


def _gate_target(
    session: Session, slug: str, stage: str, team: str, gate: str, what: str
) -> tuple[Challenge, Gate, Team]:
    """Lock the challenge and find the stage's gate and the team, which must compete in the open stage."""
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    try:
        gate_spec = stage_spec.gate(gate)
    except KeyError:
        raise NotFoundError(f"{stage} has no gate '{gate}'") from None
    row = _team(session, challenge, team)
    _require_in_stage(session, challenge, spec, stage_spec, row)
    _require_open(session, challenge, stage, what)
    return challenge, gate_spec, row


def check_gate(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    operator: Actor,
    gate: str = "independence",
    now: datetime | None = None,
) -> GateResult:
    """Read the provenance reports of the team's submission and record the gate's outcome."""
    from baton.hub.models import Repo
    from baton.provenance import service as provenance

    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge, gate_spec, row = _gate_target(session, slug, stage, team, gate, "gate results")
    submission = current_submission(session, challenge, stage, row)
    if submission is None or submission.repo_pk is None:
        raise NotInStageError(f"Team '{team}' has no submission in {stage} to check", hint="The team submits first.")
    repo = session.get(Repo, submission.repo_pk)
    if repo is None:
        raise RepoNotFoundError(f"The submitted repo {submission.repo_name} no longer exists")
    # Private references (another team's model, say) stay candidates, but the public record names them sealed.
    summary = provenance.summarize(session, repo, submission.commit_oid, ChallengeNames(session, challenge))
    outcome, reason = _gate_outcome(gate_spec, summary)
    evidence = _condensed(summary)
    result = GateResult(
        challenge_id=challenge.id,
        stage=stage,
        gate=gate,
        team_id=row.id,
        outcome=outcome,
        source="provenance",
        reason=reason,
        evidence=evidence,
        recorded_at=moment,
    )
    session.add(result)
    session.flush()
    _append(
        session,
        challenge,
        "gate.checked",
        {
            "stage": stage,
            "gate": gate,
            "team": team,
            "model": public_model(session, submission),
            "outcome": outcome,
            "reason": reason,
            "evidence": _public_evidence(evidence),
            "operator": operator.name,
        },
        moment,
    )
    return result


def override_gate(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    outcome: str,
    reason: str,
    operator: Actor,
    gate: str = "independence",
    now: datetime | None = None,
) -> GateResult:
    """An operator's ruling on a gate, with a written reason; the provenance result stays in the record beside it."""
    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    if outcome not in ("pass", "fail"):
        raise BadRequestError(f"An override decides 'pass' or 'fail', not '{outcome}'")
    if len((reason or "").strip()) < 10:
        raise BadRequestError(
            "An override needs a written reason",
            hint="Explain the ruling in a sentence or more (it is published with the decision).",
        )
    challenge, _gate_spec, row = _gate_target(session, slug, stage, team, gate, "gate rulings")
    previous = _latest_gate(session, challenge, stage, gate, row)
    result = GateResult(
        challenge_id=challenge.id,
        stage=stage,
        gate=gate,
        team_id=row.id,
        outcome=outcome,
        source="override",
        reason=reason.strip(),
        evidence={"checked": None if previous is None else previous.outcome},
        operator=operator.name,
        recorded_at=moment,
    )
    session.add(result)
    session.flush()
    _append(
        session,
        challenge,
        "gate.overridden",
        {
            "stage": stage,
            "gate": gate,
            "team": team,
            "outcome": outcome,
            "reason": reason.strip(),
            "operator": operator.name,
            "checked": None if previous is None else previous.outcome,
        },
        moment,
    )
    return result


def _latest_gate(session: Session, challenge: Challenge, stage: str, gate: str, team: Team) -> GateResult | None:
    return session.scalar(
        select(GateResult)
        .where(
            GateResult.challenge_id == challenge.id,
            GateResult.stage == stage,
            GateResult.gate == gate,
            GateResult.team_id == team.id,
        )
        .order_by(GateResult.id.desc())
    )


def gate_standing(session: Session, challenge: Challenge, stage: str, gate: str, team: Team) -> GateResult | None:
    """An override if there is one (the latest), else the latest check."""
    override = session.scalar(
        select(GateResult)
        .where(
            GateResult.challenge_id == challenge.id,
            GateResult.stage == stage,
            GateResult.gate == gate,
            GateResult.team_id == team.id,
            GateResult.source == "override",
        )
        .order_by(GateResult.id.desc())
    )
    return override or _latest_gate(session, challenge, stage, gate, team)


def gate_queue(session: Session, slug: str) -> list[tuple[Team, GateResult]]:
    """Inconclusive gate checks no operator has ruled on yet."""
    challenge = get_challenge(session, slug)
    spec = spec_of(challenge)
    queue = []
    for stage in spec.stages:
        if _latest_decision(session, challenge, stage.id) is not None:
            continue
        for team_slug in participants(session, challenge, spec, stage.id):
            team = _team(session, challenge, team_slug)
            for gate in stage.gates:
                standing = gate_standing(session, challenge, stage.id, gate.id, team)
                if standing is not None and standing.outcome == "inconclusive":
                    queue.append((team, standing))
    return queue
