"""Release plan execution: what a team's outputs become when it leaves the challenge.

When a team's exit is final the challenge publishes ``TeamLeft`` (``baton.challenge.events``) in the
transaction that makes it final; ``run_release_plan`` handles it as a job. Each repo of the team's
release plan becomes a ``ReleaseItem`` and goes through the checks first, read outside any write
transaction (a personal-data scan reads whole files; uploads and commits do not wait for it):

- dataset files are scanned for personal data (``baton.commons.pii``); any finding holds the dataset;
- a model's license is checked against its bases' along the lineage (``baton.commons.licensing``);
  a conflict holds it.

A clear item is opened as planned (public, or gated), its card gets the planned license and the
commons tags, and a hub tag ``baton/<challenge>/<team>/<stage>`` marks the released revision. An item
with an embargo date waits for ``release_due``, which the worker or ``baton commons release-due`` runs.
Operators resolve held items (accept with a written reason, or mark cleaned after a new commit).
Every action lands in ``challenge_release_actions`` and, as a ``release.action`` event, in the
challenge's hash-chained ledger in the same transaction (kinds and counts of findings, never the data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.challenge.events import TeamLeft
from baton.commons.checks import (
    HeadMovedError,
    Prechecked,
    read_blob,
    run_checks,
)
from baton.commons.events import ItemReleased
from baton.commons.models import ReleaseAction, ReleaseFinding, ReleaseItem
from baton.core import clock, events
from baton.core.errors import BadRequestError, ConflictError, NotFoundError
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos
from baton.hub.events import CommitLanded
from baton.hub.models import Repo
from baton.provenance.events import ScanFinished

logger = logging.getLogger("baton.release")

ACCESS_MODES = ("public", "gated")
COMMONS_TAG = "baton-commons"


class ReleaseError(BadRequestError):
    code = "ReleaseError"


class ReleaseConflictError(ConflictError):
    code = "ReleaseConflict"


@dataclass(frozen=True)
class PlannedRepo:
    """One entry of a release plan, in the shape the executor needs."""

    repo_type: str
    repo_id: str  # "namespace/name"
    asset_kind: str = "model"
    access: str = "public"
    gated_mode: str | None = None  # "auto" or "manual" when access is gated
    license: str | None = None
    embargo_until: datetime | None = None

    def __post_init__(self) -> None:
        repos.parse_repo_id(self.repo_type, self.repo_id)  # a bad type or name is refused with the hub's message
        if self.access not in ACCESS_MODES:
            raise ReleaseError(
                f"Release access '{self.access}' for {self.repo_id} is unknown",
                hint="Use 'public' or 'gated'.",
            )
        if self.embargo_until is not None and self.embargo_until.tzinfo is None:
            raise ReleaseError(
                f"The embargo date of {self.repo_id} has no time zone",
                hint="Write it with its offset, e.g. 2026-06-01T00:00:00+09:00.",
            )


# --------------------------------------------------------------------------------------------- recording


def record(
    session: Session,
    item: ReleaseItem | None,
    action: str,
    actor: str,
    detail: dict[str, Any],
    *,
    challenge: str | None = None,
    team: str | None = None,
    now: datetime | None = None,
) -> ReleaseAction:
    """Append one action to the release record."""
    entry = ReleaseAction(
        item_id=item.id if item is not None else None,
        challenge=item.challenge if item is not None else (challenge or ""),
        team=item.team if item is not None else (team or ""),
        action=action,
        actor=actor,
        detail=detail,
        at=now or clock.now(),
    )
    session.add(entry)
    session.flush()
    _to_ledger(session, entry, item, now=entry.at)
    return entry


# Keys of an action's detail that go to the public ledger (the rest stays in the operators' table).
LEDGER_DETAIL_KEYS = frozenset(
    {
        "stage",
        "reason",
        "repos",
        "check",
        "commit",
        "findings",
        "until",
        "license",
        "access",
        "gated",
        "tag",
        "finding",
        "kind",
        "previous",
        "cleaned",
        "added",
    }
)


def _finding_summary(finding: ReleaseFinding) -> dict[str, Any]:
    """What the public ledger says about a finding: its kind and counts, never the data itself."""
    summary: dict[str, Any] = {"id": finding.id, "kind": finding.kind, "state": finding.state}
    detail = finding.detail or {}
    if finding.kind == "pii":
        summary.update(path=detail.get("path"), data=detail.get("kind"), count=detail.get("count"))
    elif finding.kind == "license":
        summary.update(
            license=detail.get("license"), effective=detail.get("effective"), conflicts=detail.get("conflicts", [])
        )
    return summary


def _to_ledger(session: Session, entry: ReleaseAction, item: ReleaseItem | None, *, now: datetime) -> None:
    """Append the action to its challenge's hash-chained ledger (a release outside a challenge has none)."""
    from baton.challenge import service

    if not service.has_challenge(session, entry.challenge):
        return
    detail = {key: value for key, value in (entry.detail or {}).items() if key in LEDGER_DETAIL_KEYS}
    if entry.action == "held" and item is not None:
        detail["findings"] = [_finding_summary(finding) for finding in _open_findings(session, item)]
    payload: dict[str, Any] = {
        "team": entry.team,
        "action": entry.action,
        "actor": entry.actor,
        "repo": f"{item.repo_type}:{item.repo_name}" if item is not None else None,
        "detail": detail,
    }
    # The service names a repo private at this moment by its sealed label, and opens its earlier
    # sealed mentions once this action finds it public (``repo_pk``).
    repo = _item_repo(session, item) if item is not None else None
    service.record_release_action(session, entry.challenge, payload, repo_pk=repo.id if repo else None, now=now)


