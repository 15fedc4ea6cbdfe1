"""Human review of automated processing (PIPA Art. 37-2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core.database import utcnow
from baton.talent import consent as notices
from baton.talent.errors import InvalidProfileError, ReviewNotFoundError
from baton.talent.models import TalentProfile, TalentReview
from baton.talent.service.common import _iso, _log, active_consent, own_profile
from baton.talent.service.visibility import profile_json


def request_review(session: Session, user: Actor, subject: str, message: str = "") -> TalentReview:
    profile = own_profile(session, user)
    subject = subject.strip()
    if not subject or len(subject) > 200:
        raise InvalidProfileError(
            "A review request needs a subject of 1 to 200 characters",
            hint="Say what should be reviewed, e.g. 'recommendations for opening 12'.",
        )
    review = TalentReview(profile_id=profile.id, subject=subject, message=message.strip()[:5000], status="open")
    session.add(review)
    _log(session, profile, "review", "human review requested")
    session.flush()
    return review


def list_reviews(session: Session, operator: Actor, *, status: str | None = "open") -> list[TalentReview]:
    operator.require_operator("review talent recommendations or run matching")
    query = select(TalentReview).order_by(TalentReview.id)
    if status is not None:
        query = query.where(TalentReview.status == status)
    return list(session.scalars(query))


def own_reviews(session: Session, user: Actor) -> list[TalentReview]:
    profile = own_profile(session, user)
    return list(session.scalars(select(TalentReview).where(TalentReview.profile_id == profile.id)))


def answer_review(session: Session, operator: Actor, review_id: int, answer: str) -> TalentReview:
    operator.require_operator("review talent recommendations or run matching")
    review = session.get(TalentReview, review_id)
    if review is None:
        raise ReviewNotFoundError(f"No review request {review_id}")
    if not answer.strip():
        raise InvalidProfileError("The answer is empty", hint="Write the outcome of the human review.")
    review.answer = answer.strip()
    review.status = "answered"
    review.answered_at = utcnow()
    review.answered_by_id = operator.account_id
    session.flush()
    return review


def review_json(review: TalentReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "subject": review.subject,
        "message": review.message,
        "status": review.status,
        "created_at": _iso(review.created_at),
        "answer": review.answer,
        "answered_at": _iso(review.answered_at),
    }


def review_for_operator(session: Session, review: TalentReview) -> dict[str, Any]:
    """A queued review with what the operator needs to review the automated processing."""
    profile = session.get(TalentProfile, review.profile_id)
    assert profile is not None
    recommendation = active_consent(session, profile, notices.RECOMMENDATION)
    items = list(recommendation.items) if recommendation is not None else ["skills"]
    return {
        **review_json(review),
        "person": profile_json(profile, items),
        "automated_recommendation": profile.automated_recommendation,
    }
