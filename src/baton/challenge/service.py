"""The challenge's operations: every input is checked, appended to the ledger and projected, in one transaction.

Functions take a session whose transaction the caller owns (``runtime.database.session(write=True)``);
a refused input raises before anything is written, and an error after a write rolls the whole
transaction back, so nothing is ever recorded in part. Appends are serialized per challenge by
locking its row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write lock is taken at BEGIN), so
concurrent appends cannot fork the hash chain.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ORGANIZATION, USER, Account
from baton.challenge import arena, clock, ledger, recompute
from baton.challenge.access import is_member
from baton.challenge.errors import (
    AppealError,
    ChallengeNotFoundError,
    ConflictOfInterestError,
    DeadlinePassedError,
    GatePendingError,
    InvalidVoteError,
    LedgerError,
    NotInStageError,
    StageNotFoundError,
    StageStateError,
    TeamNotFoundError,
    VoteLimitError,
)
from baton.challenge.models import (
    Appeal,
    Battle,
    Challenge,
    Decision,
    GateResult,
    LedgerEntry,
    Opening,
    ReviewerAssignment,
    Submission,
    Team,
    Vote,
)
from baton.challenge.review import RubricError, check_scores, conflicted
from baton.challenge.spec import ChallengeSpec, Criterion, Gate, Stage, load_release_plan, load_spec, slug_ok
from baton.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RepoNotFoundError,
)
from baton.core.runtime import Runtime, TeamExit
from baton.core.sealing import Sealed, commitment, model_value, new_salt, repo_value
from baton.core.sealing import pseudonym as keyed_pseudonym

if TYPE_CHECKING:  # the provenance domain and the hub are imported where they are used, as in check_gate
    from baton.hub.models import Repo
    from baton.provenance.models import ProvenanceReport

CHOICES = ("a", "b", "tie", "both_bad")


# --- small helpers -------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return clock.now() if now is None else now


def iso(moment: datetime) -> str:
    return clock._aware(moment).isoformat()


def spec_of(challenge: Challenge) -> ChallengeSpec:
    return load_spec(challenge.spec)


def stage_of(spec: ChallengeSpec, stage_id: str) -> Stage:
    try:
        return spec.stage(stage_id)
    except KeyError:
        ids = ", ".join(stage.id for stage in spec.stages)
        raise StageNotFoundError(f"No stage '{stage_id}' in {spec.challenge}", hint=f"Stages: {ids}.") from None


def _local(spec: ChallengeSpec, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(spec.timezone)).strftime(f"%Y-%m-%d %H:%M ({spec.timezone})")


def pseudonym_for(challenge: Challenge, name: str, role: str) -> str:
    digest = hashlib.sha256(f"{challenge.salt}:{role}:{name}".encode()).hexdigest()
    return f"{role}-{digest[:10]}"


def pseudonym(session: Session, slug: str, account_name: str, role: str = "voter") -> str:
    """The pseudonym an account has as ``voter`` or ``reviewer`` in a challenge (for operators)."""
    return pseudonym_for(get_challenge(session, slug), account_name, role)


# --- the ledger -----------------------------------------------------------------------------------


def _lock(session: Session, slug: str) -> Challenge:
    """The challenge row, locked for the rest of the transaction (appends are serialized per challenge)."""
    challenge = session.scalar(
        select(Challenge).where(Challenge.slug == slug).with_for_update().execution_options(populate_existing=True)
    )
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge '{slug}'")
    return challenge


def _append(session: Session, challenge: Challenge, kind: str, payload: dict[str, Any], now: datetime) -> ledger.Event:
    previous = None
    if challenge.last_seq:
        previous = ledger.Event(challenge.last_seq, "", "", {}, "", challenge.head_hash)
    event = ledger.make_event(previous, kind, iso(now), payload)
    session.add(
        LedgerEntry(
            challenge_id=challenge.id,
            seq=event.seq,
            kind=event.kind,
            payload=ledger.canonical_json(event.payload),
            recorded_at=event.recorded_at,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )
    )
    challenge.last_seq = event.seq
    challenge.head_hash = event.hash
    session.flush()
    return event


def has_challenge(session: Session, slug: str) -> bool:
    """Whether a challenge ``slug`` exists (without locking it)."""
    return session.scalar(select(Challenge.id).where(Challenge.slug == slug)) is not None


def record_release_action(
    session: Session,
    slug: str,
    payload: dict[str, Any],
    *,
    repo_pk: int | None = None,
    now: datetime | None = None,
) -> ledger.Event:
    """Append a release action (a consequence of a final exit) to the challenge's ledger.

    The payload is ``{"team", "action", "actor", "repo", "detail"}`` as ``baton.challenge.release``
    builds it (counts and kinds of findings, never the personal data itself), with ``repo`` and
    ``detail.repos`` as "type:namespace/name". It is appended under the challenge's row lock in the
    caller's transaction, so it commits or rolls back with the action it records. Release actions are
    not decision inputs; ``verify`` checks the chain over them.

    A repo private at this moment is named by its sealed label instead (``_public_release``); once
    the action names ``repo_pk`` public (the release made it so), the openings of its earlier sealed
    mentions follow in a ``commitments.revealed`` event, which links them to the released repo.
    """
    try:
        recompute.check_release_payload(payload)
    except ValueError as error:
        raise BadRequestError(
            f"Not a release action: {error}", hint="Record release actions through baton.challenge.release."
        ) from None
    moment = _now(now)
    challenge = _lock(session, slug)
    public = _public_release(session, challenge, payload, repo_pk)
    event = _append(session, challenge, recompute.RELEASE_ACTION, public, moment)
    if repo_pk is not None:
        # Usually the "released" action itself; a repo its team made public by hand opens at its next action.
        reason = "released" if payload["action"] == "released" else "made_public"
        _reveal_public(session, challenge, None, reason, moment, repo_pk=repo_pk, extra={"team": payload["team"]})
    return event


def _public_release(
    session: Session, challenge: Challenge, payload: dict[str, Any], repo_pk: int | None
) -> dict[str, Any]:
    """A release action as the public ledger carries it: private repos by their sealed labels.

    The action's repo (``repo_pk`` where known: a renamed repo keeps it) is sealed with the commit its
    detail names (which then leaves the detail: a private repo's commit is as telling as its name),
    or alone where the detail names none.
    """
    from baton.hub.models import Repo

    def label(named: Any, revision: str | None, pk: int | None = None) -> Any:
        repo_type, _, name = str(named).partition(":")
        repo = session.get(Repo, pk) if pk is not None else named_repo(session, repo_type, name)
        sealed = seal_if_private(session, challenge, repo, revision)
        return named if sealed is None else f"{repo_type}:{sealed.label}"

    detail = dict(payload.get("detail") or {})
    if isinstance(detail.get("repos"), list):
        detail["repos"] = [label(named, None) for named in detail["repos"]]
    if payload.get("repo") is None:
        return payload | {"detail": detail}
    commit = detail.get("commit") if isinstance(detail.get("commit"), str) else None
    shown = label(payload["repo"], commit, repo_pk)
    if shown != payload["repo"]:
        detail.pop("commit", None)
    return payload | {"repo": shown, "detail": detail}


def _event(entry: LedgerEntry) -> ledger.Event:
    import json

    return ledger.Event(
        entry.seq, entry.kind, entry.recorded_at, json.loads(entry.payload), entry.prev_hash, entry.hash
    )


def events_of(session: Session, challenge: Challenge) -> list[ledger.Event]:
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.challenge_id == challenge.id).order_by(LedgerEntry.seq)
    )
    return [_event(entry) for entry in entries]


def ledger_events(session: Session, slug: str) -> list[dict[str, Any]]:
    return [event.to_json() for event in events_of(session, get_challenge(session, slug))]


def export_bundle(session: Session, slug: str) -> str:
    challenge = get_challenge(session, slug)
    return ledger.export_bundle(challenge.slug, events_of(session, challenge))


def verify_database(
    session: Session, slug: str, head: str | None = None, *, with_openings: bool = False
) -> ledger.VerifyReport:
    """Verify the stored ledger; ``with_openings`` also checks the openings not yet revealed (operators)."""
    challenge = get_challenge(session, slug)
    kept = openings(session, slug) if with_openings else []
    report = ledger.verify_events(challenge.slug, events_of(session, challenge), published_head=head, openings=kept)
    if report.head != challenge.head_hash:
        report.problems.append(
            ledger.Problem(None, None, "the challenge's recorded head does not match the ledger's last event")
        )
    return report


def state_of(session: Session, challenge: Challenge) -> recompute.State:
    return recompute.replay(events_of(session, challenge))


# --- sealed names: private repos and open battles in the public ledger -----------------------------
#
# A private repo is written into the ledger (and every public response) as a pseudonym plus a salted
# commitment to (repo, revision); a battle's teams and answers as a commitment while voting is open.
# The openings (value and salt) stay in ``challenge_openings`` until a ``commitments.revealed``
# event publishes them: a stage's battles when its voting closes (the decision), a model once its
# decision is final and only if its repo is public by then. Openings of repos still private are kept
# for operators, who hand them to auditors (``GET .../openings``, ``baton challenge export --openings``).

REVEALED = recompute.REVEALED


def model_pseudonym(challenge: Challenge, repo_type: str, repo_pk: int | None, name: str) -> str:
    """A repo's pseudonym in this challenge (per repo, stable across its revisions and renames)."""
    identity = f"{repo_type}:{repo_pk}" if repo_pk is not None else f"{repo_type}:name:{name}"
    return keyed_pseudonym(challenge.salt.encode(), "repo", identity)


def find_sealed(
    session: Session, challenge: Challenge, repo_pk: int | None, name: str, revision: str | None
) -> Sealed | None:
    """The sealed name this challenge gave (repo, revision), or the repo alone when ``revision`` is None; None
    when it gave none. Reads only: public views use it to show the commitment the ledger carries."""
    query = select(Opening).where(Opening.challenge_id == challenge.id)
    if revision is None:
        query = query.where(Opening.kind == "repo")
    else:
        query = query.where(Opening.kind == "model", Opening.revision == revision)
    for row in session.scalars(query.order_by(Opening.id)):
        if row.repo_pk == repo_pk and (repo_pk is not None or row.value.get("repo") == name):
            return Sealed(str(row.pseudonym), row.commitment)
    return None


def seal_model(
    session: Session, challenge: Challenge, repo_type: str, repo_pk: int | None, name: str, revision: str | None
) -> Sealed:
    """The sealed name of a private (repo, revision) in this challenge: one commitment per revision, and one
    to the repo alone (``revision`` None) for mentions that pin none (release plans, unpinned target models).
    Every mention of a repo shares its pseudonym, so its commitments are linked once one is opened."""
    found = find_sealed(session, challenge, repo_pk, name, revision)
    if found is not None:
        return found
    pseudonym = model_pseudonym(challenge, repo_type, repo_pk, name)
    if revision is None:
        kind, value = "repo", repo_value(repo_type, name)
    else:
        kind, value = "model", model_value(repo_type, name, revision)
    row = _commit_to(session, challenge, kind, value, pseudonym=pseudonym, repo_pk=repo_pk)
    return Sealed(pseudonym, row.commitment)


def named_repo(session: Session, repo_type: str, name: str) -> Repo | None:
    """The hub repo a team names by 'namespace/name' (None: not a repo id, or no such repo in the hub).

    Case-insensitive, as the hub's names are: a private repo must not be named in public through a
    spelling that differs only in case."""
    from baton.hub import repos

    try:
        key = repos.parse_repo_id(repo_type, name)
    except BadRequestError:  # not a repo id (a target model outside the hub, say)
        return None
    return repos.find_repo(session, key) or repos.find_repo_any_case(session, key)


def seal_if_private(
    session: Session, challenge: Challenge, repo: Repo | None, revision: str | None = None
) -> Sealed | None:
    """How the public ledger names a repo a team mentions: None when it may be named (public, or not in
    the hub), else its sealed name (committing to the revision where one is pinned)."""
    if repo is None or not repo.private:
        return None
    return seal_model(session, challenge, repo.repo_type, repo.id, repo.repo_id, revision)


def public_target(session: Session, challenge: Challenge, target: str) -> str:
    """A declared target model ('namespace/name' or 'namespace/name@revision') as the public ledger names it."""
    name, _, revision = target.partition("@")
    sealed = seal_if_private(session, challenge, named_repo(session, "model", name), revision or None)
    return target if sealed is None else sealed.label


def public_plan(session: Session, challenge: Challenge, plan: dict[str, Any]) -> dict[str, Any]:
    """A checked release plan as the public ledger carries it: a private repo's entry holds its sealed
    name (a commitment to the repo alone: a plan pins no revision) instead of ``repo``."""
    entries = []
    for entry in plan.get("repos") or []:
        repo = named_repo(session, str(entry.get("repo_type") or "model"), str(entry["repo"]))
        sealed = seal_if_private(session, challenge, repo)
        if sealed is not None:
            entry = {key: value for key, value in entry.items() if key != "repo"} | {"sealed": sealed.to_json()}
        entries.append(entry)
    return plan | {"repos": entries}


def _commit_to(session: Session, challenge: Challenge, kind: str, value: dict[str, Any], **fields: Any) -> Opening:
    """A commitment to ``value`` under a fresh salt; its opening is kept (unrevealed) in ``challenge_openings``."""
    salt = new_salt()
    revision = value.get("revision") if kind == "model" else None
    row = Opening(
        challenge_id=challenge.id,
        kind=kind,
        commitment=commitment(value, salt),
        value=value,
        salt=salt,
        revision=revision,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def _opening_json(row: Opening) -> dict[str, Any]:
    return {"commitment": row.commitment, "value": row.value, "salt": row.salt}


def _reveal(
    session: Session,
    challenge: Challenge,
    rows: Sequence[Opening],
    stage: str | None,
    reason: str,
    now: datetime,
    *,
    extra: dict[str, Any] | None = None,
) -> ledger.Event | None:
    """Publish ``rows``' openings in one ``commitments.revealed`` event (nothing when there are none)."""
    if not rows:
        return None
    payload = {"stage": stage, "reason": reason, "openings": [_opening_json(row) for row in rows]}
    event = _append(session, challenge, REVEALED, payload | (extra or {}), now)
    for row in rows:
        row.revealed_seq = event.seq
    return event


def _reveal_battles(session: Session, challenge: Challenge, stage: str, now: datetime) -> ledger.Event | None:
    """Voting in ``stage`` closes: its battles' teams and answers become public."""
    rows = session.scalars(
        select(Opening)
        .where(
            Opening.challenge_id == challenge.id,
            Opening.kind == "battle",
            Opening.stage == stage,
            Opening.revealed_seq.is_(None),
        )
        .order_by(Opening.id)
    ).all()
    return _reveal(session, challenge, rows, stage, "voting_closed", now)


def _reveal_public(
    session: Session,
    challenge: Challenge,
    stage: str | None,
    reason: str,
    now: datetime,
    *,
    repo_pk: int | None = None,
    extra: dict[str, Any] | None = None,
) -> ledger.Event | None:
    """Open the sealed repos (every revision, and the repo alone) that are public by now; the others stay sealed.

    ``repo_pk``: only that repo's (a release just made it public). Nothing is appended when there is
    nothing to open, so running it again is harmless.
    """
    from baton.hub.models import Repo

    query = select(Opening).where(
        Opening.challenge_id == challenge.id, Opening.kind.in_(("model", "repo")), Opening.revealed_seq.is_(None)
    )
    if repo_pk is not None:
        query = query.where(Opening.repo_pk == repo_pk)
    public = []
    for row in session.scalars(query.order_by(Opening.id)).all():
        repo = session.get(Repo, row.repo_pk) if row.repo_pk is not None else None
        if repo is not None and not repo.private:
            public.append(row)
    if public:
        # Only what the ledger committed to: a gate seals every private reference it compares, but one
        # found independent is in no public record, and verify refuses an opening of nothing.
        published = _published_repo_commitments(session, challenge)
        public = [row for row in public if row.commitment in published]
    return _reveal(session, challenge, public, stage, reason, now, extra=extra)


def _published_repo_commitments(session: Session, challenge: Challenge) -> set[str]:
    entries = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.challenge_id == challenge.id, LedgerEntry.kind.in_(recompute.REPO_MENTION_KINDS)
        )
    )
    return {committed for entry in entries for committed in recompute.commitments_in(_event(entry))}


