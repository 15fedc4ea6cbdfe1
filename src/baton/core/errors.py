"""One error hierarchy for all of Baton.

Every error carries an HTTP status, a stable machine code and a hint that says what to do
next. One handler (see ``baton.app``) turns any of them into one JSON shape::

    {"error": code, "message": ..., "hint": ...}

and the Hugging Face-compatible routes also set ``X-Error-Code`` so that the official
client raises its typed errors (``RepositoryNotFoundError`` and friends).
"""

from __future__ import annotations

import math
from typing import Any


class BatonError(Exception):
    """Base of every error Baton raises on purpose."""

    status_code: int = 500
    code: str = "InternalError"
    default_hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        if code is not None:
            self.code = code
        # Extra fields some clients read beside the standard three (e.g. "url" on a 409).
        self.extra = extra or {}
        # Extra response headers (e.g. Content-Range on a 416).
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        return self.extra | {"error": self.code, "message": self.message, "hint": self.hint}


class BadRequestError(BatonError):
    status_code = 400
    code = "BadRequest"


class InvalidNameError(BadRequestError):
    code = "InvalidName"
    default_hint = "Use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 96)."


class InvalidPathError(BadRequestError):
    code = "InvalidPath"
    default_hint = "Use a relative path with '/' separators, no '..', no NUL, no backslash."


class InvalidYamlError(BadRequestError):
    code = "InvalidYaml"
    default_hint = "Fix the YAML front matter of README.md (between the two '---' lines) and retry."


class UnsafeFileError(BadRequestError):
    code = "UnsafeFile"
    default_hint = "Save the weights as safetensors (safetensors.torch.save_file) and upload that instead."


class IntegrityError(BadRequestError):
    code = "IntegrityError"
    default_hint = "The bytes received do not match the declared size or sha256; upload the file again."


class AuthenticationError(BatonError):
    status_code = 401
    code = "Unauthorized"
    default_hint = (
        "Pass a valid token in the header 'Authorization: Bearer TOKEN' (create one: baton user token create NAME)."
    )


class PermissionDeniedError(BatonError):
    status_code = 403
    code = "Forbidden"
    default_hint = "Ask an admin of the namespace for write access."


class NotFoundError(BatonError):
    status_code = 404
    code = "NotFound"


class RepoNotFoundError(NotFoundError):
    code = "RepoNotFound"
    default_hint = "Check the repo id and type; private repos need a token with access."


class RevisionNotFoundError(NotFoundError):
    code = "RevisionNotFound"
    default_hint = "List the branches and tags (HfApi().list_repo_refs) and pick one of them."


class EntryNotFoundError(NotFoundError):
    code = "EntryNotFound"
    default_hint = "List the files (HfApi().list_repo_files) to see what the revision holds."


class GatedRepoError(BatonError):
    """401 without a token, 403 without approved access, as the Hub answers."""

    status_code = 403
    code = "GatedRepo"
    default_hint = "Request access on the repo (POST /api/<type>s/<id>/ask-access) and wait for approval."

    def __init__(self, message: str, *, authenticated: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = 403 if authenticated else 401


class ConflictError(BatonError):
    status_code = 409
    code = "Conflict"


class RepoExistsError(ConflictError):
    code = "RepoExists"
    default_hint = "Pick another name, or pass exist_ok=True to reuse it."


class HeldRevisionError(ConflictError):
    code = "RevisionHeld"
    default_hint = "The revision is pinned (e.g. by a challenge submission); release the hold first."


class PreconditionFailedError(BatonError):
    status_code = 412
    code = "PreconditionFailed"
    default_hint = "The branch moved since you read it: fetch the new head and retry the commit."


class QuotaExceededError(BatonError):
    status_code = 413
    code = "QuotaExceeded"
    default_hint = "Split the upload or ask an operator to raise BATON_MAX_FILE_SIZE / BATON_MAX_REPO_SIZE."


class RangeNotSatisfiableError(BatonError):
    status_code = 416
    code = "RangeNotSatisfiable"
    default_hint = "Ask for a byte range inside the file."


class RateLimitedError(BatonError):
    status_code = 429
    code = "RateLimited"

    def __init__(self, what: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many {what}; try again in {seconds} s",
            hint=f"Wait {seconds} seconds (see Retry-After) and slow down; operators can raise the "
            "limit with BATON_RATE_LIMITS.",
            headers={"Retry-After": str(seconds)},
        )


class NotSupportedError(BatonError):
    status_code = 501
    code = "NotSupported"


class StorageError(BatonError):
    status_code = 503
    code = "StorageError"
    default_hint = "The blob store did not answer as expected; check BATON_STORAGE_URL and retry."


class ConfigurationError(BatonError):
    status_code = 500
    code = "ConfigurationError"
