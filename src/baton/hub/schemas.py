"""The JSON the hub's routes answer with, one pydantic model per shape.

These are the shapes the official ``huggingface_hub`` client parses (``ModelInfo``, ``RepoFile``,
``GitRefs``, the LFS batch answer, ...), with the Hub's camelCase keys as aliases. Routes declare
them, so ``/openapi.json`` documents every answer, and FastAPI serializes by alias.

Keys the Hub sends only sometimes (a sibling's ``size`` without ``blobs=true``, a tree entry's
``lfs``, ``lastCommit`` without ``expand``) are optional fields with no value by default; their
routes use ``response_model_exclude_unset=True``, so a key is sent exactly when the handler set it,
and a key set to ``None`` is still sent as ``null``. Open-ended mappings (a card's front matter,
an access request's answers) stay ``dict[str, Any]``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Schema(BaseModel):
    """Fields are filled by their Python name or by the Hub's key (the alias)."""

    model_config = ConfigDict(populate_by_name=True)


# --- identity -------------------------------------------------------------------------------------


class WhoAmIOrg(Schema):
    type: Literal["org"]
    name: str
    fullname: str
    role_in_org: str = Field(alias="roleInOrg", description="admin, write or read")


class AccessTokenInfo(Schema):
    display_name: str = Field(alias="displayName")
    role: Literal["read", "write"] = Field(
        description="'write' for a token that can write, 'read' for every narrower token"
    )
    scopes: list[str]
    expires_at: str | None = Field(alias="expiresAt", description="ISO 8601, or null for a token that never expires")


class WhoAmIAuth(Schema):
    type: Literal["access_token"]
    access_token: AccessTokenInfo = Field(alias="accessToken")


class WhoAmI(Schema):
    """``GET /api/whoami-v2``: the caller, their organizations and the token in use."""

    type: Literal["user"]
    id: str
    name: str
    fullname: str
    email: str | None
    is_pro: bool = Field(alias="isPro")
    can_pay: bool = Field(alias="canPay")
    orgs: list[WhoAmIOrg]
    auth: WhoAmIAuth


# --- repo lifecycle -------------------------------------------------------------------------------


class RepoUrl(Schema):
    """``POST /api/repos/create``."""

    url: str = Field(description="The repo's web page")
    name: str = Field(description="namespace/name")
    id: str = Field(description="Baton's id of the repo")


class RepoSettings(Schema):
    """``PUT .../settings``: the repo's visibility and gating after the change."""

    private: bool
    gated: Literal["auto", "manual", False] = Field(description="'auto', 'manual', or false when not gated")


class YamlMessage(Schema):
    message: str


class YamlValidation(Schema):
    """``POST /api/validate-yaml``: no errors (a card with errors is a 400) and the warnings."""

    errors: list[YamlMessage]
    warnings: list[YamlMessage]


# --- repo info and listing ------------------------------------------------------------------------


class SiblingLfs(Schema):
    sha256: str
    size: int
    pointer_size: int = Field(alias="pointerSize", description="Bytes of the Git LFS pointer file")


class Sibling(Schema):
    """A file of the repo at the revision; ``size``, ``blobId`` and ``lfs`` only with ``blobs=true``."""

    rfilename: str = Field(description="Path in the repo")
    size: int | None = None
    blob_id: str | None = Field(default=None, alias="blobId", description="Git blob oid")
    lfs: SiblingLfs | None = Field(default=None, description="Only for files stored through LFS")


class LineageBase(Schema):
    id: str = Field(description="The base model's repo id, as the card names it")
    relation: str | None = Field(description="finetune, adapter, quantized, merge, or null")


class LineageChild(Schema):
    id: str
    type: str = Field(description="model, dataset or space")
    relation: str | None


class RepoLineage(Schema):
    """What the repo was built on (its card's ``base_model``), and the visible repos built on it."""

    base_models: list[LineageBase]
    derivatives: list[LineageChild]


class RepoLineageInfo(RepoLineage):
    """``GET .../lineage``."""

    id: str


class RepoSummary(Schema):
    """One repo in a listing (``GET /api/models``); the model-only keys are sent for models only."""

    object_id: str = Field(alias="_id", description="Baton's id of the repo")
    id: str = Field(description="namespace/name")
    author: str
    sha: str | None = Field(description="The default branch's head commit; null for a repo without one")
    last_modified: str = Field(alias="lastModified")
    created_at: str = Field(alias="createdAt")
    private: bool
    gated: Literal["auto", "manual", False]
    disabled: bool
    downloads: int
    likes: int
    tags: list[str] = Field(description="The card's tags, then license:<id> and its languages")
    model_id: str | None = Field(default=None, alias="modelId")
    pipeline_tag: str | None = None
    library_name: str | None = None
    base_models: list[str] | None = Field(default=None, alias="baseModels")
    base_model_relation: str | None = Field(default=None, alias="baseModelRelation")
    card_data: dict[str, Any] | None = Field(
        default=None, alias="cardData", description="The card's front matter (listings: with cardData=true or full)"
    )