# --------------------------------------------------------------------------------------------- execution


def _item_repo(session: Session, item: ReleaseItem) -> Repo | None:
    if item.repo_pk is not None:
        repo = session.get(Repo, item.repo_pk)
        if repo is not None:
            return repo
    namespace, _, name = item.repo_name.partition("/")
    return repos.find_repo(session, repos.RepoKey(item.repo_type, namespace, name))


def release_tag(item: ReleaseItem) -> str:
    return f"baton/{item.challenge}/{item.team}/{item.stage}"


def _open_findings(session: Session, item: ReleaseItem) -> list[ReleaseFinding]:
    return list(
        session.scalars(
            select(ReleaseFinding)
            .where(ReleaseFinding.item_id == item.id, ReleaseFinding.state == "open")
            .order_by(ReleaseFinding.id)
        )
    )


def _resolved_signatures(session: Session, item: ReleaseItem, kind: str) -> set[str]:
    """Findings an operator accepted stay accepted when the same finding comes back on a later scan."""
    rows = session.scalars(
        select(ReleaseFinding).where(
            ReleaseFinding.item_id == item.id, ReleaseFinding.kind == kind, ReleaseFinding.state == "accepted"
        )
    )
    return {_signature(row.kind, row.detail) for row in rows}


def _signature(kind: str, detail: dict[str, Any]) -> str:
    if kind == "pii":
        return f"pii|{detail.get('path')}|{detail.get('kind')}|{detail.get('count')}"
    return f"{kind}|{detail.get('license')}|{'/'.join(sorted(map(str, detail.get('conflicts', []))))}"


def _check_and_hold(
    session: Session,
    runtime: Runtime,
    item: ReleaseItem,
    repo: Repo,
    commit_oid: str,
    now: datetime,
    prechecked: Prechecked | None = None,
) -> list[ReleaseFinding]:
    """Run the checks on ``commit_oid``; new findings (not accepted before) are stored open."""
    item.checked_commit = commit_oid
    added: list[ReleaseFinding] = []
    for outcome in run_checks(session, runtime, item, repo, commit_oid, prechecked):
        if outcome.kind == "license":
            item.effective_license = outcome.effective_license
        accepted = _resolved_signatures(session, item, outcome.kind)
        for summary, detail in outcome.findings:
            if _signature(outcome.kind, detail) in accepted:
                continue
            finding = ReleaseFinding(
                item_id=item.id,
                kind=outcome.kind,
                commit_oid=commit_oid,
                summary=summary,
                detail=detail,
                created_at=now,
            )
            session.add(finding)
            added.append(finding)
        record(
            session,
            item,
            "checked",
            "baton",
            {"check": outcome.kind, "commit": commit_oid, "findings": len(outcome.findings), "notes": outcome.notes},
            now=now,
        )
    session.flush()
    return added


