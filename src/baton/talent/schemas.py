"""Response shapes of the talent API (``/api/talent``), as pydantic models for ``/openapi.json``.

The service builds its answers as plain dicts (``service.*_json``); the routes validate them into
these models and FastAPI serializes them. Two rules keep the JSON exactly what the service built:

- **No key added, none dropped.** Profiles are shown differently per audience (``profile_json``
  writes only the items the viewer may see), so the item fields are optional here, and every talent
  route serializes with ``response_model_exclude_unset=True``: a key the service did not write is
  never sent, not even as ``null``. Models refuse keys they do not declare (``extra="forbid"``), so a
  key the service adds without a field here fails loudly instead of vanishing.
- **Same order, same values.** Fields are declared in the order the service writes them; ISO dates
  and timestamps stay strings.

``tests/talent/test_schemas.py`` checks both, per audience.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Language = Literal["ko", "en"]
Purpose = Literal["collection", "pool", "recommendation", "provision"]
Visibility = Literal["pool", "organizations", "nobody"]
OpeningStatus = Literal["open", "closed"]
GroupMemberStatus = Literal["invited", "accepted"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Stored(BaseModel):
    """An entry the person gave, stored as JSON in the profile (kept whole, whatever keys it has)."""

    model_config = ConfigDict(extra="allow")


# Notices and the taxonomy.


class NoticeItem(_Out):
    item: str
    label: str


class Notice(_Out):
    """A consent notice as shown to the person, in one language, the recipient filled in."""

    purpose: Purpose
    version: str
    language: Language
    recipient: str | None
    required_items: list[NoticeItem]
    optional_items: list[NoticeItem]
    retention_days: int
    title: str
    purpose_text: str
    retention: str
    refusal: str


class Skill(_Out):
    """An ACM CCS 2012 concept: its id and labels."""

    code: str
    label_en: str
    label_ko: str


# Profiles.


class EducationEntry(_Stored):
    institution: str | None = None
    degree: str | None = None
    field: str | None = None
    year: int | None = None


class CareerEntry(_Stored):
    organization: str | None = None
    role: str | None = None
    start: str | None = None
    end: str | None = None


class LinkEntry(_Stored):
    url: str | None = None
    title: str | None = None
    number: str | None = None


class Constraint(_Out):
    kind: str
    ko: str
    en: str


class PublicProfile(_Out):
    """A profile as one viewer sees it: its pseudonymous id and only the items that viewer may see.

    Every field but ``id`` is present only when the viewer may see its item (an absent key is
    never sent as ``null``).
    """

    id: str
    name: str | None = None
    contact_email: str | None = None
    skills: list[Skill] | None = None
    headline: str | None = None
    keywords: list[str] | None = None
    education: list[EducationEntry] | None = None
    career: list[CareerEntry] | None = None
    publications: list[LinkEntry] | None = None
    patents: list[LinkEntry] | None = None
    desired_roles: list[str] | None = None
    places: list[str] | None = None
    earliest_start: str | None = Field(default=None, description="ISO date (item earliest_start).")
    service_status: str | None = Field(default=None, description="Item service_status.")
    service_until: str | None = Field(default=None, description="ISO date (item service_status).")
    constraints: list[Constraint] | None = Field(default=None, description="Item service_status.")
    former_challenge: str | None = Field(default=None, description="Item former_team.")
    former_team: str | None = Field(default=None, description="Item former_team.")


class Consent(_Out):
    id: int
    purpose: Purpose
    recipient: str | None
    items: list[str]
    notice_version: str
    language: Language
    granted_at: str
    withdrawn_at: str | None


class OwnProfile(PublicProfile):
    """What the person sees of their own profile: the items they let Baton collect, choices, consents, state."""

    visibility: Visibility
    organizations: list[str]
    hidden_from: list[str]
    automated_recommendation: bool
    suspended: bool
    suspended_at: str | None
    retain_until: str
    created_at: str
    consents: list[Consent]


class RequestLogEntry(_Out):
    kind: str
    received_at: str
    completed_at: str | None
    outcome: str


class OwnProfileWithRequests(OwnProfile):
    """``GET /me``: the own profile and the log of the person's requests."""

    requests: list[RequestLogEntry]


class Deleted(_Out):
    deleted: bool
    message: str


class Provision(_Out):
    """A profile provided to a consented recipient: the items of that provision consent."""

    recipient: str
    profile: PublicProfile


# Invitations, reviews, preferences and placements.


class Invitation(_Out):
    id: int
    challenge: str
    team: str
    stage: str
    reason: str
    status: Literal["pending", "accepted"]
    created_at: str
    message_ko: str
    message_en: str


class InvitationDeclined(_Out):
    declined: bool
    message: str


class Review(_Out):
    id: int
    subject: str
    message: str
    status: Literal["open", "answered"]
    created_at: str
    answer: str | None
    answered_at: str | None