def reveal_public(
    session: Session, slug: str, *, operator: Actor | None = None, now: datetime | None = None
) -> ledger.Event | None:
    """Open every sealed repo of the challenge that is public now (``baton challenge reveal``).

    Finality and releases open what is public at their moment; a repo made public later (after the
    last finality, say) waits for this. ``operator`` None: the local operator of the CLI (who has the
    database). Returns the ``commitments.revealed`` event, or None when nothing was left to open.
    """
    if operator is not None:
        operator.require_operator("act as the challenge's operator")
    challenge = _lock(session, slug)
    extra = {"operator": operator.name} if operator is not None else None
    return _reveal_public(session, challenge, None, "made_public", _now(now), extra=extra)


def openings(session: Session, slug: str) -> list[dict[str, Any]]:
    """Every opening of the challenge, revealed or not (for operators and the auditors they choose)."""
    challenge = get_challenge(session, slug)
    rows = session.scalars(select(Opening).where(Opening.challenge_id == challenge.id).order_by(Opening.id))
    return [
        _opening_json(row) | {"kind": row.kind, "pseudonym": row.pseudonym, "revealed_seq": row.revealed_seq}
        for row in rows
    ]


def export_openings(session: Session, slug: str) -> str:
    """The openings as a document ``baton challenge verify --openings`` reads."""
    challenge = get_challenge(session, slug)
    return ledger.export_openings(challenge.slug, openings(session, slug))