def _updated_card(runtime: Runtime, session: Session, repo: Repo, item: ReleaseItem, commit_oid: str) -> bytes | None:
    """README.md with the planned license and the commons tags, or None when it already has them."""
    commit = commits.resolve_revision(session, repo, commit_oid)
    entries = {entry.path: entry for entry in commits.tree_entries(session, commit.tree_id)}
    text = ""
    if "README.md" in entries:
        text = read_blob(runtime, entries["README.md"].sha256).decode("utf-8", errors="replace")
    yaml_text, body, _offset = cards.split_front_matter(text)
    data = dict(cards.parse_card(text).raw) if yaml_text is not None else {}
    if yaml_text is None:
        body = text or f"# {repo.name}\n\nReleased to the commons by team {item.team} of {item.challenge}.\n"
    changed = False
    if item.license and data.get("license") != item.license:
        data["license"] = item.license
        changed = True
    tags = data.get("tags")
    tags = [str(tag) for tag in tags] if isinstance(tags, list) else []
    for tag in (COMMONS_TAG, f"baton-challenge:{item.challenge}", f"baton-team:{item.team}"):
        if tag not in tags:
            tags.append(tag)
            changed = True
    data["tags"] = tags
    return cards.render_card(data, body).encode() if changed else None


def _release(session: Session, runtime: Runtime, item: ReleaseItem, repo: Repo, now: datetime) -> None:
    """Open the repo as planned: card (license, tags), visibility or gating, hub tag; all recorded."""
    owner = session.get(Account, repo.owner_id)
    assert owner is not None  # a repo's owner cascades with it
    key = repos.RepoKey(repo.repo_type, repo.namespace, repo.name)
    head = commits.resolve_revision(session, repo, None).oid
    card = _updated_card(runtime, session, repo, item, head)
    if card is not None:
        commit = commits.commit_files(
            session,
            runtime.store,
            runtime.settings,
            accounts.actor_for(owner),
            repo,
            {"README.md": card},
            title=f"Release to the commons ({item.challenge}, team {item.team}, stage {item.stage})",
        )
        head = commit.oid
        record(session, item, "card_updated", owner.name, {"commit": head, "license": item.license}, now=now)
    gated: str | bool = (item.gated_mode or "manual") if item.access == "gated" else False
    repos.update_settings(session, accounts.actor_for(owner), key, private=False, gated=gated)
    tag = release_tag(item)
    existing = commits.find_ref(session, repo, "tag", tag)
    if existing is None:
        commits.create_ref(
            session,
            repo,
            "tag",
            tag,
            head,
            message=f"Released by team {item.team} of {item.challenge} at stage {item.stage}",
        )
    elif existing.commit_oid != head:
        existing.commit_oid = head  # a later release of the same item moves its tag to what was released
    item.state = "released"
    item.released_commit = head
    item.released_at = now
    item.tag = tag
    session.flush()
    record(
        session,
        item,
        "released",
        "baton",
        {"commit": head, "access": item.access, "gated": gated or None, "tag": tag, "license": item.license},
        now=now,
    )
    events.publish(
        session,
        ItemReleased(
            repo_pk=repo.id,
            repo=f"{repo.namespace}/{repo.name}",
            repo_type=repo.repo_type,
            commit=head,
            challenge=item.challenge,
            team=item.team,
        ),
    )


def advance(
    session: Session, runtime: Runtime, item: ReleaseItem, now: datetime, prechecked: Prechecked | None = None
) -> ReleaseItem:
    """Move one item as far as its checks and embargo allow (idempotent for released items)."""
    if item.state == "released":
        return item
    repo = _item_repo(session, item)
    if repo is None:
        if not any(f.kind == "missing" for f in _open_findings(session, item)):
            session.add(
                ReleaseFinding(
                    item_id=item.id,
                    kind="missing",
                    commit_oid="",
                    summary=f"{item.repo_type} {item.repo_name} is not in the hub",
                    detail={"repo": item.repo_name, "type": item.repo_type},
                    created_at=now,
                )
            )
        item.state = "held"
        session.flush()
        record(session, item, "held", "baton", {"reason": "repo not found"}, now=now)
        return item
    item.repo_pk = repo.id
    head = commits.resolve_revision(session, repo, None).oid
    if item.checked_commit != head or item.state == "pending":
        _check_and_hold(session, runtime, item, repo, head, now, prechecked)
    open_findings = _open_findings(session, item)
    if open_findings:
        if item.state != "held":
            item.state = "held"
            session.flush()
            record(session, item, "held", "baton", {"findings": [f.id for f in open_findings]}, now=now)
        return item
    if item.embargo_until is not None and item.embargo_until > now:
        if item.state != "embargoed":
            item.state = "embargoed"
            session.flush()
            record(session, item, "embargoed", "baton", {"until": item.embargo_until.isoformat()}, now=now)
        return item
    _release(session, runtime, item, repo, now)
    return item


