"""Errors of the talent pool, each with a status, a stable code and a hint saying what to do."""

from __future__ import annotations

from baton.core.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError


class InvalidProfileError(BadRequestError):
    code = "InvalidProfile"
    default_hint = "Fix the field named in the message and send the profile again."


class ConsentRequiredError(PermissionDeniedError):
    code = "ConsentRequired"
    default_hint = "Read the notice (GET /api/talent/notices) and give consent for this purpose first."


class InvalidConsentError(BadRequestError):
    code = "InvalidConsent"
    default_hint = "Consent to the current notice version, naming only items the notice lists."


class ProfileNotFoundError(NotFoundError):
    code = "ProfileNotFound"
    default_hint = "Check the profile id; a profile may be hidden from you, suspended or deleted."


class NoProfileError(NotFoundError):
    code = "NoProfile"
    default_hint = "Create your talent profile first: the /talent/profile page or POST /api/talent/profile."


class ProfileExistsError(ConflictError):
    code = "ProfileExists"
    default_hint = "You already have a profile: correct it with PATCH /api/talent/me."


class ProfileSuspendedError(ConflictError):
    code = "ProfileSuspended"
    default_hint = "Processing of this profile is suspended; resume it first (POST /api/talent/me/resume)."


class AutomatedRecommendationRefusedError(ConflictError):
    code = "AutomatedRecommendationRefused"
    default_hint = (
        "You refused automated recommendation; browse the openings yourself, ask for a human review "
        "(POST /api/talent/me/reviews) or accept automated recommendation again (POST /api/talent/me/automated)."
    )


class OpeningNotFoundError(NotFoundError):
    code = "OpeningNotFound"
    default_hint = "List the openings with GET /api/talent/openings."


class UnknownOpeningsError(BadRequestError):
    code = "UnknownOpenings"
    default_hint = "Name only open openings by id; list them with GET /api/talent/openings."


class InvalidOpeningError(BadRequestError):
    code = "InvalidOpening"
    default_hint = "Fix the field named in the message and send the opening again."


class InvitationNotFoundError(NotFoundError):
    code = "InvitationNotFound"
    default_hint = "List your invitations with GET /api/talent/me/invitations."


class ReviewNotFoundError(NotFoundError):
    code = "ReviewNotFound"
    default_hint = "List the open reviews with GET /api/talent/reviews."


class InvalidGroupError(BadRequestError):
    code = "InvalidGroup"
    default_hint = "Name one to four other people of the pool by their profile id (e.g. p-0123abcd4567), each once."


class GroupNotFoundError(NotFoundError):
    code = "GroupNotFound"
    default_hint = "List your groups and invitations with GET /api/talent/groups."


class GroupConflictError(ConflictError):
    code = "GroupConflict"
    default_hint = (
        "You can move together with one group at a time: leave your other group first "
        "(POST /api/talent/groups/<id>/leave)."
    )
