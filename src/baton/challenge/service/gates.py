"""Gates: checks by kind (independence from provenance reports, license and documents at the pinned
commit; thresholds are computed in the decision), and operators' overrides."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
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
from baton.challenge.spec import AnyGate, DocumentsGate, Gate, LicenseGate, ThresholdGate
from baton.core.blobs import BlobStore
from baton.core.errors import BadRequestError, BatonError, NotFoundError, RepoNotFoundError


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
        if key in evidence
    }


def _gate_target(
    session: Session, slug: str, stage: str, team: str, gate: str, what: str
) -> tuple[Challenge, AnyGate, Team]:
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
    store: BlobStore | None = None,
) -> GateResult:
    """Check the team's submission against one gate and record the outcome (``gate.checked``).

    By the gate's kind: ``independence`` reads the provenance reports of the submitted revision,
    ``license`` its model card and ``documents`` its files at the pinned commit (these two need the
    hub's ``store``). A ``threshold`` gate is not checked: the decision computes it.
    """
    from baton.hub.models import Repo

    operator.require_operator(OPERATOR_ACTION)
    moment = _now(now)
    challenge, gate_spec, row = _gate_target(session, slug, stage, team, gate, "gate results")
    if isinstance(gate_spec, ThresholdGate):
        raise BadRequestError(
            f"Gate '{gate}' is a threshold on {gate_spec.criterion}: the decision computes it, there is nothing "
            "to check",
            hint=f"Decide the stage (baton challenge decide {slug} {stage} --as OPERATOR); an operator may rule "
            f"first with baton challenge override {slug} {stage} {team} --gate {gate} --outcome pass --reason TEXT "
            "--as OPERATOR.",
        )
    submission = current_submission(session, challenge, stage, row)
    if submission is None or submission.repo_pk is None:
        raise NotInStageError(f"Team '{team}' has no submission in {stage} to check", hint="The team submits first.")
    repo = session.get(Repo, submission.repo_pk)
    if repo is None:
        raise RepoNotFoundError(f"The submitted repo {submission.repo_name} no longer exists")
    if isinstance(gate_spec, LicenseGate | DocumentsGate):
        found = _repo_gate(session, gate_spec, repo, submission.commit_oid, store)
        source = "repo"
    else:
        found = _independence(session, challenge, gate_spec, row, repo, submission.commit_oid)
        source = "provenance"
    result = GateResult(
        challenge_id=challenge.id,
        stage=stage,
        gate=gate,
        team_id=row.id,
        outcome=found.outcome,
        source=source,
        reason=found.reason,
        evidence=found.evidence | {"summary": found.summary},
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
            "kind": gate_spec.kind,
            "source": source,
            "team": team,
            "model": public_model(session, submission),
            "outcome": found.outcome,
            "reason": found.reason,
            "evidence": _public_evidence(found.evidence),
            "summary": found.summary,
            "operator": operator.name,
        },
        moment,
    )
    return result


@dataclass(frozen=True)
class GateCheck:
    """One gate of one team in ``check_gates``: the recorded result, or why nothing was recorded."""

    team: str
    gate: str
    kind: str
    result: GateResult | None
    outcome: str  # pass, fail, inconclusive; "decision" for a threshold; "skipped" when nothing could be checked
    reason: str


def check_gates(
    session: Session,
    slug: str,
    stage: str,
    *,
    operator: Actor,
    team: str | None = None,
    gate: str | None = None,
    now: datetime | None = None,
    store: BlobStore | None = None,
) -> list[GateCheck]:
    """Check every gate of a stage (or ``gate``) for every competing team (or ``team``), in order.

    Threshold gates are listed as computed by the decision; a team without a submission is listed as
    skipped. Every other check is recorded as ``check_gate`` records it."""
    operator.require_operator(OPERATOR_ACTION)
    challenge = get_challenge(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    gates = list(stage_spec.gates)
    if gate is not None:
        try:
            gates = [stage_spec.gate(gate)]
        except KeyError:
            known = ", ".join(g.id for g in stage_spec.gates) or "none"
            raise NotFoundError(f"{stage} has no gate '{gate}' (its gates: {known})") from None
    teams = participants(session, challenge, spec, stage)
    if team is not None:
        if team not in teams:
            raise NotInStageError(f"Team '{team}' does not compete in {stage}")
        teams = [team]
    checks: list[GateCheck] = []
    for team_slug in teams:
        row = _team(session, challenge, team_slug)
        for gate_spec in gates:
            if isinstance(gate_spec, ThresholdGate):
                minimum = gate_spec.min_value if gate_spec.min_value is not None else gate_spec.min_points
                what = "value" if gate_spec.min_value is not None else "points"
                checks.append(
                    GateCheck(
                        team_slug,
                        gate_spec.id,
                        gate_spec.kind,
                        None,
                        "decision",
                        f"computed when the stage is decided: {gate_spec.criterion} {what} at least {minimum:g}",
                    )
                )
                continue
            if current_submission(session, challenge, stage, row) is None:
                checks.append(GateCheck(team_slug, gate_spec.id, gate_spec.kind, None, "skipped", "no submission yet"))
                continue
            result = check_gate(
                session, slug, stage, team_slug, operator=operator, gate=gate_spec.id, now=now, store=store
            )
            checks.append(GateCheck(team_slug, gate_spec.id, gate_spec.kind, result, result.outcome, result.reason))
    return checks


# --- what each kind of check finds ---------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    outcome: str
    reason: str
    evidence: dict[str, Any]  # kept by operators (GateResult.evidence); the ledger gets _public_evidence of it
    summary: Any  # public, short: what a decision record and a report show


def _policy(value: str) -> str:
    return "inconclusive" if value == "operator" else value


def _independence(session: Session, challenge: Challenge, gate: Gate, team: Team, repo: Any, commit_oid: str) -> _Found:
    from baton.provenance import service as provenance

    # Private references (another team's model, say) stay candidates, but the public record names them sealed.
    shown = provenance.summarize(session, repo, commit_oid, ChallengeNames(session, challenge))
    evidence = _condensed(shown)
    if gate.policy == "from_scratch":
        real = provenance.summarize(session, repo, commit_oid)
        outcome, reason, summary = _from_scratch(session, gate, team, real, shown)
        return _Found(outcome, reason, evidence, summary)
    outcome, reason = _gate_outcome(gate, shown)
    summary = [_reference_summary(session, entry, entry) for entry in _references(shown)]
    return _Found(outcome, reason, evidence, summary)


def _references(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(summary.get("declared_checks") or []), *(summary.get("flags") or [])]


def _reused_components(session: Session, report_id: Any) -> list[dict[str, Any]]:
    """The components of the subject a stored report finds derived or copied, with their kind."""
    from baton.provenance.models import ProvenanceReport

    report = session.get(ProvenanceReport, report_id) if isinstance(report_id, int) else None
    components = (report.report or {}).get("components") if report is not None else None
    return [
        {
            "name": str(component.get("name")),
            "kind": component_kind(str(component.get("name"))),
            "status": component.get("status"),
            "p_value": component.get("p_value"),
        }
        for component in components or []
        if isinstance(component, dict) and component.get("status") in ("derived", "copied")
    ]


def _reference_summary(session: Session, real: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """One reference as a decision record shows it: named as the public ledger names it, no report id."""
    entry = {
        "reference": shown.get("reference"),
        "verdict": shown.get("verdict"),
        "relation": shown.get("relation"),
        "p_value": shown.get("p_value"),
        "declared": bool(shown.get("declared")),
        "components": _reused_components(session, real.get("report_id")),
    }
    if "commitment" in shown:
        entry["commitment"] = shown["commitment"]
    return entry


def _owner(name: str) -> str:
    return name.split("@", 1)[0].split("/", 1)[0]


def _from_scratch(
    session: Session, gate: Gate, team: Team, real: dict[str, Any], shown: dict[str, Any]
) -> tuple[str, str, list[dict[str, Any]]]:
    """A from-scratch gate: any reuse of a foreign model's weights, declared or not, is not allowed unless the
    base or every reused component's kind is on the allowlist. The team's own repos (its organizations and
    members) are not foreign. Reasons name private references by their pseudonyms only."""
    own = {*team.organizations, *team.members}
    allowed_kinds = set(gate.allow.components)
    shown_by_report = {entry.get("report_id"): entry for entry in _references(shown)}
    summary: list[dict[str, Any]] = []
    violations: list[str] = []
    unclear: list[str] = []
    for entry in _references(real):
        public = shown_by_report.get(entry.get("report_id"), entry)
        item = _reference_summary(session, entry, public)
        name = str(entry.get("reference")).split("@", 1)[0]
        label = str(public.get("reference")).split("@", 1)[0] if "commitment" in public else name
        reused: list[dict[str, Any]] = item["components"]
        claims = bool(entry.get("declared")) or entry.get("verdict") in ("derived", "copied") or bool(reused)
        if not claims:
            if entry.get("verdict") == "inconclusive":
                unclear.append(f"inconclusive against {label}")
                item["allowed"] = None
                summary.append(item)
            continue
        item["allowed"], item["why"] = _allowance(gate, own, allowed_kinds, name, reused)
        for component in item["components"]:
            component["allowed"] = item["allowed"] or component["kind"] in allowed_kinds
        summary.append(item)
        if not item["allowed"]:
            violations.append(_reuse_text(label, entry, reused, allowed_kinds))
    for name, label in zip(real.get("declared_not_in_hub") or [], shown.get("declared_not_in_hub") or [], strict=False):
        allowed, why = _allowance(gate, own, allowed_kinds, str(name), [])
        summary.append(
            {"reference": label, "verdict": None, "declared": True, "components": [], "allowed": allowed, "why": why}
        )
        if not allowed:
            violations.append(f"declares {label} as its base (not in the hub to compare; the card says it is reused)")
    allowance = _allow_text(gate)
    if violations:
        return (
            _policy(gate.on_reuse),
            "reuses a foreign model's weights, not allowed from scratch: " + "; ".join(violations) + f" ({allowance})",
            summary,
        )
    if unclear:
        return _policy(gate.on_inconclusive), "; ".join(unclear) + ": an operator should look", summary
    if not real.get("compared"):
        return (
            "inconclusive",
            "no provenance comparison of this revision yet (not scanned, or no comparable model in the hub)",
            summary,
        )
    kept = [f"{item['reference']} ({item['why']})" for item in summary if item.get("allowed")]
    return (
        "pass",
        f"no disallowed reuse among the {real.get('compared')} model(s) compared"
        + (f"; allowed: {', '.join(kept)}" if kept else ""),
        summary,
    )


def _allowance(gate: Gate, own: set[str], kinds: set[str], name: str, reused: list[dict[str, Any]]) -> tuple[bool, str]:
    if _owner(name) in own:
        return True, "the team's own model"
    if name in gate.allow.bases:
        return True, "an allowed base"
    if reused and all(component["kind"] in kinds for component in reused):
        return True, "only allowed components: " + ", ".join(sorted({c["kind"] for c in reused}))
    return False, "not allowed"


def _reuse_text(label: str, entry: dict[str, Any], reused: list[dict[str, Any]], kinds: set[str]) -> str:
    how = ("declared base, " if entry.get("declared") else "") + str(entry.get("relation") or entry.get("verdict"))
    barred = [f"{c['name']} ({c['kind']}, {c['status']})" for c in reused if c["kind"] not in kinds]
    if barred:
        shown = ", ".join(barred[:6]) + (f" and {len(barred) - 6} more" if len(barred) > 6 else "")
        return f"{label} ({how}): {shown}"
    if entry.get("verdict") not in ("derived", "copied"):
        return f"{label} (declared as its base; its weights do not confirm it, but the card says it is reused)"
    return f"{label} ({how}, the whole model)"


def _allow_text(gate: Gate) -> str:
    parts = []
    if gate.allow.bases:
        parts.append("bases " + ", ".join(gate.allow.bases))
    if gate.allow.components:
        parts.append("components " + ", ".join(gate.allow.components))
    return "allowed: " + ("; ".join(parts) if parts else "nothing")


def component_kind(name: str) -> str:
    """The kind of a component, from its module prefix as the provenance engine names it (``allow.components``):
    embeddings, lm_head, final_norm, blocks, encoder (a vision or audio tower), projector, or other."""
    from baton.provenance import layout

    segments = name.lower().split(".")
    if any("projector" in part or part.startswith("mm_proj") for part in segments):
        return "projector"
    if any(word in part for part in segments for word in layout.TOWER_WORDS):
        return "encoder"
    if any(part in layout.STACK_SEGMENTS and nxt.isdigit() for part, nxt in itertools.pairwise(segments)):
        return "blocks"
    last = segments[-1]
    if last in layout.TOKEN_EMBEDDING_MODULES or last in layout.POSITION_EMBEDDING_MODULES:
        return "embeddings"
    if last in layout.LM_HEAD_MODULES:
        return "lm_head"
    if last in layout.FINAL_NORM_MODULES:
        return "final_norm"
    return "other"


README = "README.md"
LICENSE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt")
CARD_READ_BYTES = 1 << 20


def _repo_gate(
    session: Session, gate: LicenseGate | DocumentsGate, repo: Any, commit_oid: str, store: BlobStore | None
) -> _Found:
    from baton.hub import commits

    commit = commits.resolve_revision(session, repo, commit_oid)
    files = {entry.path: entry for entry in commits.tree_entries(session, commit.tree_id)}
    if isinstance(gate, DocumentsGate):
        return _documents(gate, files)
    if store is None:
        raise BadRequestError(
            f"Gate '{gate.id}' reads the model card at the pinned commit, which needs the hub's storage",
            hint="Check it where the hub runs: baton challenge check-gates CHALLENGE --stage STAGE --gate "
            f"{gate.id} --as OPERATOR.",
        )
    return _license(gate, files, store)


def _documents(gate: DocumentsGate, files: dict[str, Any]) -> _Found:
    summary: list[dict[str, Any]] = []
    problems: list[str] = []
    for required in gate.required:
        entry = files.get(required.path)
        title = required.title or required.path
        item: dict[str, Any] = {"path": required.path, "title": required.title, "min_bytes": required.min_bytes}
        if entry is None:
            item |= {"present": False, "bytes": None, "sha256": None, "ok": False}
            problems.append(f"{title} ({required.path}) is missing")
        else:
            ok = int(entry.size) >= required.min_bytes
            item |= {"present": True, "bytes": int(entry.size), "sha256": entry.sha256, "ok": ok}
            if not ok:
                problems.append(
                    f"{title} ({required.path}) has {entry.size} bytes, fewer than the {required.min_bytes} required"
                    if entry.size
                    else f"{title} ({required.path}) is empty"
                )
        summary.append(item)
    evidence = {"documents": summary}
    if problems:
        return _Found(_policy(gate.on_fail), "; ".join(problems), evidence, summary)
    return _Found("pass", f"all {len(summary)} required document(s) present", evidence, summary)


def _license(gate: LicenseGate, files: dict[str, Any], store: BlobStore) -> _Found:
    from baton.hub import cards

    license_file = next((files[path] for path in LICENSE_FILES if path in files), None)
    summary: dict[str, Any] = {
        "license": None,
        "license_name": None,
        "allowed": list(gate.allowed),
        "card": README in files,
        "license_file": None
        if license_file is None
        else {"path": license_file.path, "bytes": int(license_file.size), "sha256": license_file.sha256},
    }
    entry = files.get(README)
    problem = ""
    if entry is None:
        problem = "the revision has no model card (README.md), so it declares no license"
    else:
        size = min(int(entry.size), CARD_READ_BYTES)
        raw = b"".join(store.open_range(entry.sha256, 0, size - 1)) if size else b""
        try:
            card = cards.parse_card(raw.decode("utf-8", errors="replace"))
        except BatonError as error:
            problem = f"the model card's metadata cannot be read: {error}"
        else:
            summary["license"] = card.license
            summary["license_name"] = card.license_name
            declared = (card.license or "").strip().lower()
            named = (card.license_name or "").strip().lower()
            if not declared:
                problem = "the model card declares no license (add `license:` to its metadata)"
            elif declared in gate.allowed or (declared == "other" and named and named in gate.allowed):
                shown = declared if declared != "other" else f"other ({named})"
                return _Found("pass", f"license {shown} is allowed", {"license": summary}, summary)
            else:
                shown = declared if declared != "other" else f"other ({named or 'unnamed'})"
                problem = f"license {shown} is not allowed (allowed: {', '.join(gate.allowed)})"
    return _Found(_policy(gate.on_fail), problem, {"license": summary}, summary)


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
