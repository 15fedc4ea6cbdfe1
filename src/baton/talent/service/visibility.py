"""Visibility: who sees which items of a profile, and the JSON shapes of profiles and consents."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.accounts.models import Account
from baton.core.database import utcnow
from baton.talent import consent as notices
from baton.talent.errors import ConsentRequiredError, InvalidProfileError, ProfileNotFoundError
from baton.talent.models import (
    AUDIENCE_ALLOW,
    AUDIENCE_HIDE,
    SERVICE_EXPERT_RESEARCH,
    VISIBILITIES,
    VISIBILITY_NOBODY,
    VISIBILITY_ORGANIZATIONS,
    VISIBILITY_POOL,
    TalentAudience,
    TalentConsent,
    TalentProfile,
    TalentProvision,
)
from baton.talent.service.common import (
    SERVICE_CONSTRAINT,
    _account_name,
    _consent_items,
    _iso,
    _log,
    _organization,
    active_consent,
    active_consents,
    collected_items,
    organization_ids_of,
    own_profile,
    skill_json,
)


def set_visibility(
    session: Session,
    user: Actor,
    visibility: str,
    *,
    organizations: Sequence[str] | None = None,
    hidden_from: Sequence[str] | None = None,
) -> TalentProfile:
    """Who may see the profile; ``None`` keeps a list as it is, ``[]`` empties it."""
    profile = own_profile(session, user)
    if visibility not in VISIBILITIES:
        raise InvalidProfileError(
            f"Unknown visibility '{visibility}'", hint="Use one of: " + ", ".join(VISIBILITIES) + "."
        )
    if visibility != VISIBILITY_NOBODY and active_consent(session, profile, notices.POOL) is None:
        raise ConsentRequiredError(
            "Your profile cannot be made visible without your consent to be listed in the pool",
            hint="Read the 'pool' notice (GET /api/talent/notices) and consent (POST /api/talent/me/consents "
            "with purpose 'pool'), then set the visibility again.",
        )
    current = {
        (row.kind, row.organization_id): row
        for row in session.scalars(select(TalentAudience).where(TalentAudience.profile_id == profile.id))
    }
    allow_ids = (
        {_organization(session, name).id for name in organizations}
        if organizations is not None
        else {org_id for kind, org_id in current if kind == AUDIENCE_ALLOW}
    )
    hide_ids = (
        {_organization(session, name).id for name in hidden_from}
        if hidden_from is not None
        else {org_id for kind, org_id in current if kind == AUDIENCE_HIDE}
    )
    if allow_ids & hide_ids:
        raise InvalidProfileError("An organization cannot be both chosen and hidden from")
    if visibility == VISIBILITY_ORGANIZATIONS and not allow_ids:
        raise InvalidProfileError(
            "Visibility 'organizations' needs at least one organization",
            hint="Name the organizations that may see your profile, or choose 'pool' or 'nobody'.",
        )
    provided_to = {
        row.recipient_id for row in active_consents(session, [profile.id])[profile.id] if row.purpose == "provision"
    }
    clash = hide_ids & provided_to
    if clash:
        names = ", ".join(sorted(str(_account_name(session, org_id)) for org_id in clash))
        raise InvalidProfileError(
            f"You consented to provide your profile to {names}",
            hint="Withdraw that provision consent first, then hide from them.",
        )
    for (kind, org_id), row in current.items():
        wanted = allow_ids if kind == AUDIENCE_ALLOW else hide_ids
        if org_id not in wanted:
            session.delete(row)
    for kind, wanted in ((AUDIENCE_ALLOW, allow_ids), (AUDIENCE_HIDE, hide_ids)):
        for org_id in wanted - {org for k, org in current if k == kind}:
            session.add(TalentAudience(profile_id=profile.id, organization_id=org_id, kind=kind))
    profile.visibility = visibility
    profile.updated_at = utcnow()
    _log(session, profile, "visibility", f"visibility set to {visibility}")
    session.flush()
    return profile


@dataclass
class Audience:
    """Pre-loaded visibility facts for many profiles (one query per table, not per profile)."""

    consents: dict[int, list[TalentConsent]]
    allow: dict[int, set[int]]
    hide: dict[int, set[int]]
    provided: dict[int, set[int]]  # profile -> recipients it was provided to

    @classmethod
    def load(cls, session: Session, profile_ids: Iterable[int]) -> Audience:
        ids = list(profile_ids)
        allow: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        hide: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        provided: dict[int, set[int]] = {profile_id: set() for profile_id in ids}
        if ids:
            for row in session.scalars(select(TalentAudience).where(TalentAudience.profile_id.in_(ids))):
                (allow if row.kind == AUDIENCE_ALLOW else hide)[row.profile_id].add(row.organization_id)
            for profile_id, recipient_id in session.execute(
                select(TalentProvision.profile_id, TalentProvision.recipient_id).where(
                    TalentProvision.profile_id.in_(ids)
                )
            ):
                provided[profile_id].add(recipient_id)
        return cls(consents=active_consents(session, ids), allow=allow, hide=hide, provided=provided)

    def items_for(self, profile: TalentProfile, viewer: Actor | None, viewer_orgs: set[int]) -> list[str] | None:
        """The items ``viewer`` may see of ``profile``, or None when it is hidden from them."""
        if viewer is not None and viewer.account_id == profile.user_id:
            collected = _consent_items(self.consents[profile.id], notices.COLLECTION)
            return collected if collected is not None else list(notices.REQUIRED_ITEMS)
        if viewer is None:
            return None
        return self.items_for_organizations(profile, viewer_orgs)

    def items_for_organizations(self, profile: TalentProfile, viewer_orgs: set[int]) -> list[str] | None:
        """The items members of ``viewer_orgs`` may see (a signed-in viewer with no organization: empty set)."""
        # A member of an organization the person hides from never sees the profile, whatever else holds.
        if profile.suspended_at is not None or viewer_orgs & self.hide[profile.id]:
            return None
        seen: set[str] = set()
        consents = self.consents[profile.id]
        pool_items = _consent_items(consents, notices.POOL)
        if (
            pool_items is not None
            and profile.visibility != VISIBILITY_NOBODY
            and (profile.visibility == VISIBILITY_POOL or viewer_orgs & self.allow[profile.id])
        ):
            seen.update(pool_items)
        for org_id in viewer_orgs & self.provided[profile.id]:
            provision_items = _consent_items(consents, notices.PROVISION, org_id)
            if provision_items is not None:
                seen.update(provision_items)
        if not seen:
            return None
        return [item for item in notices.ALL_ITEMS if item in seen]


def visible_items(session: Session, viewer: Actor | None, profile: TalentProfile) -> list[str] | None:
    return Audience.load(session, [profile.id]).items_for(profile, viewer, organization_ids_of(session, viewer))


def profile_by_public_id(session: Session, public_id: str) -> TalentProfile | None:
    return session.scalar(select(TalentProfile).where(TalentProfile.public_id == public_id))


def visible_profile(session: Session, viewer: Actor | None, public_id: str) -> tuple[TalentProfile, list[str]]:
    """The profile and the items ``viewer`` may see, or ProfileNotFoundError (404) when hidden."""
    profile = profile_by_public_id(session, public_id)
    items = visible_items(session, viewer, profile) if profile is not None else None
    if profile is None or items is None:
        raise ProfileNotFoundError(f"No talent profile '{public_id}'")
    return profile, items


def visible_profiles(session: Session, viewer: Actor | None) -> list[tuple[TalentProfile, list[str]]]:
    """Every profile ``viewer`` may see (pool listing and provisions to their organizations)."""
    if viewer is None:
        return []
    viewer_orgs = organization_ids_of(session, viewer)
    candidates = list(
        session.scalars(
            select(TalentProfile)
            .where(TalentProfile.suspended_at.is_(None), TalentProfile.user_id != viewer.account_id)
            .order_by(TalentProfile.id)
        )
    )
    audience = Audience.load(session, [profile.id for profile in candidates])
    out = []
    for profile in candidates:
        items = audience.items_for(profile, viewer, viewer_orgs)
        if items is not None:
            out.append((profile, items))
    return out


def profile_json(profile: TalentProfile, items: Iterable[str], *, language: str | None = None) -> dict[str, Any]:
    """The items of ``profile`` named in ``items`` (and its pseudonymous id), as JSON."""
    wanted = set(items)
    out: dict[str, Any] = {"id": profile.public_id}
    if "name" in wanted:
        out["name"] = profile.name
    if "contact" in wanted:
        out["contact_email"] = profile.contact_email
    if "skills" in wanted:
        out["skills"] = [skill_json(code) for code in profile.skills]
    if "headline" in wanted:
        out["headline"] = profile.headline
    for item in ("keywords", "education", "career", "publications", "patents", "desired_roles", "places"):
        if item in wanted:
            out[item] = list(getattr(profile, item))
    if "earliest_start" in wanted:
        out["earliest_start"] = profile.earliest_start.isoformat() if profile.earliest_start else None
    if "service_status" in wanted:
        out["service_status"] = profile.service_status
        out["service_until"] = profile.service_until.isoformat() if profile.service_until else None
        constraints = []
        if profile.service_status == SERVICE_EXPERT_RESEARCH:
            constraints.append({"kind": SERVICE_EXPERT_RESEARCH, **SERVICE_CONSTRAINT})
        out["constraints"] = constraints
    if "former_team" in wanted:
        out["former_challenge"] = profile.former_challenge
        out["former_team"] = profile.former_team
    return out


def own_profile_json(session: Session, profile: TalentProfile) -> dict[str, Any]:
    """What the person sees about their own profile: items, choices, consents and state."""
    audience = {
        kind: sorted(
            name
            for name in session.scalars(
                select(Account.name)
                .join(TalentAudience, TalentAudience.organization_id == Account.id)
                .where(TalentAudience.profile_id == profile.id, TalentAudience.kind == kind)
            )
        )
        for kind in (AUDIENCE_ALLOW, AUDIENCE_HIDE)
    }
    return {
        **profile_json(profile, collected_items(session, profile)),
        "visibility": profile.visibility,
        "organizations": audience[AUDIENCE_ALLOW],
        "hidden_from": audience[AUDIENCE_HIDE],
        "automated_recommendation": profile.automated_recommendation,
        "suspended": profile.suspended_at is not None,
        "suspended_at": _iso(profile.suspended_at),
        "retain_until": _iso(profile.retain_until),
        "created_at": _iso(profile.created_at),
        "consents": [consent_json(session, row) for row in consent_history(session, profile, active_only=True)],
    }


def consent_history(session: Session, profile: TalentProfile, *, active_only: bool = False) -> list[TalentConsent]:
    query = select(TalentConsent).where(TalentConsent.profile_id == profile.id)
    if active_only:
        query = query.where(TalentConsent.withdrawn_at.is_(None))
    return list(session.scalars(query.order_by(TalentConsent.id)))


def consent_json(session: Session, row: TalentConsent) -> dict[str, Any]:
    return {
        "id": row.id,
        "purpose": row.purpose,
        "recipient": _account_name(session, row.recipient_id),
        "items": list(row.items),
        "notice_version": row.notice_version,
        "language": row.language,
        "granted_at": _iso(row.granted_at),
        "withdrawn_at": _iso(row.withdrawn_at),
    }
