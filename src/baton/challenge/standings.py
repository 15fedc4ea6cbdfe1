"""A stage's live standings before its decision, and the stored snapshot the public page reads.

The standings are what the decision would compute now: ``recompute.compute_decision`` on the state
replayed from the ledger (the very code ``decide`` and ``verify`` run), with a provisional seed drawn
from the head (the stage's spec seed when it names one), so the bootstrap intervals are reproducible
for a given head. Only the numbers are kept: no outcome, rank order or tie-break, which only the
decision settles. The record is computed from the public ledger alone, where a blind arena's battles
stay sealed until the decision closes voting, so no rating can be computed (and none is shown) from
them before then.

Replaying a ledger with a million votes takes seconds, so the page never does: it reads the stage's
snapshot (``challenge_standings``: the standings, the ledger head and seq they were computed at,
and when). A periodic job (``challenge.standings_refresh``, every ``REFRESH_SECONDS``) recomputes the
snapshots of undecided stages whose challenge's head moved on, one replay per challenge, so however
fast votes arrive a stage is recomputed at most once per period (the debounce); an operator runs
``baton challenge standings SLUG`` to do it now. A decided stage's standings are its decision record.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from baton.challenge import recompute
from baton.challenge.models import Challenge, Decision
from baton.core import clock
from baton.core.database import Base, UTCDateTime

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

logger = logging.getLogger("baton.challenge.standings")

REFRESH_JOB: Final = "challenge.standings_refresh"
REFRESH_SECONDS: Final = 60

# What a preview keeps of each team's row (and nothing of the decision's outcome).
_TEAM_KEYS: Final = ("team", "name", "composite", "stderr", "lower", "upper", "criteria", "points_rank")
_CELL_KEYS: Final = ("value", "stderr", "points", "lower", "upper")  # not the detail: the page needs none
_ARENA_KEYS: Final = ("votes_total", "votes_used", "ratings", "bootstrap_rounds")


class StandingsSnapshot(Base):
    """One stage's standings as computed at a ledger head (the latest computation replaces the row)."""

    __tablename__ = "challenge_standings"
    __table_args__ = (UniqueConstraint("challenge_id", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge_challenges.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    head_seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    standings: Mapped[dict[str, Any]] = mapped_column(JSON)


def preview_seed(stage_seed: int | None, head: str) -> int:
    """The provisional seed: the spec's seed when it names one, else 31 bits of the head hash."""
    if stage_seed is not None:
        return stage_seed
    return int(head[:8] or "0", 16) & 0x7FFFFFFF


def compute(state: recompute.State, stage_id: str, *, head: str, head_seq: int, now: datetime) -> dict[str, Any]:
    """The stage's standings on ``state``: the decision record's numbers, without its outcome."""
    spec = state.require_spec()
    stage = spec.stage(stage_id)
    record = recompute.compute_decision(
        state,
        stage_id,
        seed=preview_seed(stage.seed, head),
        decided_at=clock.aware(now).isoformat(),
        head=head,
        head_seq=head_seq,
    )
    teams = []
    for row in record["teams"]:
        kept = {key: row.get(key) for key in _TEAM_KEYS}
        kept["criteria"] = {
            criterion: {key: cell.get(key) for key in _CELL_KEYS} for criterion, cell in (row["criteria"] or {}).items()
        }
        kept["entry"] = row.get("entry")
        teams.append(kept)
    teams.sort(key=lambda row: (row["points_rank"], row["team"]))
    return {
        "challenge": record["challenge"],
        "stage": record["stage"],
        "stage_title": record["stage_title"],
        "stage_title_ko": record["stage_title_ko"],
        "total": record["total"],
        "criteria": record["criteria"],
        "teams": teams,
        "arena": {
            criterion: {key: published.get(key) for key in _ARENA_KEYS}
            for criterion, published in (record.get("arena") or {}).items()
        },
        "head": head,
        "head_seq": head_seq,
        "computed_at": record["decided_at"],
    }


def _decided(session: Session, challenge: Challenge) -> set[str]:
    rows = session.scalars(select(Decision.stage).where(Decision.challenge_id == challenge.id))
    return set(rows)


def _candidates(state: recompute.State, decided: set[str], stages: list[str] | None) -> list[str]:
    """The stages worth a preview: undecided, with teams in them (all of the spec's, or those named)."""
    spec = state.require_spec()
    wanted = [stage.id for stage in spec.stages] if stages is None else stages
    for stage_id in wanted:
        spec.stage(stage_id)  # KeyError for an unknown stage
    return [stage_id for stage_id in wanted if stage_id not in decided and recompute.participants(state, stage_id)]


def _stored(session: Session, challenge_id: int) -> dict[str, StandingsSnapshot]:
    query = select(StandingsSnapshot).where(StandingsSnapshot.challenge_id == challenge_id)
    return {row.stage: row for row in session.scalars(query)}


def compute_stale(
    session: Session, challenge: Challenge, *, stages: list[str] | None = None, force: bool = False
) -> tuple[int, str, list[tuple[str, dict[str, Any]]]]:
    """The standings of ``challenge``'s undecided stages whose snapshot is behind its head (all of them
    with ``force``), from one replay of its ledger: (head seq, head hash, [(stage, standings)]).
    It only reads: a read session will do, so a long replay holds no write lock."""
    from baton.challenge.service import events_of

    rows = _stored(session, challenge.id)
    head, head_seq = challenge.head_hash, challenge.last_seq
    wanted = stages if stages is not None else [str(s["id"]) for s in challenge.spec.get("stages") or []]
    behind = [stage for stage in wanted if force or stage not in rows or rows[stage].head_seq < head_seq]
    if not behind:
        return head_seq, head, []
    state = recompute.replay(events_of(session, challenge))
    now = clock.now()
    found = []
    for stage_id in _candidates(state, _decided(session, challenge), behind):
        try:
            found.append((stage_id, compute(state, stage_id, head=head, head_seq=head_seq, now=now)))
        except (ValueError, KeyError) as error:  # e.g. a repechage with nobody admitted yet
            logger.info("no standings for %s %s: %s", challenge.slug, stage_id, error)
    return head_seq, head, found


def store(
    session: Session, challenge_id: int, head_seq: int, head: str, computed: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    """Write computed standings (a write session); a snapshot already newer than ``head_seq`` stays."""
    rows = _stored(session, challenge_id)
    now = clock.now()
    written = []
    for stage_id, standings in computed:
        row = rows.get(stage_id)
        if row is not None and row.head_seq > head_seq:
            continue
        if row is None:
            row = StandingsSnapshot(challenge_id=challenge_id, stage=stage_id)
            session.add(row)
        row.head_seq, row.head_hash, row.computed_at, row.standings = head_seq, head, now, standings
        written.append(stage_id)
    session.flush()
    return written


def refresh(
    session: Session, challenge: Challenge, *, stages: list[str] | None = None, force: bool = False
) -> list[str]:
    """Compute and store in one write session (the demo, tests); returns the stages written. The job
    and the command use :func:`refresh_challenge`, which replays outside the write transaction."""
    head_seq, head, computed = compute_stale(session, challenge, stages=stages, force=force)
    return store(session, challenge.id, head_seq, head, computed)


def refresh_challenge(
    runtime: Runtime, slug: str, *, stages: list[str] | None = None, force: bool = False
) -> tuple[int, list[str]]:
    """Replay in a read session, then write in a short one (SQLite's one writer is not held during
    the replay, a minute or two with a million votes); returns (head seq, stages written)."""
    with runtime.database.session() as session:
        challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
        if challenge is None:
            return 0, []
        challenge_id = challenge.id
        head_seq, head, computed = compute_stale(session, challenge, stages=stages, force=force)
    if not computed:
        return head_seq, []
    with runtime.database.session(write=True) as session:
        return head_seq, store(session, challenge_id, head_seq, head, computed)


def refresh_stale(runtime: Runtime) -> dict[str, Any]:
    """The periodic job: every challenge not ended, its undecided stages whose snapshot is behind."""
    written: dict[str, list[str]] = {}
    with runtime.database.session() as session:
        slugs = [
            row.slug
            for row in session.scalars(select(Challenge).where(Challenge.ended_at.is_(None)).order_by(Challenge.id))
        ]
    for slug in slugs:
        _seq, stages = refresh_challenge(runtime, slug)
        if stages:
            written[slug] = stages
    return {"refreshed": written}


def snapshot(session: Session, challenge: Challenge, stage: str) -> StandingsSnapshot | None:
    return session.scalar(
        select(StandingsSnapshot).where(
            StandingsSnapshot.challenge_id == challenge.id, StandingsSnapshot.stage == stage
        )
    )


def live(session: Session, challenge: Challenge, stage: str) -> dict[str, Any]:
    """The standings recomputed from the whole ledger now (the operator's command; the benchmark's peer)."""
    from baton.challenge.service import state_of

    state = state_of(session, challenge)
    return compute(state, stage, head=challenge.head_hash, head_seq=challenge.last_seq, now=clock.now())