def create_items(session: Session, exit: TeamLeft, planned: Sequence[PlannedRepo], now: datetime) -> list[ReleaseItem]:
    """The items of a team's plan, made once (the plan's start is recorded when they are made)."""
    items: list[ReleaseItem] = []
    created = False
    for entry in planned:
        item = session.scalar(
            select(ReleaseItem).where(
                ReleaseItem.challenge == exit.challenge,
                ReleaseItem.team == exit.team,
                ReleaseItem.repo_type == entry.repo_type,
                ReleaseItem.repo_name == entry.repo_id,
            )
        )
        if item is None:
            if not created:
                record(
                    session,
                    None,
                    "plan_started",
                    "baton",
                    {
                        "stage": exit.stage,
                        "reason": exit.reason,
                        "repos": [f"{p.repo_type}:{p.repo_id}" for p in planned],
                    },
                    challenge=exit.challenge,
                    team=exit.team,
                    now=now,
                )
                created = True
            item = ReleaseItem(
                challenge=exit.challenge,
                team=exit.team,
                stage=exit.stage,
                exit_reason=exit.reason,
                repo_type=entry.repo_type,
                repo_name=entry.repo_id,
                asset_kind=entry.asset_kind,
                access=entry.access,
                gated_mode=entry.gated_mode,
                license=entry.license,
                embargo_until=entry.embargo_until,
                state="pending",
                created_at=now,
            )
            session.add(item)
            session.flush()
        items.append(item)
    return items


def precheck(runtime: Runtime, item_ids: Iterable[int], *, force: bool = False) -> Prechecked:
    """Run the items' slow checks (personal-data scans read whole files) in read-only sessions.

    Nothing here holds the write lock: uploads and commits go on while files are scanned. The
    write that follows uses these outcomes, or finds that a head moved and checks again.
    """
    outcomes: Prechecked = {}
    for item_id in item_ids:
        with runtime.database.session() as session:
            item = session.get(ReleaseItem, item_id)
            if item is None or item.state == "released":
                continue
            repo = _item_repo(session, item)
            if repo is None:
                continue
            head = commits.resolve_revision(session, repo, None).oid
            if head == item.checked_commit and item.state != "pending" and not force:
                continue
            outcomes[(item.id, head)] = run_checks(session, runtime, item, repo, head)
    return outcomes


def checked_then_written(
    runtime: Runtime,
    item_ids: Sequence[int],
    step: Callable[[Session, ReleaseItem, Prechecked], ReleaseItem],
    *,
    attempts: int = 3,
    force: bool = False,
) -> list[ReleaseItem]:
    """Run the items' checks outside any write transaction, then ``step`` each item in one write;
    all over again (up to ``attempts`` times) if a repo's head moved in between. ``force``: check
    items whose head was checked already too (something else than the repo changed)."""
    for attempt in range(attempts):
        prechecked = precheck(runtime, item_ids, force=force)
        try:
            with runtime.database.session(write=True) as session:
                items = [item for item in (session.get(ReleaseItem, i) for i in item_ids) if item is not None]
                return [step(session, item, prechecked) for item in items]
        except HeadMovedError:
            if attempt == attempts - 1:
                raise
    return []


def advance_items(runtime: Runtime, item_ids: Sequence[int], now: datetime) -> list[ReleaseItem]:
    """Check the items outside any write transaction, then advance them in one."""
    return checked_then_written(
        runtime, item_ids, lambda session, item, prechecked: advance(session, runtime, item, now, prechecked)
    )


def run_release_plan(runtime: Runtime, exit: TeamLeft) -> dict[str, Any]:
    """Handler of ``challenge.team_left``: run the team's release plan, if it filed one (idempotent).

    The items are made in one short write; their checks run outside it; each then advances (held,
    embargoed or released) in another write. Every action is stamped with the moment of the exit.
    """
    from baton.challenge import service

    with runtime.database.session(write=True) as session:
        plan = service.release_plan(session, exit.challenge, exit.team)
        planned = [planned_from(entry) for entry in plan.get("repos") or []]
        if not planned:
            said = session.scalar(
                select(ReleaseAction.id).where(
                    ReleaseAction.challenge == exit.challenge,
                    ReleaseAction.team == exit.team,
                    ReleaseAction.action == "no_plan",
                )
            )
            if said is None:
                record(
                    session,
                    None,
                    "no_plan",
                    "baton",
                    {"stage": exit.stage},
                    challenge=exit.challenge,
                    team=exit.team,
                    now=exit.at,
                )
            return {"items": {}}
    items = execute_plan(runtime, exit, planned)
    return {"items": {item.repo_name: item.state for item in items}}


