"""The ledger as a whole: reading, exporting and verifying it, and the release actions appended to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.challenge import ledger, recompute
from baton.challenge.errors import LedgerError
from baton.challenge.models import Challenge, LedgerEntry
from baton.challenge.service._common import _append, _lock, _now, events_of, get_challenge
from baton.challenge.service.sealed_names import _reveal_public, named_repo, openings, seal_if_private
from baton.core.errors import BadRequestError


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


def check_ledger_head(session: Session, challenge: Challenge) -> None:
    """Refuse to act on a challenge whose stored chain does not end where its row says."""
    last = session.scalar(
        select(LedgerEntry).where(LedgerEntry.challenge_id == challenge.id).order_by(LedgerEntry.seq.desc())
    )
    if (last.hash if last else ledger.GENESIS) != challenge.head_hash:
        raise LedgerError(f"The ledger of {challenge.slug} does not end at its recorded head")