def submission_sealed(session: Session, submission: Submission) -> Sealed | None:
    """How the ledger names a submission whose repo was private when it was submitted (None: by its name)."""
    if submission.commitment is None:
        return None
    row = session.scalar(
        select(Opening).where(
            Opening.challenge_id == submission.challenge_id, Opening.commitment == submission.commitment
        )
    )
    return None if row is None else Sealed(str(row.pseudonym), row.commitment)


def public_model(session: Session, submission: Submission) -> str:
    """The submission's model as the public records name it: 'repo@commit', or its sealed label."""
    sealed = submission_sealed(session, submission)
    return f"{submission.repo_name}@{submission.commit_oid}" if sealed is None else sealed.label


class ChallengeNames:
    """Names for the provenance summary a gate records: private references sealed in this challenge."""

    def __init__(self, session: Session, challenge: Challenge) -> None:
        self.session, self.challenge = session, challenge

    def reference(self, report: ProvenanceReport) -> Sealed | None:
        from baton.hub.models import Repo
        from baton.provenance.access import reference_parts

        repo = self.session.get(Repo, report.reference_repo_id) if report.reference_repo_id is not None else None
        if repo is not None and not repo.private:
            return None
        name, revision = reference_parts(report)
        return seal_model(self.session, self.challenge, "model", report.reference_repo_id, name, revision)

    def declared(self, name: str) -> str:
        repo = named_repo(self.session, "model", name)
        if repo is None or not repo.private:
            return name
        return model_pseudonym(self.challenge, "model", repo.id, name)


# --- challenges -----------------------------------------------------------------------------------


def create_challenge(
    session: Session, source: str | dict[str, Any] | ChallengeSpec, *, operator: Actor, now: datetime | None = None
) -> Challenge:
    operator.require_operator("act as the challenge's operator")
    spec = source if isinstance(source, ChallengeSpec) else load_spec(source)
    if session.scalar(select(Challenge.id).where(Challenge.slug == spec.challenge)) is not None:
        raise ConflictError(
            f"A challenge '{spec.challenge}' exists already",
            hint="Pick another `challenge:` slug in the YAML, or revise the existing one.",
        )
    moment = _now(now)
    challenge = Challenge(
        slug=spec.challenge,
        title=spec.title,
        spec=spec.to_json(),
        spec_version=spec.version,
        salt=secrets.token_hex(16),
        head_hash=ledger.GENESIS,
        last_seq=0,
        created_at=moment,
    )
    session.add(challenge)
    session.flush()
    _append(
        session,
        challenge,
        "challenge.defined",
        {"spec": spec.to_json(), "spec_sha256": spec.sha256(), "version": spec.version, "operator": operator.name},
        moment,
    )
    return challenge