class ReviewQueueItem(Review):
    """A queued review with what the operator needs: the items of the person's recommendation consent."""

    person: PublicProfile
    automated_recommendation: bool


class PersonPreferences(_Out):
    openings: list[int]


class OpeningPreferences(_Out):
    people: list[str]


class Placement(_Out):
    opening: int | None
    month: str = Field(description="YYYY-MM")


class PlacementCounts(RootModel[dict[str, int]]):
    """How many people of each former team found a new place (former team -> count)."""


# Groups.


class GroupMember(_Out):
    person: str
    status: GroupMemberStatus
    proposer: bool


class Group(_Out):
    id: int
    created_at: str
    active: bool
    my_status: GroupMemberStatus | None
    members: list[GroupMember]


class GroupLeft(_Out):
    left: bool
    group: int
    message: str


# Openings, recommendations and matching.


class Opening(_Out):
    id: int
    organization: str | None
    title: str
    description: str
    required_skills: list[Skill]
    preferred_skills: list[Skill]
    places: int
    location: str
    starts_on: str | None
    ends_on: str | None
    closes_on: str | None
    status: OpeningStatus
    created_at: str


class MatchedSkill(_Out):
    person_code: str
    opening_code: str
    similarity: float
    required: bool


class OpeningRecommendation(_Out):
    """An opening ranked for the person, with its scores and explanation."""

    opening: Opening
    score: float
    rank: int
    of: int
    skill_score: float
    text_score: float
    matched_skills: list[MatchedSkill]
    missing_required: list[str]
    explanation_ko: str
    explanation_en: str
    automated: bool


class PersonRecommendation(_Out):
    """A person ranked for an opening (only the items visible to its owner), with scores and explanation."""

    person: PublicProfile
    score: float
    rank: int
    of: int
    skill_score: float
    text_score: float
    matched_skills: list[MatchedSkill]
    missing_required: list[str]
    explanation_ko: str
    explanation_en: str
    automated: bool


class PersonRecommendations(_Out):
    """Openings ranked for the person (automated, not binding)."""

    automated: bool
    notice_ko: str
    notice_en: str
    items: list[OpeningRecommendation]


class OpeningRecommendations(_Out):
    """People ranked for an opening, among those visible to its owner (automated, not binding)."""

    automated: bool
    notice_ko: str
    notice_en: str
    opening: Opening
    items: list[PersonRecommendation]


class Pair(_Out):
    person: str
    opening: int


class GroupOutcome(_Out):
    members: list[str]
    assigned: list[int | None]
    together: bool
    option_rank: int | None
    options: int
    skipped: str | None


class MatchingRun(_Out):
    id: int
    created_at: str
    binding: bool
    algorithm: str
    people: int
    openings: int
    matched: int
    stable: bool
    assignments: list[Pair]
    blocking_pairs: list[Pair]
    groups: list[GroupOutcome]


class ProposedMatch(_Out):
    run: int
    opening: Opening
    kind: Literal["proposed", "blocking_pair"]
    binding: bool
    automated: bool


class GroupMatch(_Out):
    run: int
    kind: Literal["group"]
    group: GroupOutcome
    binding: bool
    automated: bool


OwnMatch = Annotated[ProposedMatch | GroupMatch, Field(discriminator="kind")]


class TeamExposure(_Out):
    team: str | None
    people: int
    recommended_people: int
    exposures: float
    share_of_exposure: float
    share_of_people: float
    ratio: float
    flagged: bool


class PurgeResult(_Out):
    profiles_destroyed: int
    invitations_deleted: int


# The export (PIPA Art. 35).


class ExportedProfile(PublicProfile):
    """Every item held (all of them, whatever the consents), and the profile's state."""

    visibility: Visibility
    automated_recommendation: bool
    suspended_at: str | None
    retain_until: str
    created_at: str
    updated_at: str


class ExportedProvision(_Out):
    recipient: str | None
    items: list[str]
    provided_at: str


class RankedOpening(_Out):
    opening: int
    title: str | None
    rank: int


class ExportedMatch(_Out):
    run: int
    opening: int
    blocking_pair: bool


class ExportedPlacement(_Out):
    opening: int | None
    recorded_by: str
    month: str


class ExportDocument(_Out):
    """Everything the talent pool holds about the person.

    Someone with invitations and no profile gets ``account``, ``profile: null`` and ``invitations``
    only; every other key is present when there is a profile.
    """

    account: str
    exported_at: str | None = None
    profile: ExportedProfile | None
    settings: OwnProfile | None = None
    consents: list[Consent] | None = None
    provisions: list[ExportedProvision] | None = None
    preferences: list[RankedOpening] | None = None
    ranked_by_openings: list[RankedOpening] | None = None
    matches: list[ExportedMatch] | None = None
    reviews: list[Review] | None = None
    invitations: list[Invitation]
    placements: list[ExportedPlacement] | None = None
    requests: list[RequestLogEntry] | None = None
