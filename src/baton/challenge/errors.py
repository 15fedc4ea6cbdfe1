"""The challenge domain's errors, each under the closest class of ``baton.core.errors``."""

from __future__ import annotations

from baton.core.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError


class InvalidSpecError(BadRequestError):
    code = "InvalidChallengeSpec"
    default_hint = "Fix the challenge YAML at the line shown, then check it again: baton challenge validate FILE"


class ChallengeNotFoundError(NotFoundError):
    code = "ChallengeNotFound"
    default_hint = "List the challenges: baton challenge list (or GET /api/challenges)."


class StageNotFoundError(NotFoundError):
    code = "StageNotFound"
    default_hint = "Use a stage id from the challenge's YAML (GET /api/challenges/<slug> lists them)."


class TeamNotFoundError(NotFoundError):
    code = "TeamNotFound"
    default_hint = "List the teams with GET /api/challenges/<slug>/teams."


class DeadlinePassedError(ConflictError):
    code = "DeadlinePassed"
    default_hint = "The stage's submissions are frozen; nothing submitted after the deadline counts."


class NotInStageError(ConflictError):
    code = "NotInStage"
    default_hint = "Only teams competing in the stage can take part in it; check the team's status."


class StageStateError(ConflictError):
    code = "StageState"
    default_hint = "Check the stage's state with GET /api/challenges/<slug>/stages/<stage>/decision."


class ConflictOfInterestError(PermissionDeniedError):
    code = "ConflictOfInterest"
    default_hint = "A person affiliated with a team's organization cannot judge that team; pick someone else."


class InvalidVoteError(BadRequestError):
    code = "InvalidVote"
    default_hint = "Vote 'a', 'b', 'tie' or 'both_bad' on a battle you were shown."


class VoteLimitError(ConflictError):
    code = "VoteLimitReached"
    default_hint = "Each voter may cast a limited number of votes per stage; thank you for voting."


class GatePendingError(ConflictError):
    code = "GatePending"
    default_hint = (
        "An operator must resolve the gate first: POST /api/challenges/<slug>/stages/<stage>/gates/<gate>/override "
        "with an outcome and a written reason (or: baton challenge override --help)."
    )


class AppealError(ConflictError):
    code = "AppealRefused"
    default_hint = "Appeals are accepted from a team's members while the stage's appeal window is open."


class LedgerError(ConflictError):
    code = "LedgerBroken"
    default_hint = "See which ledger line is wrong: baton challenge verify SLUG"


class RepechageError(ConflictError):
    code = "RepechageRefused"
    default_hint = (
        "A repechage takes one application per team during its call (from opens to deadline), from new "
        "teams and teams eliminated earlier, as its YAML's open_to says: baton challenge apply --help"
    )