def execute_plan(
    runtime: Runtime, exit: TeamLeft, planned: Sequence[PlannedRepo], *, now: datetime | None = None
) -> list[ReleaseItem]:
    """Make the plan's items (once) and advance each, its checks outside the write; in plan order."""
    moment = now or exit.at
    with runtime.database.session(write=True) as session:
        item_ids = [item.id for item in create_items(session, exit, planned, moment)]
    return advance_items(runtime, item_ids, moment)


def _as_moment(value: Any) -> datetime | None:
    """An embargo date from a plan: a date means the start of that day in UTC; a naive time is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def planned_from(entry: Any) -> PlannedRepo:
    """Adapt one plan entry (the contract's mapping, or an object with those fields) to a PlannedRepo."""

    def get(name: str, default: Any = None) -> Any:
        if isinstance(entry, dict):
            return entry.get(name, default)
        return getattr(entry, name, default)

    return PlannedRepo(
        repo_type=str(get("repo_type") or "model"),
        repo_id=str(get("repo") or get("repo_id")),
        asset_kind=str(get("kind") or get("repo_type") or "model"),
        access=str(get("access") or "public"),
        gated_mode=get("gated_mode"),
        license=get("license"),
        embargo_until=_as_moment(get("embargo_until")),
    )


def release_due(runtime: Runtime, now: datetime | None = None) -> list[ReleaseItem]:
    """Release every embargoed item whose date has come (its checks run again on the current head,
    outside the write transaction)."""
    now = now or clock.now()
    with runtime.database.session() as session:
        due = list(
            session.scalars(
                select(ReleaseItem.id)
                .where(ReleaseItem.state == "embargoed", ReleaseItem.embargo_until <= now)
                .order_by(ReleaseItem.id)
            )
        )
    return advance_items(runtime, due, now) if due else []


def release_due_sweep(runtime: Runtime) -> dict[str, Any]:
    """The periodic ``commons.release_due`` job: release what is due now."""
    items = release_due(runtime)
    return {"released": [item.repo_name for item in items if item.state == "released"]}


# --------------------------------------------------------------------------------------------- re-checks


def recheck_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Job handler for ``commons.release_recheck``: re-check the held items of one repo (``repo_id``).

    Commits reach the re-check through the ``hub.commit_landed`` event; this kind remains for
    operators and for re-checks queued before events existed.
    """
    repo_id = payload.get("repo_id")
    if isinstance(repo_id, bool) or not isinstance(repo_id, int):
        raise ReleaseError(f"commons.release_recheck needs an integer repo_id, got {repo_id!r}")
    return recheck_repo(runtime, repo_id)


def recheck_on_commit(runtime: Runtime, event: CommitLanded) -> dict[str, Any]:
    """Handler of ``hub.commit_landed``: a new commit to a repo whose release is held re-checks it."""
    if not event.default_branch:
        return {"items": {}}
    return recheck_repo(runtime, event.repo_pk)


def recheck_after_scan(runtime: Runtime, event: ScanFinished) -> dict[str, Any]:
    """Handler of ``provenance.scan_finished``: the verified lineage of the repo may have changed, so
    its held items are checked again on their head, even one that was checked already."""
    return recheck_repo(runtime, event.repo_pk, force=True)


def recheck(
    session: Session,
    runtime: Runtime,
    item: ReleaseItem,
    now: datetime | None = None,
    prechecked: Prechecked | None = None,
    *,
    force: bool = False,
) -> ReleaseItem:
    """Run a held item's checks again on its repo's head, if the head moved past the checked commit
    (or, with ``force``, even if it did not: a provenance scan finished meanwhile).

    A finding the new head no longer shows is marked cleaned by Baton (with the commit that cleaned
    it); one it still shows stays open; a new one is added. With no open finding left the item
    moves on (embargo, then release) as after an operator's resolution. Each step is recorded.
    """
    now = now or clock.now()
    if item.state != "held":
        return item
    repo = _item_repo(session, item)
    if repo is None:
        return item
    head = commits.resolve_revision(session, repo, None).oid
    if head == item.checked_commit and not force:
        return item
    outcomes = run_checks(session, runtime, item, repo, head, prechecked)
    kinds = {outcome.kind for outcome in outcomes}
    present = {_signature(outcome.kind, detail) for outcome in outcomes for _summary, detail in outcome.findings}
    still_open: set[str] = set()
    cleaned = 0
    for finding in _open_findings(session, item):
        signature = _signature(finding.kind, finding.detail)
        if finding.kind not in kinds:
            continue
        if signature in present:
            still_open.add(signature)
            continue
        finding.state = "cleaned"
        finding.resolved_by = "baton"
        # No commit in the text: it goes to the public ledger, where a private repo's commits are sealed
        # (the commit is in resolved_commit and the action's detail).
        finding.resolution = "not found on the new head by the automatic re-check after a new commit"
        finding.resolved_commit = head
        finding.resolved_at = now
        cleaned += 1
        session.flush()
        record(
            session,
            item,
            "finding_cleaned",
            "baton",
            {"finding": finding.id, "kind": finding.kind, "reason": finding.resolution, "commit": head},
            now=now,
        )
    added = 0
    for outcome in outcomes:
        if outcome.kind == "license":
            item.effective_license = outcome.effective_license
        accepted = _resolved_signatures(session, item, outcome.kind)
        for summary, detail in outcome.findings:
            signature = _signature(outcome.kind, detail)
            if signature in accepted or signature in still_open:
                continue
            session.add(
                ReleaseFinding(
                    item_id=item.id, kind=outcome.kind, commit_oid=head, summary=summary, detail=detail, created_at=now
                )
            )
            added += 1
    item.checked_commit = head
    session.flush()
    remaining = len(_open_findings(session, item))
    record(
        session,
        item,
        "rechecked",
        "baton",
        {"commit": head, "check": sorted(kinds), "cleaned": cleaned, "added": added, "findings": remaining},
        now=now,
    )
    if remaining == 0:
        item.state = "pending"
        advance(session, runtime, item, now, prechecked)
    return item


def recheck_repo(runtime: Runtime, repo_pk: int, *, force: bool = False) -> dict[str, Any]:
    """Re-check the held items of one repo: the checks read outside the write transaction."""
    with runtime.database.session() as session:
        item_ids = list(
            session.scalars(
                select(ReleaseItem.id)
                .where(ReleaseItem.repo_pk == repo_pk, ReleaseItem.state == "held")
                .order_by(ReleaseItem.id)
            )
        )
    done = checked_then_written(
        runtime,
        item_ids,
        lambda session, item, prechecked: recheck(session, runtime, item, prechecked=prechecked, force=force),
        force=force,
    )
    return {"items": {item.repo_name: item.state for item in done}}


# --------------------------------------------------------------------------------------------- operators


RESOLUTIONS = ("accept", "cleaned")


def resolve_finding(
    session: Session,
    runtime: Runtime,
    finding_id: int,
    actor: Actor,
    *,
    resolution: str,
    reason: str,
    now: datetime | None = None,
) -> ReleaseItem:
    """An operator resolves a finding that holds an item; when none is left the item moves on.

    ``accept`` keeps the content as it is and needs a written reason; ``cleaned`` says a new commit
    removed the problem, and is refused unless the repo's head changed and its checks now pass.
    """
    now = now or clock.now()
    actor.require_operator("resolve release findings")
    if resolution not in RESOLUTIONS:
        raise ReleaseError(f"Unknown resolution '{resolution}'", hint="Use 'accept' or 'cleaned'.")
    if len(reason.strip()) < 5:
        raise ReleaseError(
            "A resolution needs a written reason", hint="Say why the content may be released (at least a sentence)."
        )
    finding = session.get(ReleaseFinding, finding_id)
    if finding is None:
        raise NotFoundError(f"No release finding {finding_id}", hint="List held items: GET /api/commons/held.")
    if finding.state != "open":
        raise ReleaseConflictError(
            f"Finding {finding_id} was already resolved ({finding.state} by {finding.resolved_by})"
        )
    item = session.get(ReleaseItem, finding.item_id)
    assert item is not None
    resolved_commit: str | None = None
    if resolution == "cleaned":
        repo = _item_repo(session, item)
        if repo is None:
            raise ReleaseConflictError(f"{item.repo_name} is still not in the hub", hint="Create it, then retry.")
        head = commits.resolve_revision(session, repo, None).oid
        if head == finding.commit_oid:
            raise ReleaseConflictError(
                f"{item.repo_name} has no commit after the one that was checked ({head[:12]})",
                hint="Commit the cleaned files first, then mark the finding cleaned.",
            )
        still = [
            summary
            for outcome in run_checks(session, runtime, item, repo, head)
            if outcome.kind == finding.kind
            for summary, detail in outcome.findings
            if finding.kind != "pii"
            or (detail.get("path"), detail.get("kind")) == (finding.detail.get("path"), finding.detail.get("kind"))
        ]
        if still:
            raise ReleaseConflictError(
                f"The {finding.kind} check still fails on {head[:12]}: " + "; ".join(still[:5]),
                hint="Remove what is listed and commit again, or accept the finding with a reason.",
            )
        resolved_commit = head
    finding.state = "accepted" if resolution == "accept" else "cleaned"
    finding.resolved_by = actor.name
    finding.resolution = reason.strip()
    finding.resolved_commit = resolved_commit
    finding.resolved_at = now
    session.flush()
    record(
        session,
        item,
        f"finding_{finding.state}",
        actor.name,
        {"finding": finding.id, "kind": finding.kind, "reason": finding.resolution, "commit": resolved_commit},
        now=now,
    )
    if not _open_findings(session, item):
        item.state = "pending" if item.state == "held" else item.state
        advance(session, runtime, item, now)
    return item


# --------------------------------------------------------------------------------------------- reading


def item_json(session: Session, item: ReleaseItem, *, with_findings: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "challenge": item.challenge,
        "team": item.team,
        "stage": item.stage,
        "repo": item.repo_name,
        "type": item.repo_type,
        "kind": item.asset_kind,
        "access": item.access,
        "gated": item.gated_mode if item.access == "gated" else None,
        "license": item.license,
        "effective_license": item.effective_license,
        "embargo_until": item.embargo_until.isoformat() if item.embargo_until else None,
        "state": item.state,
        "checked_commit": item.checked_commit,
        "released_commit": item.released_commit,
        "released_at": item.released_at.isoformat() if item.released_at else None,
        "tag": item.tag,
    }
    if with_findings:
        data["findings"] = [finding_json(f) for f in findings_of(session, item)]
    return data


def finding_json(finding: ReleaseFinding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "kind": finding.kind,
        "state": finding.state,
        "commit": finding.commit_oid,
        "summary": finding.summary,
        "detail": finding.detail,
        "resolved_by": finding.resolved_by,
        "resolution": finding.resolution,
        "resolved_commit": finding.resolved_commit,
        "resolved_at": finding.resolved_at.isoformat() if finding.resolved_at else None,
    }


def findings_of(session: Session, item: ReleaseItem) -> list[ReleaseFinding]:
    return list(
        session.scalars(select(ReleaseFinding).where(ReleaseFinding.item_id == item.id).order_by(ReleaseFinding.id))
    )


def list_items(
    session: Session, *, challenge: str | None = None, team: str | None = None, states: Iterable[str] | None = None
) -> list[ReleaseItem]:
    query = select(ReleaseItem).order_by(ReleaseItem.challenge, ReleaseItem.team, ReleaseItem.id)
    if challenge is not None:
        query = query.where(ReleaseItem.challenge == challenge)
    if team is not None:
        query = query.where(ReleaseItem.team == team)
    if states is not None:
        query = query.where(ReleaseItem.state.in_(list(states)))
    return list(session.scalars(query))


def held_items(session: Session, challenge: str | None = None) -> list[dict[str, Any]]:
    """Items an operator must act on, with their open findings."""
    return [item_json(session, item) for item in list_items(session, challenge=challenge, states=["held"])]


def actions_of(session: Session, challenge: str, team: str | None = None) -> list[dict[str, Any]]:
    query = select(ReleaseAction).where(ReleaseAction.challenge == challenge).order_by(ReleaseAction.id)
    if team is not None:
        query = query.where(ReleaseAction.team == team)
    return [
        {
            "id": row.id,
            "item": row.item_id,
            "team": row.team,
            "action": row.action,
            "actor": row.actor,
            "detail": row.detail,
            "at": row.at.isoformat(),
        }
        for row in session.scalars(query)
    ]
