"""Profiles: creation, correction, suspension, retention and deletion (PIPA Art. 36, 37)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core.database import utcnow
from baton.talent import consent as notices
from baton.talent.errors import InvalidProfileError, NoProfileError, ProfileExistsError
from baton.talent.models import (
    SERVICE_STATUSES,
    VISIBILITY_NOBODY,
    TalentAudience,
    TalentConsent,
    TalentInvitation,
    TalentMatch,
    TalentMatchGroup,
    TalentOpeningPreference,
    TalentPersonPreference,
    TalentPlacement,
    TalentProfile,
    TalentProvision,
    TalentRequest,
    TalentReview,
)
from baton.talent.service.common import (
    EMAIL_PATTERN,
    FIELD_ITEM,
    ITEM_FIELDS,
    _clean_strings,
    _log,
    _retention_deadline,
    collected_items,
    find_profile,
    own_profile,
    schedule_retention,
    validate_skills,
)
from baton.talent.service.inputs import CollectionConsent, ProfileFields
from baton.talent.service.invitations import list_invitations


def _apply_fields(session: Session, profile: TalentProfile, fields: ProfileFields, allowed: set[str]) -> None:
    """Write ``fields`` into ``profile``; refuse items the person did not consent to collect."""
    given = fields.model_dump(exclude_unset=True, exclude_none=True, exclude={"clear"})
    for column in given:
        item = FIELD_ITEM[column]
        if item not in allowed:
            label = notices.ITEM_LABELS[item]["en"]
            raise InvalidProfileError(
                f"You did not consent to the collection of '{item}' ({label})",
                hint="Leave it out, or add it to your collection consent first "
                "(POST /api/talent/me/consents with purpose 'collection').",
            )
    for item in fields.clear:
        if item not in notices.OPTIONAL_ITEMS:
            raise InvalidProfileError(
                f"'{item}' cannot be cleared", hint="Clear only optional items: " + ", ".join(notices.OPTIONAL_ITEMS)
            )
        _erase_item(profile, item)
    if fields.name is not None:
        if not fields.name:
            raise InvalidProfileError("The name cannot be empty")
        profile.name = fields.name
    if fields.contact_email is not None:
        if not EMAIL_PATTERN.match(fields.contact_email):
            raise InvalidProfileError(
                f"'{fields.contact_email}' is not an email address", hint="Give an address like name@example.org."
            )
        profile.contact_email = fields.contact_email
    if fields.skills is not None:
        if not fields.skills:
            raise InvalidProfileError(
                "At least one skill is required",
                hint="Give ACM CCS codes; find them with GET /api/talent/skills?q=<words>.",
            )
        profile.skills = validate_skills(fields.skills)
    if fields.headline is not None:
        profile.headline = fields.headline
    if fields.keywords is not None:
        profile.keywords = _clean_strings(fields.keywords, "keywords")
    if fields.education is not None:
        profile.education = [entry.model_dump(mode="json") for entry in fields.education]
    if fields.career is not None:
        for entry in fields.career:
            if entry.start and entry.end and entry.end < entry.start:
                raise InvalidProfileError(f"Career at '{entry.organization}' ends before it starts")
        profile.career = [entry.model_dump(mode="json") for entry in fields.career]
    if fields.publications is not None:
        profile.publications = [entry.model_dump(mode="json") for entry in fields.publications]
    if fields.patents is not None:
        profile.patents = [entry.model_dump(mode="json") for entry in fields.patents]
    if fields.desired_roles is not None:
        profile.desired_roles = _clean_strings(fields.desired_roles, "desired roles")
    if fields.places is not None:
        profile.places = _clean_strings(fields.places, "places")
    if fields.earliest_start is not None:
        profile.earliest_start = fields.earliest_start
    if fields.service_status is not None:
        if fields.service_status not in SERVICE_STATUSES:
            raise InvalidProfileError(
                f"Unknown service status '{fields.service_status}'",
                hint="Use one of: " + ", ".join(SERVICE_STATUSES) + " (expert_research_personnel = 전문연구요원).",
            )
        profile.service_status = fields.service_status
    if fields.service_until is not None:
        profile.service_until = fields.service_until


def _erase_item(profile: TalentProfile, item: str) -> None:
    for column in ITEM_FIELDS[item]:
        current = getattr(profile, column)
        if isinstance(current, list):
            setattr(profile, column, [])
        elif column == "headline":
            profile.headline = ""
        else:
            setattr(profile, column, None)


def create_profile(session: Session, user: Actor, fields: ProfileFields, consent: CollectionConsent) -> TalentProfile:
    """A new profile with the person's consent to collect it (required items plus chosen optional ones)."""
    if find_profile(session, user) is not None:
        raise ProfileExistsError(f"'{user.name}' already has a talent profile")
    items = notices.validate_consent_items(notices.COLLECTION, consent.notice_version, consent.optional_items)
    missing = [
        label
        for label, value in (("name", fields.name), ("contact_email", fields.contact_email), ("skills", fields.skills))
        if not value
    ]
    if missing:
        raise InvalidProfileError(
            "A profile needs " + ", ".join(missing),
            hint="Only name, contact_email and at least one skill are required; every other item is optional.",
        )
    now = utcnow()
    profile = TalentProfile(
        public_id="p-" + secrets.token_hex(6),
        user_id=user.account_id,
        name="",
        contact_email="",
        skills=[],
        retain_until=_retention_deadline(now),
        created_at=now,
        updated_at=now,
        visibility=VISIBILITY_NOBODY,
        automated_recommendation=True,
        headline="",
        keywords=[],
        education=[],
        career=[],
        publications=[],
        patents=[],
        desired_roles=[],
        places=[],
    )
    _apply_fields(session, profile, fields, set(items))
    if "former_team" in items:
        _adopt_former_team(session, user, profile)
    session.add(profile)
    session.flush()
    session.add(
        TalentConsent(
            profile_id=profile.id,
            purpose=notices.COLLECTION,
            items=items,
            notice_version=consent.notice_version,
            language=consent.language,
            granted_at=now,
        )
    )
    _log(session, profile, "consent.collection", "consent to collection recorded")
    schedule_retention(session)
    session.flush()
    return profile


