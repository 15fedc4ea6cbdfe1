"""Sealed names: private repos and open battles in the public ledger.

A private repo is written into the ledger (and every public response) as a pseudonym plus a salted
commitment to (repo, revision); a battle's teams and answers as a commitment while voting is open.
The openings (value and salt) stay in ``challenge_openings`` until a ``commitments.revealed``
event publishes them: a stage's battles when its voting closes (the decision), a model once its
decision is final and only if its repo is public by then. Openings of repos still private are kept
for operators, who hand them to auditors (``GET .../openings``, ``baton challenge export --openings``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge import ledger, recompute
from baton.challenge.models import Challenge, LedgerEntry, Opening, Submission
from baton.challenge.service._common import OPERATOR_ACTION, _append, _event, _lock, _now, get_challenge
from baton.core.errors import BadRequestError
from baton.core.sealing import Sealed, commitment, model_value, new_salt, repo_value
from baton.core.sealing import pseudonym as keyed_pseudonym

if TYPE_CHECKING:  # the provenance domain and the hub are imported where they are used
    from baton.hub.models import Repo
    from baton.provenance.models import ProvenanceReport


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
        operator.require_operator(OPERATOR_ACTION)
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
