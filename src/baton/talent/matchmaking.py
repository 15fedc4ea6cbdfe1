"""Automated recommendation, the non-binding matching run and the exposure report, over the database.

The scoring and the matching themselves are pure functions (``baton.talent.recommend`` and
``baton.talent.matching``); this module decides who may take part and what each side sees:

- Only people with an active ``recommendation`` consent who have not refused automated
  recommendation and are not suspended are ranked automatically, and only from the items their
  consent names (gender, age and nationality are never held at all).
- An opening's owner sees only people visible to them (their visibility and hidden-from list
  apply), with only the items visible to them.
- Every recommendation carries its explanation in Korean and English and says it is automated.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.core.database import utcnow
from baton.core.errors import NotFoundError
from baton.talent import consent as notices
from baton.talent import groups as move_together
from baton.talent import service
from baton.talent.errors import AutomatedRecommendationRefusedError, ConsentRequiredError
from baton.talent.matching import deferred_acceptance
from baton.talent.models import (
    OPENING_OPEN,
    TalentMatch,
    TalentMatchGroup,
    TalentMatchingRun,
    TalentOpening,
    TalentOpeningPreference,
    TalentPersonPreference,
    TalentProfile,
)
from baton.talent.recommend import (
    NOTICE_EN,
    NOTICE_KO,
    OpeningView,
    ProfileView,
    Recommendation,
    exposure_report,
    preference_lists,
    rank_openings_for,
    rank_people_for,
)

LIST_LENGTH = 20
GROUP_NOT_IN_RUN = "member_not_in_run"  # a member was suspended or had no recommendation consent
MIN_SCORE = 0.05


def profile_view(profile: TalentProfile, items: list[str]) -> ProfileView:
    """What ranking may use of a person: only the items of their recommendation consent."""
    wanted = set(items)
    parts: list[str] = []
    if "headline" in wanted:
        parts.append(profile.headline)
    if "keywords" in wanted:
        parts.extend(profile.keywords)
    if "career" in wanted:
        parts.extend(f"{entry.get('role', '')} {entry.get('organization', '')}" for entry in profile.career)
    if "education" in wanted:
        parts.extend(f"{entry.get('field', '')} {entry.get('degree', '')}" for entry in profile.education)
    if "publications" in wanted:
        parts.extend(str(entry.get("title", "")) for entry in profile.publications)
    if "patents" in wanted:
        parts.extend(str(entry.get("title", "")) for entry in profile.patents)
    return ProfileView(
        id=profile.public_id,
        team=None,  # the former team is for the exposure report only, never a ranking feature
        skills=tuple(profile.skills),
        text=" ".join(part for part in parts if part).strip(),
        places=tuple(profile.places) if "places" in wanted else (),
        earliest_start=profile.earliest_start if "earliest_start" in wanted else None,
        desired_roles=tuple(profile.desired_roles) if "desired_roles" in wanted else (),
    )


def opening_view(opening: TalentOpening, organization: str) -> OpeningView:
    return OpeningView(
        id=str(opening.id),
        organization=organization,
        required_skills=tuple(opening.required_skills),
        preferred_skills=tuple(opening.preferred_skills),
        text=f"{opening.title}\n{opening.description}",
        place=opening.location or None,
        start=opening.starts_on,
        capacity=opening.places,
    )


def _open_openings(session: Session) -> list[tuple[TalentOpening, str]]:
    rows = session.execute(
        select(TalentOpening, Account.name)
        .join(Account, Account.id == TalentOpening.organization_id)
        .where(TalentOpening.status == OPENING_OPEN)
        .order_by(TalentOpening.id)
    ).all()
    return [(opening, name) for opening, name in rows]


def _participants(session: Session) -> tuple[list[TalentProfile], service.Audience]:
    """People with an active recommendation consent who are not suspended."""
    profiles = list(
        session.scalars(select(TalentProfile).where(TalentProfile.suspended_at.is_(None)).order_by(TalentProfile.id))
    )
    audience = service.Audience.load(session, [profile.id for profile in profiles])
    consenting = [
        profile
        for profile in profiles
        if any(row.purpose == notices.RECOMMENDATION for row in audience.consents[profile.id])
    ]
    return consenting, audience


def _recommendation_items(audience: service.Audience, profile: TalentProfile) -> list[str]:
    for row in audience.consents[profile.id]:
        if row.purpose == notices.RECOMMENDATION:
            return list(row.items)
    return []


def _recommendation_json(rec: Recommendation) -> dict[str, Any]:
    return {
        "score": round(rec.score, 4),
        "rank": rec.rank,
        "of": rec.of,
        "skill_score": round(rec.skill_score, 4),
        "text_score": round(rec.text_score, 4),
        "matched_skills": [asdict(skill) for skill in rec.matched_skills],
        "missing_required": list(rec.missing_required),
        "explanation_ko": rec.explanation_ko,
        "explanation_en": rec.explanation_en,
        "automated": True,
    }


def recommendations_for_person(session: Session, user: Actor, *, limit: int = LIST_LENGTH) -> dict[str, Any]:
    """Open openings ranked for the person (automated; refused or unconsented: a clear error)."""
    profile = service.own_profile(session, user)
    service.require_active(profile)
    if not profile.automated_recommendation:
        raise AutomatedRecommendationRefusedError("You refused automated recommendation")
    consent = service.active_consent(session, profile, notices.RECOMMENDATION)
    if consent is None:
        raise ConsentRequiredError(
            "Automated recommendation needs your consent",
            hint="Read the 'recommendation' notice (GET /api/talent/notices) and consent "
            "(POST /api/talent/me/consents with purpose 'recommendation'); or browse GET /api/talent/openings.",
        )
    openings = _open_openings(session)
    by_id = {str(opening.id): opening for opening, _name in openings}
    views = [opening_view(opening, name) for opening, name in openings]
    ranked = rank_openings_for(profile_view(profile, list(consent.items)), views) if views else []
    return {
        "automated": True,
        "notice_ko": NOTICE_KO,
        "notice_en": NOTICE_EN,
        "items": [
            {"opening": service.opening_json(session, by_id[rec.opening_id]), **_recommendation_json(rec)}
            for rec in ranked[:limit]
            if rec.score >= MIN_SCORE
        ],
    }


def recommendations_for_opening(
    session: Session, user: Actor, opening_id: int, *, limit: int = LIST_LENGTH
) -> dict[str, Any]:
    """People ranked for an opening, among those visible to the viewer who accept automated ranking."""
    opening = service.writable_opening(session, user, opening_id)
    organization = session.get(Account, opening.organization_id)
    assert organization is not None
    viewer_orgs = service.organization_ids_of(session, user) | {opening.organization_id}
    people, audience = _participants(session)
    visible: dict[str, tuple[TalentProfile, list[str]]] = {}
    for profile in people:
        if not profile.automated_recommendation or profile.user_id == user.account_id:
            continue
        items = audience.items_for_organizations(profile, viewer_orgs)
        if items is not None:
            visible[profile.public_id] = (profile, items)
    views = [profile_view(profile, _recommendation_items(audience, profile)) for profile, _items in visible.values()]
    ranked = rank_people_for(opening_view(opening, organization.name), views) if views else []
    return {
        "automated": True,
        "notice_ko": NOTICE_KO,
        "notice_en": NOTICE_EN,
        "opening": service.opening_json(session, opening),
        "items": [
            {
                "person": service.profile_json(visible[rec.person_id][0], visible[rec.person_id][1]),
                **_recommendation_json(rec),
            }
            for rec in ranked[:limit]
            if rec.score >= MIN_SCORE
        ],
    }


def run_matching(session: Session, operator: Actor) -> dict[str, Any]:
    """A non-binding matching (applicant-proposing deferred acceptance) over consenting people and open openings.

    A person's list is their own (``PUT /api/talent/me/preferences``) or, if they gave none and
    accept automated ranking, the suggested one; an opening's list is its owner's own or the
    suggested one over the people visible to its organization. Blocking pairs are reported.
    """
    operator.require_operator("review talent recommendations or run matching")
    openings = _open_openings(session)
    people, audience = _participants(session)
    opening_ids = {str(opening.id) for opening, _name in openings}
    automated = [profile for profile in people if profile.automated_recommendation]
    auto_people, auto_openings = (
        preference_lists(
            [profile_view(profile, _recommendation_items(audience, profile)) for profile in automated],
            [opening_view(opening, name) for opening, name in openings],
            length=LIST_LENGTH,
        )
        if automated and openings
        else ({}, {})
    )
    by_profile_id = {profile.id: profile for profile in people}
    own_person: dict[str, list[str]] = {}
    for row in session.scalars(select(TalentPersonPreference).order_by(TalentPersonPreference.rank)):
        person = by_profile_id.get(row.profile_id)
        if person is not None and str(row.opening_id) in opening_ids:
            own_person.setdefault(person.public_id, []).append(str(row.opening_id))
    own_opening: dict[str, list[str]] = {}
    for ranked in session.scalars(select(TalentOpeningPreference).order_by(TalentOpeningPreference.rank)):
        person = by_profile_id.get(ranked.profile_id)
        if person is not None and str(ranked.opening_id) in opening_ids:
            own_opening.setdefault(str(ranked.opening_id), []).append(person.public_id)

    applicant_prefs: dict[str, list[str]] = {}
    for profile in people:
        if profile.public_id in own_person:
            applicant_prefs[profile.public_id] = own_person[profile.public_id]
        elif profile.automated_recommendation:
            applicant_prefs[profile.public_id] = auto_people.get(profile.public_id, [])
        else:
            applicant_prefs[profile.public_id] = []
    automated_ids = {profile.public_id for profile in automated}
    by_public = {profile.public_id: profile for profile in people}
    opening_prefs: dict[str, list[str]] = {}
    for opening, _name in openings:
        key = str(opening.id)
        candidates = own_opening.get(key) or [pid for pid in auto_openings.get(key, []) if pid in automated_ids]
        # The owner may rank only people visible to their organization, now.
        opening_prefs[key] = [
            public_id
            for public_id in candidates
            if (person := by_public.get(public_id)) is not None
            and audience.items_for_organizations(person, {opening.organization_id}) is not None
        ]
    capacities = {str(opening.id): opening.places for opening, _name in openings}
    # Groups whose members all accepted move together; one whose member is not in this run
    # (suspended, no recommendation consent) is reported as skipped and its members apply alone.
    id_to_public = {profile.id: profile.public_id for profile in people}
    matched_groups: list[list[str]] = []
    skipped_groups: list[list[int]] = []
    for member_ids in move_together.active_groups(session):
        if all(member_id in id_to_public for member_id in member_ids):
            matched_groups.append([id_to_public[member_id] for member_id in member_ids])
        else:
            skipped_groups.append(member_ids)
    result = deferred_acceptance(applicant_prefs, opening_prefs, capacities, groups=matched_groups)
    run = TalentMatchingRun(
        started_by_id=operator.account_id,
        created_at=utcnow(),
        people=len(applicant_prefs),
        openings=len(capacities),
        matched=sum(1 for value in result.assignment.values() if value is not None),
        blocking_pairs=len(result.blocking_pairs),
    )
    session.add(run)
    session.flush()
    public_to_id = {profile.public_id: profile.id for profile in people}
    for public_id, opening_key in result.assignment.items():
        if opening_key is not None:
            session.add(TalentMatch(run_id=run.id, profile_id=public_to_id[public_id], opening_id=int(opening_key)))
    for public_id, opening_key in result.blocking_pairs:
        session.add(
            TalentMatch(run_id=run.id, profile_id=public_to_id[public_id], opening_id=int(opening_key), blocking=True)
        )
    label = 0
    for outcome in result.group_outcomes:
        label += 1
        for public_id, opening_key in zip(outcome.members, outcome.assigned, strict=True):
            session.add(
                TalentMatchGroup(
                    run_id=run.id,
                    label=label,
                    profile_id=public_to_id[public_id],
                    opening_id=int(opening_key) if opening_key is not None else None,
                    together=outcome.together,
                    option_rank=outcome.option_rank,
                    options=outcome.options,
                )
            )
    for member_ids in skipped_groups:
        label += 1
        for member_id in member_ids:
            session.add(TalentMatchGroup(run_id=run.id, label=label, profile_id=member_id, skipped=GROUP_NOT_IN_RUN))
    session.flush()
    return matching_run_json(session, run)


def matching_run_json(session: Session, run: TalentMatchingRun) -> dict[str, Any]:
    rows = session.execute(
        select(TalentMatch, TalentProfile.public_id)
        .join(TalentProfile, TalentProfile.id == TalentMatch.profile_id)
        .where(TalentMatch.run_id == run.id)
        .order_by(TalentMatch.id)
    ).all()
    return {
        "id": run.id,
        "created_at": run.created_at.isoformat(),
        "binding": False,
        "algorithm": "applicant-proposing deferred acceptance with capacities",
        "people": run.people,
        "openings": run.openings,
        "matched": run.matched,
        "stable": run.blocking_pairs == 0,
        "assignments": [{"person": pid, "opening": row.opening_id} for row, pid in rows if not row.blocking],
        "blocking_pairs": [{"person": pid, "opening": row.opening_id} for row, pid in rows if row.blocking],
        "groups": _group_outcomes_json(session, run.id),
    }


def _group_outcomes_json(session: Session, run_id: int, *, profile_id: int | None = None) -> list[dict[str, Any]]:
    """Each group of the run: its members (a member deleted since is left out) and where each landed."""
    query = (
        select(TalentMatchGroup, TalentProfile.public_id)
        .join(TalentProfile, TalentProfile.id == TalentMatchGroup.profile_id)
        .where(TalentMatchGroup.run_id == run_id)
        .order_by(TalentMatchGroup.label, TalentMatchGroup.id)
    )
    if profile_id is not None:
        labels = select(TalentMatchGroup.label).where(
            TalentMatchGroup.run_id == run_id, TalentMatchGroup.profile_id == profile_id
        )
        query = query.where(TalentMatchGroup.label.in_(labels))
    out: dict[int, dict[str, Any]] = {}
    for row, public_id in session.execute(query).all():
        entry = out.setdefault(
            row.label,
            {
                "members": [],
                "assigned": [],
                "together": row.together,
                "option_rank": row.option_rank,
                "options": row.options,
                "skipped": row.skipped,
            },
        )
        entry["members"].append(public_id)
        entry["assigned"].append(row.opening_id)
    return list(out.values())


def get_matching_run(session: Session, operator: Actor, run_id: int) -> dict[str, Any]:
    operator.require_operator("review talent recommendations or run matching")
    run = session.get(TalentMatchingRun, run_id)
    if run is None:
        raise NotFoundError(f"No matching run {run_id}", code="MatchingRunNotFound")
    return matching_run_json(session, run)


def own_matches(session: Session, user: Actor) -> list[dict[str, Any]]:
    """The person's proposed place in the latest matching run (non-binding), if any."""
    profile = service.own_profile(session, user)
    latest = session.scalar(select(TalentMatchingRun.id).order_by(TalentMatchingRun.id.desc()).limit(1))
    if latest is None:
        return []
    rows = session.scalars(
        select(TalentMatch).where(TalentMatch.run_id == latest, TalentMatch.profile_id == profile.id)
    )
    out = []
    for row in rows:
        opening = session.get(TalentOpening, row.opening_id)
        if opening is None:
            continue
        out.append(
            {
                "run": row.run_id,
                "opening": service.opening_json(session, opening),
                "kind": "blocking_pair" if row.blocking else "proposed",
                "binding": False,
                "automated": True,
            }
        )
    for group in _group_outcomes_json(session, latest, profile_id=profile.id):
        out.append({"run": latest, "kind": "group", "group": group, "binding": False, "automated": True})
    return out


def exposure(session: Session, operator: Actor, *, top_k: int = 10) -> list[dict[str, Any]]:
    """How often each former team's people are recommended to openings, against their share of the pool."""
    operator.require_operator("review talent recommendations or run matching")
    people, audience = _participants(session)
    ranked_people = [profile for profile in people if profile.automated_recommendation]
    collected = {
        profile.id: next(
            (list(row.items) for row in audience.consents[profile.id] if row.purpose == notices.COLLECTION), []
        )
        for profile in ranked_people
    }
    team_of = {
        profile.public_id: (profile.former_team if "former_team" in collected[profile.id] else None)
        for profile in ranked_people
    }
    recommendations: list[Recommendation] = []
    for opening, name in _open_openings(session):
        visible = [
            profile
            for profile in ranked_people
            if audience.items_for_organizations(profile, {opening.organization_id}) is not None
        ]
        if visible:
            views = [profile_view(profile, _recommendation_items(audience, profile)) for profile in visible]
            recommendations.extend(rank_people_for(opening_view(opening, name), views)[:top_k])
    return [asdict(row) for row in exposure_report(recommendations, team_of, top_k=top_k)]
