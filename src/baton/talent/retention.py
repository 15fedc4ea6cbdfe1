"""Destruction at the end of retention (PIPA Art. 21).

A profile is kept until ``retain_until`` (two years from consent, renewed when the person asks);
after that the daily ``talent.retention`` job (or ``baton talent purge-expired``) destroys it and
every row about the person, exactly as a deletion request would, and logs the destruction with
its date and no personal data. Pending invitations nobody answered are deleted after 180 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.core.database import utcnow
from baton.talent import service
from baton.talent.models import TalentInvitation, TalentProfile

if TYPE_CHECKING:
    from baton.core.runtime import Runtime


def purge_expired(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Destroy profiles past their retention and stale pending invitations; returns the counts."""
    now = now or utcnow()
    expired = list(session.scalars(select(TalentProfile).where(TalentProfile.retain_until < now)))
    for profile in expired:
        service.destroy_profile(session, profile, kind="retention")
    stale = list(
        session.scalars(
            select(TalentInvitation).where(
                TalentInvitation.status == "pending",
                TalentInvitation.created_at < now - timedelta(days=service.INVITATION_RETENTION_DAYS),
            )
        )
    )
    for invitation in stale:
        session.delete(invitation)
    session.flush()
    return {"profiles_destroyed": len(expired), "invitations_deleted": len(stale)}


def purge_expired_in(runtime: Runtime) -> dict[str, int]:
    """``purge_expired`` in its own write transaction (for the CLI and the job)."""
    with runtime.database.session(write=True) as session:
        return purge_expired(session)


def retention_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, int]:
    """Job handler for ``talent.retention``: purge, then queue tomorrow's sweep (idempotent)."""
    with runtime.database.session(write=True) as session:
        counts = purge_expired(session)
        service.schedule_retention(session)
    return counts
