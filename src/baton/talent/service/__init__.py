"""The talent pool's operations: profiles, consent, visibility, openings, invitations, placements.

Every function takes a SQLAlchemy session and the acting account and does one whole operation
(the caller's transaction commits it or rolls all of it back). Rights of the person (access,
correction, deletion, suspension, withdrawal) take effect at once and are logged with the date
in ``talent_requests``. Automated ranking, matching and the exposure report live in ``baton.talent.matchmaking``.

Who sees a profile (``visible_items``): the person sees everything; nobody sees a suspended
profile; an organization member sees the items of the person's ``pool`` consent when the
person's visibility allows it and none of the member's organizations is on the hidden-from list,
plus the items provided to their organization under a ``provision`` consent. Anyone else gets
404, never 403, so a hidden profile cannot be told apart from a missing one.

One module per sub-domain: ``profiles`` (the person's rights over their profile), ``consent``,
``visibility`` (who sees what, and the JSON shapes), ``disclosure`` (provision and export),
``openings``, ``preferences``, ``review`` (human review), ``invitations`` (from the challenge,
``invite_team``) and ``placements``; ``inputs`` holds the pydantic inputs and ``common`` the
helpers they share. This package re-exports their public names, so callers use
``from baton.talent import service`` and ``service.create_profile(...)``.
"""

from __future__ import annotations

from baton.talent.service.common import (
    EMAIL_PATTERN,
    FIELD_ITEM,
    INVITATION_RETENTION_DAYS,
    ITEM_FIELDS,
    MAX_LIST,
    RETENTION_JOB,
    SERVICE_CONSTRAINT,
    URL_PATTERN,
    active_consent,
    active_consents,
    collected_items,
    find_profile,
    organization_ids_of,
    own_profile,
    require_active,
    schedule_retention,
    skill_json,
    validate_skills,
)
from baton.talent.service.consent import grant_consent, withdraw_consent
from baton.talent.service.disclosure import (
    export_profile,
    provide_profile,
    provided_profiles,
    record_export,
    request_log,
)
from baton.talent.service.inputs import (
    CareerEntry,
    CollectionConsent,
    Education,
    Link,
    OpeningFields,
    ProfileFields,
    parse_opening_fields,
    parse_profile_fields,
)
from baton.talent.service.invitations import (
    accept_invitation,
    decline_invitation,
    invitation_json,
    invite_members,
    invite_team,
    list_invitations,
)
from baton.talent.service.openings import (
    close_opening,
    create_opening,
    get_opening,
    list_openings,
    opening_json,
    update_opening,
    writable_opening,
)
from baton.talent.service.placements import placements_by_team, record_hire, report_placement
from baton.talent.service.preferences import set_opening_preferences, set_person_preferences
from baton.talent.service.profiles import (
    correct_profile,
    create_profile,
    delete_profile,
    destroy_profile,
    renew_retention,
    resume_profile,
    set_automated_recommendation,
    suspend_profile,
)
from baton.talent.service.review import (
    answer_review,
    list_reviews,
    own_reviews,
    request_review,
    review_for_operator,
    review_json,
)
from baton.talent.service.visibility import (
    Audience,
    consent_history,
    consent_json,
    own_profile_json,
    profile_by_public_id,
    profile_json,
    set_visibility,
    visible_items,
    visible_profile,
    visible_profiles,
)

__all__ = [
    "EMAIL_PATTERN",
    "FIELD_ITEM",
    "INVITATION_RETENTION_DAYS",
    "ITEM_FIELDS",
    "MAX_LIST",
    "RETENTION_JOB",
    "SERVICE_CONSTRAINT",
    "URL_PATTERN",
    "Audience",
    "CareerEntry",
    "CollectionConsent",
    "Education",
    "Link",
    "OpeningFields",
    "ProfileFields",
    "accept_invitation",
    "active_consent",
    "active_consents",
    "answer_review",
    "close_opening",
    "collected_items",
    "consent_history",
    "consent_json",
    "correct_profile",
    "create_opening",
    "create_profile",
    "decline_invitation",
    "delete_profile",
    "destroy_profile",
    "export_profile",
    "find_profile",
    "get_opening",
    "grant_consent",
    "invitation_json",
    "invite_members",
    "invite_team",
    "list_invitations",
    "list_openings",
    "list_reviews",
    "opening_json",
    "organization_ids_of",
    "own_profile",
    "own_profile_json",
    "own_reviews",
    "parse_opening_fields",
    "parse_profile_fields",
    "placements_by_team",
    "profile_by_public_id",
    "profile_json",
    "provide_profile",
    "provided_profiles",
    "record_export",
    "record_hire",
    "renew_retention",
    "report_placement",
    "request_log",
    "request_review",
    "require_active",
    "resume_profile",
    "review_for_operator",
    "review_json",
    "schedule_retention",
    "set_automated_recommendation",
    "set_opening_preferences",
    "set_person_preferences",
    "set_visibility",
    "skill_json",
    "suspend_profile",
    "update_opening",
    "validate_skills",
    "visible_items",
    "visible_profile",
    "visible_profiles",
    "withdraw_consent",
    "writable_opening",
]