def revise_challenge(
    session: Session, slug: str, source: str | dict[str, Any], *, operator: Actor, now: datetime | None = None
) -> Challenge:
    """A new version of the challenge's YAML; stages already decided must stay exactly as they were."""
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    current = spec_of(challenge)
    spec = load_spec(source)
    if spec.challenge != current.challenge:
        raise BadRequestError(f"The YAML defines '{spec.challenge}', not '{slug}'", hint="Keep the `challenge:` slug.")
    if spec.version <= current.version:
        raise ConflictError(
            f"Version {spec.version} is not newer than the current version {current.version}",
            hint=f"Set `version: {current.version + 1}` in the YAML.",
        )
    for stage in current.stages:
        if _latest_decision(session, challenge, stage.id) is None:
            continue
        try:
            same = spec.stage(stage.id) == stage
        except KeyError:
            same = False
        if not same:
            raise StageStateError(
                f"{stage.id} is decided; the new version must keep it unchanged",
                hint="Change only stages that have no decision yet.",
            )
    challenge.spec = spec.to_json()
    challenge.spec_version = spec.version
    challenge.title = spec.title
    _append(
        session,
        challenge,
        "challenge.revised",
        {"spec": spec.to_json(), "spec_sha256": spec.sha256(), "version": spec.version, "operator": operator.name},
        moment,
    )
    return challenge


def get_challenge(session: Session, slug: str) -> Challenge:
    challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge '{slug}'")
    return challenge


def get_challenge_by_id(session: Session, challenge_id: int) -> Challenge:
    challenge = session.get(Challenge, challenge_id)
    if challenge is None:
        raise ChallengeNotFoundError(f"No challenge {challenge_id}")
    return challenge


def list_challenges(session: Session) -> list[Challenge]:
    return list(session.scalars(select(Challenge).order_by(Challenge.created_at, Challenge.id)))


# --- teams ----------------------------------------------------------------------------------------


def get_team(session: Session, slug: str, team: str) -> Team:
    challenge = get_challenge(session, slug)
    return _team(session, challenge, team)


def _team(session: Session, challenge: Challenge, team: str) -> Team:
    found = session.scalar(select(Team).where(Team.challenge_id == challenge.id, Team.slug == team))
    if found is None:
        raise TeamNotFoundError(f"No team '{team}' in {challenge.slug}")
    return found


def list_teams(session: Session, slug: str) -> list[Team]:
    challenge = get_challenge(session, slug)
    return list(session.scalars(select(Team).where(Team.challenge_id == challenge.id).order_by(Team.slug)))


def release_plan(session: Session, slug: str, team: str) -> dict[str, Any]:
    return load_release_plan(get_team(session, slug, team).release_plan).model_dump(mode="json")


def _latest_decision(session: Session, challenge: Challenge, stage: str) -> Decision | None:
    return session.scalar(
        select(Decision)
        .where(Decision.challenge_id == challenge.id, Decision.stage == stage, Decision.superseded.is_(False))
        .order_by(Decision.id.desc())
    )


def participants(session: Session, challenge: Challenge, spec: ChallengeSpec, stage_id: str) -> list[str]:
    """Teams competing in a stage (same rule as ``recompute.participants``, from the projections)."""
    index = spec.stage_index(stage_id)
    admitted = session.scalars(
        select(Team.slug).where(Team.challenge_id == challenge.id, Team.entered_stage == stage_id)
    ).all()
    if index == 0:
        return sorted(admitted)
    previous = _latest_decision(session, challenge, spec.stages[index - 1].id)
    advanced = list(previous.record["advance"]) if previous is not None else []
    return sorted(set(advanced) | set(admitted))


def _require_in_stage(session: Session, challenge: Challenge, spec: ChallengeSpec, stage: Stage, team: Team) -> None:
    if team.slug not in participants(session, challenge, spec, stage.id):
        raise NotInStageError(f"Team '{team.slug}' does not compete in {stage.id} of {challenge.slug}")


def _accounts(session: Session, names: Sequence[str], kind: str) -> list[str]:
    found = []
    for name in names:
        account = accounts.find_account(session, name)
        if account is None or account.kind != kind:
            what = "organization" if kind == ORGANIZATION else "user"
            raise NotFoundError(
                f"No {what} '{name}'",
                hint=f"Create it first (baton {'org' if kind == ORGANIZATION else 'user'} create {name}).",
            )
        found.append(account.name)
    return found


def enter_team(
    session: Session,
    slug: str,
    *,
    team: str,
    name: str,
    organizations: Sequence[str],
    members: Sequence[str] = (),
    target_models: Sequence[str] = (),
    release_plan: dict[str, Any] | None = None,
    operator: Actor,
    stage: str | None = None,
    now: datetime | None = None,
) -> Team:
    """A team (a consortium of organizations and people) enters the first stage, or a later one by repechage."""
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    target_stage = spec.stages[0] if stage is None else stage_of(spec, stage)
    if not slug_ok(team):
        raise BadRequestError(f"'{team}' is not a valid team id", hint="Use lowercase letters, digits, '-', '_', '.'.")
    if session.scalar(select(Team.id).where(Team.challenge_id == challenge.id, Team.slug == team)) is not None:
        raise ConflictError(f"Team '{team}' is already in {slug}", hint="Pick another team id.")
    if not organizations:
        raise BadRequestError("A team needs at least one organization", hint="Pass the consortium's organizations.")
    orgs = _accounts(session, organizations, ORGANIZATION)
    people = _accounts(session, members, USER)
    plan = load_release_plan(release_plan).model_dump(mode="json")
    index = spec.stage_index(target_stage.id)
    entered = (
        session.scalar(
            select(func.count(Team.id)).where(Team.challenge_id == challenge.id, Team.entered_stage == target_stage.id)
        )
        or 0
    )
    if index == 0:
        if _latest_decision(session, challenge, target_stage.id) is not None:
            raise StageStateError(f"{target_stage.id} is decided already; no team can enter it now")
        if entered >= target_stage.teams:
            raise ConflictError(
                f"{target_stage.id} takes {target_stage.teams} teams and has them all",
                hint="Raise `teams` (and `advance`) in a new version of the YAML, or admit it by repechage later.",
            )
    else:
        if target_stage.repechage == 0:
            raise StageStateError(
                f"{target_stage.id} admits no team by repechage",
                hint="Only a stage with `repechage: N` in the YAML admits new teams mid-challenge.",
            )
        if entered >= target_stage.repechage:
            raise ConflictError(f"{target_stage.id} admits {target_stage.repechage} team(s) by repechage, all taken")
        previous = _latest_decision(session, challenge, spec.stages[index - 1].id)
        if previous is None:
            raise StageStateError(f"Repechage into {target_stage.id} opens once {spec.stages[index - 1].id} is decided")
        if moment > target_stage.deadline:
            raise DeadlinePassedError(f"{target_stage.id} closed at {_local(spec, target_stage.deadline)}")
    row = Team(
        challenge_id=challenge.id,
        slug=team,
        name=name or team,
        organizations=orgs,
        members=people,
        target_models=list(target_models),
        entered_stage=target_stage.id,
        repechage=index > 0,
        status="active",
        release_plan=plan,
        entered_at=moment,
    )
    session.add(row)
    session.flush()
    # The row keeps the real names (for the team, operators and the release); the public ledger
    # names a repo private at this moment by its sealed name (``public_target``, ``public_plan``).
    _append(
        session,
        challenge,
        "team.entered",
        {
            "team": team,
            "name": row.name,
            "organizations": orgs,
            "members": people,
            "target_models": [public_target(session, challenge, target) for target in target_models],
            "stage": target_stage.id,
            "repechage": index > 0,
            "release_plan": public_plan(session, challenge, plan),
            "operator": operator.name,
        },
        moment,
    )
    return row