class RepoInfo(RepoSummary):
    """``GET /api/<type>s/<id>`` and ``.../revision/<rev>``: the repo at a revision."""

    sha: str
    card_data: dict[str, Any] = Field(alias="cardData", description="The card's front matter")
    siblings: list[Sibling]
    used_storage: int = Field(alias="usedStorage", description="Bytes of the default branch's files")
    file_downloads: dict[str, int] = Field(alias="fileDownloads", description="Downloads per path")
    spaces: list[str] | None = Field(default=None, description="Models only; always empty")
    lineage: RepoLineage


# --- refs and commits -----------------------------------------------------------------------------


class GitRef(Schema):
    name: str
    ref: str = Field(description="refs/heads/<name> or refs/tags/<name>")
    target_commit: str = Field(alias="targetCommit")


class GitRefs(Schema):
    """``GET .../refs``."""

    branches: list[GitRef]
    tags: list[GitRef]
    converts: list[GitRef]
    pull_requests: list[GitRef] = Field(alias="pullRequests")


class CommitAuthor(Schema):
    user: str


class CommitInfo(Schema):
    """One commit of ``GET .../commits/<rev>``, newest first."""

    id: str
    title: str
    message: str
    date: str
    authors: list[CommitAuthor]


# --- trees ----------------------------------------------------------------------------------------


class TreeLfs(Schema):
    oid: str = Field(description="sha256 of the file")
    size: int
    pointer_size: int = Field(alias="pointerSize")


class LastCommit(Schema):
    id: str
    title: str
    date: str


class TreeFile(Schema):
    type: Literal["file"]
    oid: str = Field(description="Git blob oid")
    size: int
    path: str
    lfs: TreeLfs | None = Field(default=None, description="Only for files stored through LFS")
    last_commit: LastCommit | None = Field(default=None, alias="lastCommit", description="Only with expand")


class TreeFolder(Schema):
    type: Literal["directory"]
    oid: str
    size: int
    path: str
    last_commit: LastCommit | None = Field(default=None, alias="lastCommit", description="Only with expand")


TreeItem = Annotated[TreeFile | TreeFolder, Field(discriminator="type")]
TREE_ITEMS: TypeAdapter[list[TreeFile | TreeFolder]] = TypeAdapter(list[TreeItem])


# --- uploads --------------------------------------------------------------------------------------


class PreuploadAnswer(Schema):
    path: str
    upload_mode: Literal["lfs", "regular"] = Field(alias="uploadMode")
    should_ignore: bool = Field(alias="shouldIgnore", description="Matched by the .gitignore rules")
    oid: str | None = Field(description="The file's current etag at the revision; null if it is new")


class PreuploadResponse(Schema):
    """``POST .../preupload/<rev>``."""

    files: list[PreuploadAnswer]
    commit_oid: str | None = Field(alias="commitOid", description="The revision's head; null for a new branch")


class LfsLink(Schema):
    href: str
    header: dict[str, str] | None = Field(
        default=None, description="Multipart: chunk_size and one signed link per part (00001, 00002, ...)"
    )


class LfsActions(Schema):
    upload: LfsLink
    verify: LfsLink


class LfsObjectError(Schema):
    code: int
    message: str


class LfsObject(Schema):
    """One object's answer: actions to upload it, none if Baton has it, or an error."""

    oid: str
    size: int
    authenticated: bool | None = None
    actions: LfsActions | None = None
    error: LfsObjectError | None = None


class LfsBatchResponse(Schema):
    """``POST /<id>.git/info/lfs/objects/batch`` (media type application/vnd.git-lfs+json)."""

    transfer: Literal["basic", "multipart"]
    objects: list[LfsObject]
    hash_algo: Literal["sha256"]


class ScanReport(Schema):
    path: str
    format: str = Field(description="pickle, torch-zip, safetensors, gguf, unknown, ...")
    description: str
    compression: list[str]
    imports: list[str] = Field(description="What the file's pickles import (all allowed)")


class CommitResult(Schema):
    """``POST .../commit/<rev>``."""

    commit_url: str = Field(alias="commitUrl")
    commit_oid: str = Field(alias="commitOid")
    pull_request_url: str | None = Field(alias="pullRequestUrl")
    scans: list[ScanReport] = Field(description="Beyond the Hub's answer: what each added file was found to be")


# --- Baton's own: gated access, holds --------------------------------------------------------------


class AccessStatus(Schema):
    status: Literal["pending", "accepted", "rejected"]


class AccessRequester(Schema):
    user: str
    fullname: str
    email: str | None


class AccessRequestInfo(Schema):
    request_id: str = Field(alias="requestId")
    user: AccessRequester
    status: Literal["pending", "accepted", "rejected"]
    timestamp: str
    fields: dict[str, Any] = Field(description="The requester's answers to the card's extra_gated_fields")


class HoldInfo(Schema):
    id: int
    commit: str
    holder: str


class HoldReleased(Schema):
    released: int