def _adopt_former_team(session: Session, user: Actor, profile: TalentProfile) -> None:
    invitation = session.scalars(
        select(TalentInvitation)
        .where(TalentInvitation.user_id == user.account_id, TalentInvitation.status == "accepted")
        .order_by(TalentInvitation.id.desc())
    ).first()
    if invitation is not None:
        profile.former_challenge = invitation.challenge
        profile.former_team = invitation.team


def correct_profile(session: Session, user: Actor, fields: ProfileFields) -> TalentProfile:
    """Correction (Art. 36): effective at once."""
    profile = own_profile(session, user)
    _apply_fields(session, profile, fields, set(collected_items(session, profile)))
    profile.updated_at = utcnow()
    _log(session, profile, "correction", "profile corrected")
    session.flush()
    return profile


def suspend_profile(session: Session, user: Actor) -> TalentProfile:
    """Suspension (Art. 37): hidden from everyone and out of every ranking, at once."""
    profile = own_profile(session, user)
    if profile.suspended_at is None:
        profile.suspended_at = utcnow()
    _log(session, profile, "suspension", "processing suspended")
    session.flush()
    return profile


def resume_profile(session: Session, user: Actor) -> TalentProfile:
    profile = own_profile(session, user)
    profile.suspended_at = None
    _log(session, profile, "resumption", "processing resumed")
    session.flush()
    return profile


def renew_retention(session: Session, user: Actor) -> TalentProfile:
    """The person asks to be kept: the retention period starts again from today."""
    profile = own_profile(session, user)
    profile.retain_until = _retention_deadline()
    _log(session, profile, "renewal", "retention period renewed")
    session.flush()
    return profile


def set_automated_recommendation(session: Session, user: Actor, *, accept: bool) -> TalentProfile:
    """Refusing automated recommendation (Art. 37-2) takes the person out of every automated ranking at once."""
    profile = own_profile(session, user)
    profile.automated_recommendation = accept
    _log(
        session,
        profile,
        "automated.accept" if accept else "automated.refuse",
        "automated recommendation accepted" if accept else "automated recommendation refused",
    )
    session.flush()
    return profile


def destroy_profile(session: Session, profile: TalentProfile, *, kind: str) -> None:
    """Delete every talent row about the person; anonymize the two that outlive it (placements, request log)."""
    profile_id, user_id = profile.id, profile.user_id
    session.execute(
        update(TalentPlacement)
        .where(TalentPlacement.profile_id == profile_id)
        .values(profile_id=None, opening_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(TalentRequest)
        .where(TalentRequest.profile_id == profile_id)
        .values(profile_id=None)
        .execution_options(synchronize_session=False)
    )
    from baton.talent import groups  # groups builds on this module

    groups.forget_profile(session, profile_id)
    for table in (
        TalentMatchGroup,
        TalentMatch,
        TalentReview,
        TalentProvision,
        TalentPersonPreference,
        TalentOpeningPreference,
        TalentAudience,
        TalentConsent,
    ):
        session.execute(
            delete(table).where(table.profile_id == profile_id).execution_options(synchronize_session=False)
        )
    session.execute(
        delete(TalentInvitation).where(TalentInvitation.user_id == user_id).execution_options(synchronize_session=False)
    )
    session.delete(profile)
    _log(session, None, kind, "profile and every record about the person destroyed")
    session.flush()


def delete_profile(session: Session, user: Actor) -> dict[str, Any]:
    """Deletion (Art. 36): everything about the person in the talent tables goes, at once."""
    profile = find_profile(session, user)
    if profile is None:
        invitations = list_invitations(session, user)
        if not invitations:
            raise NoProfileError(f"'{user.name}' has no talent profile and no invitations: nothing to delete")
        for invitation in invitations:
            session.delete(invitation)
        _log(session, None, "deletion", "invitations deleted")
        return {"deleted": True, "message": "Your invitations were deleted; Baton holds nothing else about you."}
    destroy_profile(session, profile, kind="deletion")
    return {
        "deleted": True,
        "message": "Your profile, consents, preferences, reviews and invitations were deleted. "
        "Organizations that received your profile under your consent keep their copy under their own "
        "retention terms; ask them directly to delete it.",
    }