def _require_member(session: Session, team: Team, user: Actor) -> None:
    if user.is_operator:
        return
    if not is_member(session, team, user):
        raise PermissionDeniedError(
            f"'{user.name}' is not a member of team '{team.slug}'",
            hint="Team actions need a member of the team or of one of its organizations.",
        )


def file_release_plan(
    session: Session, slug: str, team: str, plan: dict[str, Any], *, user: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """File (or replace, while the team is still in the challenge) what the team's outputs become when it leaves."""
    moment = _now(now)
    challenge = _lock(session, slug)
    row = _team(session, challenge, team)
    _require_member(session, row, user)
    if row.status != "active":
        raise ConflictError(f"Team '{team}' has left the challenge; its release plan is fixed")
    checked = load_release_plan(plan).model_dump(mode="json")
    row.release_plan = checked
    public = public_plan(session, challenge, checked)
    _append(session, challenge, "release_plan.filed", {"team": team, "plan": public, "by": user.name}, moment)
    return checked


# --- submissions ----------------------------------------------------------------------------------


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


def current_submission(session: Session, challenge: Challenge, stage: str, team: Team) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.challenge_id == challenge.id,
            Submission.team_id == team.id,
            Submission.stage == stage,
            Submission.current.is_(True),
        )
    )


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


def _require_open(session: Session, challenge: Challenge, stage: str, what: str) -> None:
    """Inputs to a stage are taken until its decision is final (a re-decision may follow an upheld appeal)."""
    decision = _latest_decision(session, challenge, stage)
    if decision is not None and decision.final_at is not None:
        raise StageStateError(f"The decision of {stage} is final; no more {what} are taken")


# --- benchmark scores -----------------------------------------------------------------------------


def _benchmark_tasks(stage: Stage) -> set[str]:
    return {task for criterion in stage.criteria if criterion.kind == "benchmark" for task in criterion.tasks}


