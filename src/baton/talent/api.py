"""Talent pool routes under ``/api/talent``: thin wrappers over ``service`` and ``matchmaking``.

Role checks: ``/me/...`` acts on the caller's own profile; openings need the write role in their
organization; reviews, matching runs, exposure and purging need an operator. A profile hidden
from the caller answers 404, exactly like one that does not exist.

Every route answers one of the models of ``baton.talent.schemas`` (so ``/openapi.json`` documents
it), built from the service's dict, and serializes only the keys that dict has
(``core.http.ExactRoute``): a profile item a viewer may not see is never added, not even as ``null``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from baton.accounts.http import OperatorUser, OptionalUser, RequiredUser, WriteUser
from baton.core.http import MAX_DB_ID, DbId, ExactRoute, QueryCount, RuntimeDep
from baton.talent import consent as notices
from baton.talent import groups, matchmaking, retention, service
from baton.talent.schemas import (
    Consent,
    Deleted,
    ExportDocument,
    Group,
    GroupLeft,
    Invitation,
    InvitationDeclined,
    MatchingRun,
    Notice,
    Opening,
    OpeningPreferences,
    OpeningRecommendations,
    OwnMatch,
    OwnProfile,
    OwnProfileWithRequests,
    PersonPreferences,
    PersonRecommendations,
    Placement,
    PlacementCounts,
    Provision,
    PublicProfile,
    PurgeResult,
    Review,
    ReviewQueueItem,
    Skill,
    TeamExposure,
)
from baton.talent.service import CollectionConsent, OpeningFields, ProfileFields
from baton.talent.taxonomy import load_taxonomy

router = APIRouter(prefix="/api/talent", tags=["talent"], route_class=ExactRoute)
_OWN_MATCHES: TypeAdapter[list[OwnMatch]] = TypeAdapter(list[OwnMatch])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewProfile(ProfileFields):
    consent: CollectionConsent


class ConsentBody(_Body):
    purpose: str
    notice_version: str
    items: list[str] = Field(default_factory=list)
    recipient: str | None = None
    language: Literal["ko", "en"] = "ko"


class VisibilityBody(_Body):
    visibility: str
    organizations: list[str] | None = None
    hidden_from: list[str] | None = None


class AutomatedBody(_Body):
    accept: bool


class PreferencesBody(_Body):
    openings: list[int]


class OpeningPreferencesBody(_Body):
    people: list[str]


class ReviewBody(_Body):
    subject: str
    message: str = ""


class AnswerBody(_Body):
    answer: str


class ProvisionBody(_Body):
    recipient: str


class NewOpening(OpeningFields):
    organization: str


class HireBody(_Body):
    person: str


class PlacementBody(_Body):
    opening: int | None = Field(default=None, ge=1, le=MAX_DB_ID)


# Notices and the taxonomy (public).


@router.get("/notices")
def list_notices(lang: str = "ko", recipient: str | None = None) -> list[Notice]:
    return [
        Notice.model_validate(notices.current_notice(purpose).render(lang, recipient)) for purpose in notices.PURPOSES
    ]


@router.get("/notices/{purpose}/{version}")
def get_notice(purpose: str, version: str, lang: str = "ko", recipient: str | None = None) -> Notice:
    return Notice.model_validate(notices.get_notice(purpose, version).render(lang, recipient))


@router.get("/skills")
def search_skills(q: str, lang: Literal["ko", "en"] | None = None, limit: QueryCount = 20) -> list[Skill]:
    concepts = load_taxonomy().search(q, lang=lang, limit=max(1, min(limit, 100)))
    return [Skill.model_validate(service.skill_json(concept.code)) for concept in concepts]


# The person's own profile and rights.


@router.post("/profile", status_code=201)
def create_profile(body: NewProfile, runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    fields = ProfileFields.model_validate(body.model_dump(exclude={"consent"}, exclude_unset=True))
    with runtime.database.session(write=True) as session:
        profile = service.create_profile(session, user, fields, body.consent)
        return OwnProfile.model_validate(service.own_profile_json(session, profile))


@router.get("/me")
def get_me(runtime: RuntimeDep, user: RequiredUser) -> OwnProfileWithRequests:
    with runtime.database.session() as session:
        profile = service.own_profile(session, user)
        return OwnProfileWithRequests.model_validate(
            service.own_profile_json(session, profile) | {"requests": service.request_log(session, profile)}
        )


@router.patch("/me")
def correct_me(body: ProfileFields, runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        return OwnProfile.model_validate(
            service.own_profile_json(session, service.correct_profile(session, user, body))
        )


@router.delete("/me")
def delete_me(runtime: RuntimeDep, user: WriteUser) -> Deleted:
    with runtime.database.session(write=True) as session:
        return Deleted.model_validate(service.delete_profile(session, user))


@router.get("/me/export")
def export_me(runtime: RuntimeDep, user: RequiredUser) -> ExportDocument:
    with runtime.database.session(write=True) as session:  # the audit record, append-only
        service.record_export(session, user)
    with runtime.database.session() as session:
        return ExportDocument.model_validate(service.export_profile(session, user))


@router.post("/me/suspend")
def suspend_me(runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        return OwnProfile.model_validate(service.own_profile_json(session, service.suspend_profile(session, user)))


@router.post("/me/resume")
def resume_me(runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        return OwnProfile.model_validate(service.own_profile_json(session, service.resume_profile(session, user)))


@router.post("/me/renew")
def renew_me(runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        return OwnProfile.model_validate(service.own_profile_json(session, service.renew_retention(session, user)))


@router.post("/me/consents", status_code=201)
def give_consent(body: ConsentBody, runtime: RuntimeDep, user: WriteUser) -> Consent:
    with runtime.database.session(write=True) as session:
        row = service.grant_consent(
            session,
            user,
            body.purpose,
            body.notice_version,
            body.items,
            recipient=body.recipient,
            language=body.language,
        )
        return Consent.model_validate(service.consent_json(session, row))


@router.delete("/me/consents/{purpose}")
def withdraw(purpose: str, runtime: RuntimeDep, user: WriteUser, recipient: str | None = None) -> Consent:
    with runtime.database.session(write=True) as session:
        row = service.withdraw_consent(session, user, purpose, recipient=recipient)
        return Consent.model_validate(service.consent_json(session, row))


@router.put("/me/visibility")
def set_visibility(body: VisibilityBody, runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        profile = service.set_visibility(
            session, user, body.visibility, organizations=body.organizations, hidden_from=body.hidden_from
        )
        return OwnProfile.model_validate(service.own_profile_json(session, profile))


@router.post("/me/automated")
def set_automated(body: AutomatedBody, runtime: RuntimeDep, user: WriteUser) -> OwnProfile:
    with runtime.database.session(write=True) as session:
        profile = service.set_automated_recommendation(session, user, accept=body.accept)
        return OwnProfile.model_validate(service.own_profile_json(session, profile))


@router.get("/me/recommendations")
def my_recommendations(runtime: RuntimeDep, user: RequiredUser) -> PersonRecommendations:
    with runtime.database.session() as session:
        return PersonRecommendations.model_validate(matchmaking.recommendations_for_person(session, user))


@router.put("/me/preferences")
def my_preferences(body: PreferencesBody, runtime: RuntimeDep, user: WriteUser) -> PersonPreferences:
    with runtime.database.session(write=True) as session:
        return PersonPreferences(openings=service.set_person_preferences(session, user, body.openings))


@router.get("/me/matches")
def my_matches(runtime: RuntimeDep, user: RequiredUser) -> list[OwnMatch]:
    with runtime.database.session() as session:
        return _OWN_MATCHES.validate_python(matchmaking.own_matches(session, user))


@router.post("/me/reviews", status_code=201)
def ask_review(body: ReviewBody, runtime: RuntimeDep, user: WriteUser) -> Review:
    with runtime.database.session(write=True) as session:
        return Review.model_validate(
            service.review_json(service.request_review(session, user, body.subject, body.message))
        )


@router.get("/me/reviews")
def my_reviews(runtime: RuntimeDep, user: RequiredUser) -> list[Review]:
    with runtime.database.session() as session:
        return [Review.model_validate(service.review_json(review)) for review in service.own_reviews(session, user)]


@router.post("/me/provisions", status_code=201)
def provide_mine(body: ProvisionBody, runtime: RuntimeDep, user: WriteUser) -> Provision:
    with runtime.database.session(write=True) as session:
        profile = service.own_profile(session, user)
        return Provision.model_validate(service.provide_profile(session, user, profile.public_id, body.recipient))


@router.post("/me/placement", status_code=201)
def report_placement(body: PlacementBody, runtime: RuntimeDep, user: WriteUser) -> Placement:
    with runtime.database.session(write=True) as session:
        placement = service.report_placement(session, user, body.opening)
        return Placement(opening=placement.opening_id, month=placement.placed_month)


@router.get("/me/invitations")
def my_invitations(runtime: RuntimeDep, user: RequiredUser) -> list[Invitation]:
    with runtime.database.session() as session:
        return [
            Invitation.model_validate(service.invitation_json(row)) for row in service.list_invitations(session, user)
        ]


@router.post("/invitations/{invitation_id}/accept")
def accept_invitation(invitation_id: DbId, runtime: RuntimeDep, user: WriteUser) -> Invitation:
    with runtime.database.session(write=True) as session:
        return Invitation.model_validate(
            service.invitation_json(service.accept_invitation(session, user, invitation_id))
        )


@router.post("/invitations/{invitation_id}/decline")
def decline_invitation(invitation_id: DbId, runtime: RuntimeDep, user: WriteUser) -> InvitationDeclined:
    with runtime.database.session(write=True) as session:
        service.decline_invitation(session, user, invitation_id)
        return InvitationDeclined(declined=True, message="The invitation was deleted; Baton keeps nothing about it.")


# Groups who want to move together (each member must accept).


class GroupBody(_Body):
    members: list[str] = Field(description="Profile ids of the other people (one to four).")


@router.get("/groups")
def my_groups(runtime: RuntimeDep, user: RequiredUser) -> list[Group]:
    with runtime.database.session() as session:
        return [Group.model_validate(group) for group in groups.own_groups(session, user)]


@router.post("/groups", status_code=201)
def propose_group(body: GroupBody, runtime: RuntimeDep, user: WriteUser) -> Group:
    with runtime.database.session(write=True) as session:
        group = groups.propose_group(session, user, body.members)
        return Group.model_validate(groups.group_json(session, group, service.own_profile(session, user)))


@router.post("/groups/{group_id}/accept")
def accept_group(group_id: DbId, runtime: RuntimeDep, user: WriteUser) -> Group:
    with runtime.database.session(write=True) as session:
        group = groups.accept_group(session, user, group_id)
        return Group.model_validate(groups.group_json(session, group, service.own_profile(session, user)))


@router.post("/groups/{group_id}/leave")
def leave_group(group_id: DbId, runtime: RuntimeDep, user: WriteUser) -> GroupLeft:
    with runtime.database.session(write=True) as session:
        return GroupLeft.model_validate(groups.leave_group(session, user, group_id))


# People, as organizations see them.


@router.get("/people")
def list_people(runtime: RuntimeDep, user: RequiredUser) -> list[PublicProfile]:
    with runtime.database.session() as session:
        return [
            PublicProfile.model_validate(service.profile_json(profile, items))
            for profile, items in service.visible_profiles(session, user)
        ]


@router.get("/people/{public_id}")
def get_person(public_id: str, runtime: RuntimeDep, user: OptionalUser) -> PublicProfile:
    with runtime.database.session() as session:
        profile, items = service.visible_profile(session, user, public_id)
        return PublicProfile.model_validate(service.profile_json(profile, items))


@router.post("/people/{public_id}/provide", status_code=201)
def provide(public_id: str, body: ProvisionBody, runtime: RuntimeDep, user: WriteUser) -> Provision:
    with runtime.database.session(write=True) as session:
        return Provision.model_validate(service.provide_profile(session, user, public_id, body.recipient))


@router.get("/organizations/{organization}/provided")
def provided(organization: str, runtime: RuntimeDep, user: RequiredUser) -> list[PublicProfile]:
    with runtime.database.session() as session:
        return [PublicProfile.model_validate(row) for row in service.provided_profiles(session, user, organization)]


# Openings.


@router.get("/openings")
def list_openings(runtime: RuntimeDep, status: str | None = "open", organization: str | None = None) -> list[Opening]:
    with runtime.database.session() as session:
        openings = service.list_openings(session, status=status, organization=organization)
        return [Opening.model_validate(service.opening_json(session, opening)) for opening in openings]


@router.post("/openings", status_code=201)
def create_opening(body: NewOpening, runtime: RuntimeDep, user: WriteUser) -> Opening:
    fields = OpeningFields.model_validate(body.model_dump(exclude={"organization"}, exclude_unset=True))
    with runtime.database.session(write=True) as session:
        opening = service.create_opening(session, user, body.organization, fields)
        return Opening.model_validate(service.opening_json(session, opening))


@router.get("/openings/{opening_id}")
def get_opening(opening_id: DbId, runtime: RuntimeDep) -> Opening:
    with runtime.database.session() as session:
        return Opening.model_validate(service.opening_json(session, service.get_opening(session, opening_id)))


@router.patch("/openings/{opening_id}")
def update_opening(opening_id: DbId, body: OpeningFields, runtime: RuntimeDep, user: WriteUser) -> Opening:
    with runtime.database.session(write=True) as session:
        opening = service.update_opening(session, user, opening_id, body)
        return Opening.model_validate(service.opening_json(session, opening))


@router.post("/openings/{opening_id}/close")
def close_opening(opening_id: DbId, runtime: RuntimeDep, user: WriteUser) -> Opening:
    with runtime.database.session(write=True) as session:
        opening = service.close_opening(session, user, opening_id)
        return Opening.model_validate(service.opening_json(session, opening))


@router.get("/openings/{opening_id}/recommendations")
def opening_recommendations(opening_id: DbId, runtime: RuntimeDep, user: RequiredUser) -> OpeningRecommendations:
    with runtime.database.session() as session:
        return OpeningRecommendations.model_validate(matchmaking.recommendations_for_opening(session, user, opening_id))


@router.put("/openings/{opening_id}/preferences")
def opening_preferences(
    opening_id: DbId, body: OpeningPreferencesBody, runtime: RuntimeDep, user: WriteUser
) -> OpeningPreferences:
    with runtime.database.session(write=True) as session:
        return OpeningPreferences(people=service.set_opening_preferences(session, user, opening_id, body.people))


@router.post("/openings/{opening_id}/hires", status_code=201)
def hire(opening_id: DbId, body: HireBody, runtime: RuntimeDep, user: WriteUser) -> Placement:
    with runtime.database.session(write=True) as session:
        placement = service.record_hire(session, user, opening_id, body.person)
        return Placement(opening=placement.opening_id, month=placement.placed_month)


@router.get("/placements")
def placements(runtime: RuntimeDep, challenge: str | None = None) -> PlacementCounts:
    with runtime.database.session() as session:
        return PlacementCounts(service.placements_by_team(session, challenge))


# Operators.


@router.get("/reviews")
def review_queue(runtime: RuntimeDep, user: OperatorUser, status: str | None = "open") -> list[ReviewQueueItem]:
    with runtime.database.session() as session:
        return [
            ReviewQueueItem.model_validate(service.review_for_operator(session, row))
            for row in service.list_reviews(session, user, status=status)
        ]


@router.post("/reviews/{review_id}/answer")
def answer_review(review_id: DbId, body: AnswerBody, runtime: RuntimeDep, user: OperatorUser) -> Review:
    with runtime.database.session(write=True) as session:
        return Review.model_validate(service.review_json(service.answer_review(session, user, review_id, body.answer)))


@router.post("/matching-runs", status_code=201)
def run_matching(runtime: RuntimeDep, user: OperatorUser) -> MatchingRun:
    with runtime.database.session(write=True) as session:
        return MatchingRun.model_validate(matchmaking.run_matching(session, user))


@router.get("/matching-runs/{run_id}")
def get_matching_run(run_id: DbId, runtime: RuntimeDep, user: OperatorUser) -> MatchingRun:
    with runtime.database.session() as session:
        return MatchingRun.model_validate(matchmaking.get_matching_run(session, user, run_id))


@router.get("/exposure")
def exposure(runtime: RuntimeDep, user: OperatorUser, top_k: QueryCount = 10) -> list[TeamExposure]:
    with runtime.database.session() as session:
        rows = matchmaking.exposure(session, user, top_k=max(1, min(top_k, 100)))
        return [TeamExposure.model_validate(row) for row in rows]


@router.post("/purge-expired")
def purge(runtime: RuntimeDep, user: OperatorUser) -> PurgeResult:
    with runtime.database.session(write=True) as session:
        return PurgeResult.model_validate(retention.purge_expired(session))