def record_score(
    session: Session,
    slug: str,
    stage: str,
    *,
    task: str,
    model: str,
    score: float,
    stderr: float = 0.0,
    n: int | None = None,
    operator: Actor,
    source: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record an evaluation result: ``model`` is a team's submission ("repo@commit") or a declared target model."""
    operator.require_operator("act as the challenge's operator")
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
    _append(session, challenge, "score.recorded", payload, moment)
    return payload


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
    return record_score(
        session,
        slug,
        stage,
        task=task or str(result.get("task")),
        model=model,
        score=entry["value"],
        stderr=entry.get("stderr") or 0.0,
        n=entry.get("count"),
        operator=operator,
        source={"metric": name, "manifest": result.get("manifest") or {}},
        now=now,
    )


# --- expert review --------------------------------------------------------------------------------


def review_criterion(stage: Stage, criterion: str | None) -> Criterion:
    reviews = [c for c in stage.criteria if c.kind == "review"]
    if not reviews:
        raise BadRequestError(f"{stage.id} has no expert review criterion")
    if criterion is None:
        return reviews[0]
    for candidate in reviews:
        if candidate.id == criterion:
            return candidate
    raise BadRequestError(f"'{criterion}' is not a review criterion of {stage.id}")


def _conflicts(session: Session, person: Account | Actor, teams: Sequence[Team]) -> list[str]:
    account_id = person.account_id if isinstance(person, Actor) else person.id
    organizations = [org.name for org, _role in accounts.organizations_of(session, account_id)]
    shared: list[str] = []
    for team in teams:
        shared.extend(conflicted(organizations, team.organizations))
        if person.name in team.members:
            shared.append(f"member of {team.slug}")
    return sorted(set(shared))


def assign_reviewer(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    reviewer: Account,
    *,
    operator: Actor,
    now: datetime | None = None,
) -> ReviewerAssignment:
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    review_criterion(stage_spec, None)
    row = _team(session, challenge, team)
    _require_in_stage(session, challenge, spec, stage_spec, row)
    if reviewer.kind != USER:
        raise BadRequestError(f"'{reviewer.name}' is an organization; reviewers are people")
    shared = _conflicts(session, reviewer, [row])
    if shared:
        raise ConflictOfInterestError(
            f"Reviewer '{reviewer.name}' cannot review team '{team}': affiliated through {', '.join(shared)}"
        )
    existing = session.scalar(
        select(ReviewerAssignment).where(
            ReviewerAssignment.challenge_id == challenge.id,
            ReviewerAssignment.stage == stage,
            ReviewerAssignment.team_id == row.id,
            ReviewerAssignment.reviewer_id == reviewer.id,
        )
    )
    if existing is not None:
        return existing
    assignment = ReviewerAssignment(
        challenge_id=challenge.id,
        stage=stage,
        team_id=row.id,
        reviewer_id=reviewer.id,
        pseudonym=pseudonym_for(challenge, reviewer.name, "reviewer"),
    )
    session.add(assignment)
    session.flush()
    _append(
        session,
        challenge,
        "reviewer.assigned",
        {"stage": stage, "team": team, "reviewer": assignment.pseudonym, "operator": operator.name},
        moment,
    )
    return assignment


def assignments_of(session: Session, slug: str, stage: str, reviewer: Actor) -> list[Team]:
    challenge = get_challenge(session, slug)
    return list(
        session.scalars(
            select(Team)
            .join(ReviewerAssignment, ReviewerAssignment.team_id == Team.id)
            .where(
                ReviewerAssignment.challenge_id == challenge.id,
                ReviewerAssignment.stage == stage,
                ReviewerAssignment.reviewer_id == reviewer.account_id,
            )
            .order_by(Team.slug)
        )
    )


def record_review(
    session: Session,
    slug: str,
    stage: str,
    team: str,
    *,
    reviewer: Actor,
    scores: dict[str, Any],
    comment: str = "",
    criterion: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    rubric = review_criterion(stage_spec, criterion)
    row = _team(session, challenge, team)
    _require_open(session, challenge, stage, "reviews")
    shared = _conflicts(session, reviewer, [row])
    if shared:
        raise ConflictOfInterestError(
            f"Reviewer '{reviewer.name}' is excluded from team '{team}': affiliated through {', '.join(shared)}"
        )
    assignment = session.scalar(
        select(ReviewerAssignment).where(
            ReviewerAssignment.challenge_id == challenge.id,
            ReviewerAssignment.stage == stage,
            ReviewerAssignment.team_id == row.id,
            ReviewerAssignment.reviewer_id == reviewer.account_id,
        )
    )
    if assignment is None:
        raise PermissionDeniedError(
            f"'{reviewer.name}' is not assigned to review team '{team}' in {stage}",
            hint="An operator assigns reviewers (POST /api/challenges/<slug>/stages/<stage>/reviewers).",
        )
    try:
        checked = check_scores(rubric, scores)
    except RubricError as error:
        raise BadRequestError(str(error), hint="Give every rubric item a score between 0 and its max.") from None
    payload = {
        "stage": stage,
        "criterion": rubric.id,
        "team": team,
        "reviewer": assignment.pseudonym,
        "scores": checked,
        "comment": comment,
    }
    _append(session, challenge, "review.recorded", payload, moment)
    return payload


# --- arena ----------------------------------------------------------------------------------------


def _arena_criterion(stage: Stage, criterion: str | None) -> Criterion:
    candidates = [c for c in stage.criteria if c.kind == "arena"]
    if not candidates:
        raise BadRequestError(f"{stage.id} has no user evaluation (arena) criterion")
    if criterion is None:
        return candidates[0]
    for candidate in candidates:
        if candidate.id == criterion:
            return candidate
    raise BadRequestError(f"'{criterion}' is not an arena criterion of {stage.id}")


def create_battle(
    session: Session,
    slug: str,
    stage: str,
    *,
    prompt: str,
    team_a: str,
    team_b: str,
    answer_a: str,
    answer_b: str,
    operator: Actor,
    criterion: str | None = None,
    now: datetime | None = None,
) -> Battle:
    """A blind battle: two teams' answers to one prompt (generated by the evaluation backends or uploaded)."""
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    arena_criterion = _arena_criterion(stage_spec, criterion)
    _require_open(session, challenge, stage, "battles")
    if _latest_decision(session, challenge, stage) is not None:
        raise StageStateError(
            f"{stage} is decided; its arena is closed", hint="Battles are created while voting is open."
        )
    if team_a == team_b:
        raise BadRequestError("A battle needs two different teams")
    if not prompt.strip() or not answer_a.strip() or not answer_b.strip():
        raise BadRequestError("A battle needs a prompt and two non-empty answers")
    teams = participants(session, challenge, spec, stage)
    for team in (team_a, team_b):
        if team not in teams:
            raise NotInStageError(f"Team '{team}' does not compete in {stage}")
    state_names = _identity_names(session, challenge, stage, teams)
    reveals = bool(arena.reveals_identity(answer_a, state_names) or arena.reveals_identity(answer_b, state_names))
    battle = Battle(
        challenge_id=challenge.id,
        stage=stage,
        criterion=arena_criterion.id,
        battle=secrets.token_hex(8),
        prompt=prompt,
        team_a=team_a,
        team_b=team_b,
        answer_a=answer_a,
        answer_b=answer_b,
        reveals_identity=reveals,
        created_at=moment,
    )
    session.add(battle)
    # While voting is open the ledger must not tell whose answer is whose (item 4): it carries a
    # commitment to the teams and answers, opened when the stage's voting closes (``decide``).
    value = {"answer_a": answer_a, "answer_b": answer_b, "team_a": team_a, "team_b": team_b}
    sealed = _commit_to(session, challenge, "battle", value, stage=stage, battle=battle.battle).commitment
    _append(
        session,
        challenge,
        "battle.created",
        {
            "stage": stage,
            "criterion": arena_criterion.id,
            "battle": battle.battle,
            "prompt": prompt,
            "commitment": sealed,
        },
        moment,
    )
    return battle


def _identity_names(session: Session, challenge: Challenge, stage: str, teams: Sequence[str]) -> list[str]:
    names: set[str] = set()
    for slug in teams:
        team = _team(session, challenge, slug)
        names.update([team.slug, team.name, *team.organizations])
        submission = current_submission(session, challenge, stage, team)
        if submission is not None:
            names.update([submission.repo_name, submission.repo_name.rsplit("/", 1)[-1]])
    return sorted(name for name in names if name)


def _voter_conflicts(session: Session, challenge: Challenge, voter: Actor, battle: Battle) -> list[str]:
    teams = [_team(session, challenge, battle.team_a), _team(session, challenge, battle.team_b)]
    return _conflicts(session, voter, teams)


def next_battle(session: Session, slug: str, stage: str, *, voter: Actor) -> Battle | None:
    """A battle the voter may judge and has not: never one revealing identity or involving the voter's teams."""
    challenge = get_challenge(session, slug)
    stage_of(spec_of(challenge), stage)
    voted = select(Vote.battle_id).where(Vote.voter_id == voter.account_id)
    candidates = list(
        session.scalars(
            select(Battle)
            .where(
                Battle.challenge_id == challenge.id,
                Battle.stage == stage,
                Battle.reveals_identity.is_(False),
                Battle.id.not_in(voted),
            )
            .order_by(Battle.id)
            .limit(200)
        )
    )
    organizations = {org.name for org, _role in accounts.organizations_of(session, voter.account_id)}
    blocked: set[str] = set()
    for team in session.scalars(select(Team).where(Team.challenge_id == challenge.id)):
        if organizations & set(team.organizations) or voter.name in team.members:
            blocked.add(team.slug)
    allowed = [b for b in candidates if b.team_a not in blocked and b.team_b not in blocked]
    if not allowed:
        return None
    return random.choice(allowed)


def get_battle(session: Session, slug: str, battle: str) -> Battle:
    challenge = get_challenge(session, slug)
    found = session.scalar(select(Battle).where(Battle.challenge_id == challenge.id, Battle.battle == battle))
    if found is None:
        raise NotFoundError(f"No battle '{battle}' in {slug}", hint="Ask for a battle with GET .../battles/next.")
    return found


def record_vote(
    session: Session, slug: str, stage: str, battle: str, *, voter: Actor, choice: str, now: datetime | None = None
) -> dict[str, Any]:
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    found = session.scalar(select(Battle).where(Battle.challenge_id == challenge.id, Battle.battle == battle))
    if found is None or found.stage != stage:
        raise InvalidVoteError(f"No battle '{battle}' in {stage}", hint="Vote on a battle from GET .../battles/next.")
    criterion = _arena_criterion(stage_spec, found.criterion)
    if _latest_decision(session, challenge, stage) is not None:
        raise StageStateError(f"{stage} is decided; the arena is closed")
    # A vote names one of the two answers, a tie or both bad. Never a team: accepting team names would
    # let a voter test which teams are behind a battle (and the refusal would name them).
    if choice not in CHOICES:
        raise InvalidVoteError(
            f"A vote is one of {', '.join(CHOICES)}",
            hint="Vote for answer 'a' or 'b' as shown (the arena is blind: models are not named).",
        )
    parsed = arena.parse_vote(found.team_a, found.team_b, choice)
    if found.reveals_identity:
        raise InvalidVoteError("This battle is withdrawn: one answer reveals which model wrote it")
    shared = _voter_conflicts(session, challenge, voter, found)
    if shared:
        raise ConflictOfInterestError(
            f"'{voter.name}' cannot vote in a battle of their own team's model (affiliated through {', '.join(shared)})"
        )
    if session.scalar(select(Vote.id).where(Vote.battle_id == found.id, Vote.voter_id == voter.account_id)) is not None:
        raise ConflictError("You have voted on this battle already", hint="Ask for another with GET .../battles/next.")
    cast = (
        session.scalar(
            select(func.count(Vote.id)).where(
                Vote.challenge_id == challenge.id, Vote.stage == stage, Vote.voter_id == voter.account_id
            )
        )
        or 0
    )
    if cast >= criterion.max_votes_per_voter:
        raise VoteLimitError(f"'{voter.name}' has cast the {criterion.max_votes_per_voter} votes allowed in {stage}")
    session.add(
        Vote(
            challenge_id=challenge.id,
            stage=stage,
            battle_id=found.id,
            voter_id=voter.account_id,
            choice=parsed.outcome,
            recorded_at=moment,
        )
    )
    payload = {
        "stage": stage,
        "battle": battle,
        "voter": pseudonym_for(challenge, voter.name, "voter"),
        "choice": parsed.outcome,
    }
    _append(session, challenge, "vote.recorded", payload, moment)
    return payload


# --- gates ----------------------------------------------------------------------------------------


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

    operator.require_operator("act as the challenge's operator")
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
    operator.require_operator("act as the challenge's operator")
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


# --- decisions ------------------------------------------------------------------------------------


def decide(
    session: Session, runtime: Runtime | None, slug: str, stage: str, *, operator: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Compute and record the stage's decision from the ledger (the same code ``verify`` reruns)."""
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_spec = stage_of(spec, stage)
    index = spec.stage_index(stage)
    if index > 0:
        previous = _latest_decision(session, challenge, spec.stages[index - 1].id)
        if previous is None or previous.final_at is None:
            raise StageStateError(f"Decide {stage} once the decision of {spec.stages[index - 1].id} is final")
    current = _latest_decision(session, challenge, stage)
    if current is not None and current.final_at is not None:
        raise StageStateError(f"The decision of {stage} is final and cannot be redone")
    if moment < stage_spec.deadline:
        raise StageStateError(
            f"{stage} takes submissions until {_local(spec, stage_spec.deadline)}; decide after the deadline"
        )
    teams = participants(session, challenge, spec, stage)
    if len(teams) < stage_spec.advance:
        raise StageStateError(
            f"{stage} advances {stage_spec.advance} teams but only {len(teams)} compete in it",
            hint="Admit teams (repechage) or lower `advance` in a new version of the challenge YAML.",
        )
    pending: list[str] = []
    for team_slug in teams:
        team = _team(session, challenge, team_slug)
        for gate in stage_spec.gates:
            standing = gate_standing(session, challenge, stage, gate.id, team)
            if standing is None and current_submission(session, challenge, stage, team) is not None:
                standing = check_gate(session, slug, stage, team_slug, operator=operator, gate=gate.id, now=moment)
            if standing is None:
                pending.append(f"{team_slug} ({gate.id}: no submission to check)")
            elif standing.outcome == "inconclusive":
                pending.append(f"{team_slug} ({gate.id}: {standing.reason})")
    if pending:
        raise GatePendingError(f"Gates of {stage} await an operator: " + "; ".join(pending))
    state = state_of(session, challenge)
    reviews = state.stage_data(stage).reviews
    short: list[str] = []
    for criterion in stage_spec.criteria:
        if criterion.kind != "review":
            continue
        for team_slug in teams:
            count = sum(1 for (crit, tm, _r) in reviews if crit == criterion.id and tm == team_slug)
            if count < criterion.min_reviewers:
                short.append(f"{team_slug} has {count} of {criterion.min_reviewers} reviews for {criterion.id}")
    if short:
        raise StageStateError("Reviews are missing: " + "; ".join(short), hint="Assign reviewers and collect scores.")
    # Deciding closes the stage's voting (``record_vote`` refuses from now on): open the battles, so
    # the decision is computed from, and verifiable against, the revealed teams and answers.
    revealed = _reveal_battles(session, challenge, stage, moment)
    if revealed is not None:
        recompute.apply(state, revealed)
    seed = stage_spec.seed if stage_spec.seed is not None else secrets.randbits(31)
    seed_event = _append(
        session,
        challenge,
        "seed.drawn",
        {"stage": stage, "seed": seed, "source": "spec" if stage_spec.seed is not None else "drawn"},
        moment,
    )
    recompute.apply(state, seed_event)  # the state now holds every event up to the head
    record = recompute.compute_decision(
        state, stage, seed=seed, decided_at=iso(moment), head=challenge.head_hash, head_seq=challenge.last_seq
    )
    event = _append(session, challenge, "decision.made", {"stage": stage, "record": record}, moment)
    if current is not None:
        current.superseded = True
    session.add(
        Decision(
            challenge_id=challenge.id,
            stage=stage,
            seq=event.seq,
            record=record,
            decided_at=moment,
            appeal_deadline=datetime.fromisoformat(record["appeal_deadline"]),
        )
    )
    session.flush()
    return record


def decision_record(session: Session, slug: str, stage: str) -> dict[str, Any]:
    """The stage's current decision with its finality and appeals."""
    challenge = get_challenge(session, slug)
    stage_of(spec_of(challenge), stage)
    decision = _latest_decision(session, challenge, stage)
    if decision is None:
        raise NotFoundError(f"{stage} of {slug} is not decided yet", hint="An operator decides after the deadline.")
    appeals = list_appeals(session, slug, stage)
    return decision.record | {
        "seq": decision.seq,
        "final": decision.final_at is not None,
        "final_at": None if decision.final_at is None else iso(decision.final_at),
        "appeals": appeals,
    }


# --- appeals and finality -------------------------------------------------------------------------


def appeal_json(session: Session, appeal: Appeal) -> dict[str, Any]:
    team = session.get(Team, appeal.team_id)
    return {
        "id": appeal.id,
        "stage": appeal.stage,
        "team": team.slug if team else None,
        "filed_by": appeal.filed_by,
        "text": appeal.text,
        "filed_at": iso(appeal.filed_at),
        "answer": appeal.answer,
        "upheld": appeal.upheld,
        "answered_by": appeal.answered_by,
        "answered_at": None if appeal.answered_at is None else iso(appeal.answered_at),
    }


def list_appeals(session: Session, slug: str, stage: str | None = None) -> list[dict[str, Any]]:
    """The appeals (as ``appeal_json`` dicts), oldest first."""
    return [appeal_json(session, appeal) for appeal in _appeal_rows(session, slug, stage)]


def _appeal_rows(session: Session, slug: str, stage: str | None = None) -> list[Appeal]:
    challenge = get_challenge(session, slug)
    query = select(Appeal).where(Appeal.challenge_id == challenge.id)
    if stage is not None:
        query = query.where(Appeal.stage == stage)
    return list(session.scalars(query.order_by(Appeal.id)))


def file_appeal(
    session: Session, slug: str, stage: str, team: str, *, text: str, user: Actor, now: datetime | None = None
) -> Appeal:
    moment = _now(now)
    challenge = _lock(session, slug)
    spec = spec_of(challenge)
    stage_of(spec, stage)
    row = _team(session, challenge, team)
    _require_member(session, row, user)
    decision = _latest_decision(session, challenge, stage)
    if decision is None:
        raise AppealError(f"{stage} is not decided yet; there is nothing to appeal")
    if decision.final_at is not None or moment > decision.appeal_deadline:
        raise AppealError(f"The appeal window of {stage} closed at {_local(spec, decision.appeal_deadline)}")
    if team not in {entry["team"] for entry in decision.record["teams"]}:
        raise AppealError(f"Team '{team}' did not compete in {stage}")
    if not text.strip():
        raise BadRequestError("An appeal needs a text saying what is contested and why")
    appeal = Appeal(
        challenge_id=challenge.id, stage=stage, team_id=row.id, filed_by=user.name, text=text.strip(), filed_at=moment
    )
    session.add(appeal)
    session.flush()
    _append(
        session,
        challenge,
        "appeal.filed",
        {
            "appeal": str(appeal.id),
            "stage": stage,
            "team": team,
            "by": user.name,
            "text": appeal.text,
            "decision_seq": decision.seq,
        },
        moment,
    )
    return appeal


def answer_appeal(
    session: Session,
    slug: str,
    appeal_id: int,
    *,
    answer: str,
    upheld: bool,
    operator: Actor,
    now: datetime | None = None,
) -> Appeal:
    """Answer an appeal. An upheld appeal is acted on by the operator (an override, a score) and a new decision."""
    operator.require_operator("act as the challenge's operator")
    moment = _now(now)
    challenge = _lock(session, slug)
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.challenge_id != challenge.id:
        raise NotFoundError(f"No appeal {appeal_id} in {slug}")
    if appeal.answered_at is not None:
        raise ConflictError(f"Appeal {appeal_id} is answered already")
    if not answer.strip():
        raise BadRequestError("An answer needs a text", hint="The answer is published beside the appeal.")
    appeal.answer = answer.strip()
    appeal.upheld = bool(upheld)
    appeal.answered_by = operator.name
    appeal.answered_at = moment
    _append(
        session,
        challenge,
        "appeal.answered",
        {
            "appeal": str(appeal.id),
            "stage": appeal.stage,
            "answer": appeal.answer,
            "upheld": bool(upheld),
            "by": operator.name,
        },
        moment,
    )
    return appeal


def _leave(team: Team, stage: str, reason: str) -> dict[str, Any]:
    """Project a team's exit (its status); the listeners are called by ``_notify_exits``."""
    team.status = "eliminated" if reason == "eliminated" else "ended"
    team.exit_stage = stage
    return {"team": team.slug, "reason": reason}


def _notify_exits(
    session: Session, runtime: Runtime | None, challenge: Challenge, leaving: Sequence[tuple[Team, str, str]]
) -> None:
    """Call every ``runtime.team_exit_listeners`` entry for each (team, stage, reason), in this transaction."""
    session.flush()
    if runtime is None:
        return
    for team, stage, reason in leaving:
        exit_event = TeamExit(
            challenge=challenge.slug,
            team=team.slug,
            stage=stage,
            reason=reason,
            organizations=tuple(team.organizations),
            members=tuple(team.members),
        )
        for listener in list(runtime.team_exit_listeners):
            listener(session, runtime, exit_event)


def due(session: Session, now: datetime | None = None) -> bool:
    """Whether some decision waits to become final (cheap; lets readers skip a write transaction)."""
    moment = _now(now)
    rows = session.scalars(
        select(Decision).where(
            Decision.final_at.is_(None), Decision.superseded.is_(False), Decision.appeal_deadline <= moment
        )
    ).all()
    return any(_open_appeals(session, row) == 0 for row in rows)


def _open_appeals(session: Session, decision: Decision) -> int:
    return (
        session.scalar(
            select(func.count(Appeal.id)).where(
                Appeal.challenge_id == decision.challenge_id,
                Appeal.stage == decision.stage,
                Appeal.answered_at.is_(None),
            )
        )
        or 0
    )


def finalize_due(session: Session, runtime: Runtime | None, now: datetime | None = None) -> list[tuple[str, str]]:
    """Make final every decision whose appeal window has closed with all its appeals answered.

    For each team eliminated there, every ``runtime.team_exit_listeners`` entry is called with a
    ``TeamExit`` in this transaction; after the last stage the remaining teams exit with reason
    ``challenge_ended``.
    """
    moment = _now(now)
    finalized: list[tuple[str, str]] = []
    candidates = session.execute(
        select(Challenge.slug, Decision.stage)
        .join(Decision, Decision.challenge_id == Challenge.id)
        .where(Decision.final_at.is_(None), Decision.superseded.is_(False), Decision.appeal_deadline <= moment)
        .order_by(Challenge.slug, Decision.id)
    ).all()
    for slug, stage in candidates:
        challenge = _lock(session, slug)
        decision = _latest_decision(session, challenge, stage)
        if decision is None or decision.final_at is not None or decision.appeal_deadline > moment:
            continue
        if _open_appeals(session, decision):
            continue
        spec = spec_of(challenge)
        leaving: list[tuple[Team, str, str]] = []
        for team_slug in decision.record["eliminated"]:
            team = _team(session, challenge, team_slug)
            if team.status == "active":
                leaving.append((team, stage, "eliminated"))
        exits = [_leave(team, team_stage, reason) for team, team_stage, reason in leaving]
        session.flush()
        decision.final_at = moment
        last = spec.stages[-1].id == stage
        if last:
            for team in list(
                session.scalars(
                    select(Team).where(Team.challenge_id == challenge.id, Team.status == "active").order_by(Team.slug)
                )
            ):
                leaving.append((team, stage, "challenge_ended"))
                exits.append(_leave(team, stage, "challenge_ended"))
        _append(
            session,
            challenge,
            "decision.final",
            {"stage": stage, "decision_seq": decision.seq, "final_at": iso(moment), "exits": exits},
            moment,
        )
        # The exits' consequences (release plans run, each action appended to this ledger) follow
        # the finality they stem from, in the same transaction.
        _notify_exits(session, runtime, challenge, leaving)
        # After the exits: a release plan may just have made a team's repos public, and those open now.
        challenge = _lock(session, slug)
        _reveal_public(session, challenge, stage, "decision_final", moment)
        if last:
            challenge.ended_at = moment
            _append(session, challenge, "challenge.ended", {"stage": stage, "at": iso(moment)}, moment)
        finalized.append((slug, stage))
    return finalized


def check_ledger_head(session: Session, challenge: Challenge) -> None:
    """Refuse to act on a challenge whose stored chain does not end where its row says."""
    last = session.scalar(
        select(LedgerEntry).where(LedgerEntry.challenge_id == challenge.id).order_by(LedgerEntry.seq.desc())
    )
    if (last.hash if last else ledger.GENESIS) != challenge.head_hash:
        raise LedgerError(f"The ledger of {challenge.slug} does not end at its recorded head")
