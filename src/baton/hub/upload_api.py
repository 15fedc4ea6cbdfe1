"""Uploads in the Hub's protocol: preupload, the Git LFS batch API, and the NDJSON commit.

Flow of ``upload_file``/``upload_folder``/``create_commit`` in the official client:
1. ``POST /api/<type>s/<id>/preupload/<rev>``: Baton says per file whether it goes inline
   ("regular") or through LFS, and gives the current oid so unchanged files are skipped.
2. ``POST /<id>.git/info/lfs/objects/batch``: for each LFS object, a signed upload link
   (single PUT, or multipart with one link per part plus a completion link) and a verify link;
   no links at all when Baton already has the bytes and this repo may use them.
3. ``PUT`` the bytes to those links (the client sends no token there: the links are signed).
4. ``POST /api/<type>s/<id>/commit/<rev>``: the NDJSON commit naming inline and LFS files.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.http import WriteUser, limit_actions
from baton.accounts.models import ApiToken
from baton.core.blobs import check_sha256
from baton.core.errors import (
    AuthenticationError,
    BadRequestError,
    IntegrityError,
    QuotaExceededError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from baton.core.http import MAX_DB_INT, RuntimeDep, read_body
from baton.core.runtime import Runtime
from baton.hub import commits, gitignore, paths, repos
from baton.hub.hf_api import EMPTY_BODY, TYPE_PLURALS, base_url, key_from, ndjson_lines, raw_tail, web_url
from baton.hub.repos import RepoKey
from baton.hub.schemas import (
    CommitResult,
    LfsActions,
    LfsBatchResponse,
    LfsLink,
    LfsObject,
    LfsObjectError,
    PreuploadAnswer,
    PreuploadResponse,
    ScanReport,
)

router = APIRouter()

LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
# Files at least this large are uploaded in parts; parts are this large. A single PUT is hashed
# once as it streams in; parts cost a join and a second pass, so they are kept for files large
# enough that resuming one part instead of the whole file pays for it.
MULTIPART_THRESHOLD = 512 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
BRIDGE_CHUNK = 4 * 1024 * 1024
UPLOAD_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_PARTS = 10_000
ByteCount = Annotated[int, Path(ge=0, le=MAX_DB_INT)]
PartNumber = Annotated[int, Path(ge=1, le=MAX_PARTS)]


class LfsJSONResponse(JSONResponse):
    """JSON in Git LFS's media type, as the batch API answers."""

    media_type = LFS_MEDIA_TYPE


class PreuploadFile(BaseModel):
    path: StrictStr
    size: StrictInt = Field(ge=0)
    sample: StrictStr = ""


class PreuploadRequest(BaseModel):
    """What the client asks before uploading: per file, regular or LFS, and is it ignored."""

    files: list[PreuploadFile]
    gitIgnore: StrictStr | None = None


class LfsBatchRequest(BaseModel):
    """A Git LFS batch request; its objects are checked one by one, each getting its own answer."""

    operation: StrictStr
    objects: list[dict[str, Any]]
    transfers: list[StrictStr] | None = None


class UploadedPart(BaseModel):
    partNumber: StrictInt = Field(ge=1, le=MAX_PARTS)
    etag: StrictStr = ""


class CompletionRequest(BaseModel):
    parts: list[UploadedPart] = Field(min_length=1)


class VerifyRequest(BaseModel):
    oid: StrictStr | None = None
    size: StrictInt | None = None


@router.post("/api/{type_plural}/{namespace}/{name}/preupload/{revision:path}")
def preupload(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    request_body: PreuploadRequest,
    runtime: RuntimeDep,
    user: WriteUser,
    request: Request,
) -> PreuploadResponse:
    key = key_from(type_plural, namespace, name)
    raw_revision, _ = raw_tail(request, f"/{namespace}/{name}/preupload/")
    files = request_body.files
    with runtime.database.session() as session:
        repo = repos.get_writable_repo(session, user, key)
        try:
            commit = commits.resolve_revision(session, repo, raw_revision)
            current = {entry.path: entry for entry in commits.tree_entries(session, commit.tree_id)}
        except RevisionNotFoundError:
            commit, current = None, {}
    ignore_rules = _ignore_rules(runtime, request_body.gitIgnore, current.get(".gitignore"))
    answers: list[PreuploadAnswer] = []
    for item in files:
        path = paths.validate_new_path(item.path)
        size = item.size
        if size > runtime.settings.max_file_size:
            raise QuotaExceededError(f"{path} is {size} bytes, over the per-file limit")
        try:
            sample = base64.b64decode(item.sample, validate=True)
        except binascii.Error as error:
            raise BadRequestError(f"{path}: 'sample' is not valid base64") from error
        lfs = paths.is_lfs_candidate(path, size, sample) or size > runtime.settings.max_regular_file_size
        existing = current.get(path)
        answers.append(
            PreuploadAnswer(
                path=path,
                upload_mode="lfs" if lfs else "regular",
                should_ignore=ignore_rules.is_ignored(path),
                oid=commits.entry_etag(existing) if existing else None,
            )
        )
    return PreuploadResponse(files=answers, commit_oid=commit.oid if commit else None)


def _ignore_rules(runtime: Runtime, sent: str | None, committed: commits.FileEntry | None) -> gitignore.IgnoreRules:
    """The .gitignore rules for ``shouldIgnore``: the request's ``gitIgnore`` when it has one (the
    client sends the .gitignore it is about to commit), else the one committed at the revision.

    Over the limits (``gitignore.MAX_PATTERNS`` patterns, ``MAX_PATTERN_LENGTH`` characters in a
    pattern), the request's rules are refused with a 400 that says which limit. A committed
    .gitignore over them is not: Baton uses its first 1000 patterns and leaves out the longer
    ones, because refusing would stop every upload into the repo, including the one that fixes
    the file (shouldIgnore only advises the client which files to skip)."""
    if sent is not None:
        return gitignore.IgnoreRules.parse(sent, source="the request's gitIgnore")
    return gitignore.IgnoreRules.parse(_read_text(runtime, committed), source=".gitignore", skip_over_limit=True)


def _read_text(runtime: Runtime, entry: commits.FileEntry | None, limit: int = 1024 * 1024) -> str:
    if entry is None or entry.size > limit:
        return ""
    return b"".join(runtime.store.open_range(entry.sha256)).decode("utf-8", errors="replace")


def _lfs_error(oid: str, size: int, code: int, message: str) -> LfsObject:
    return LfsObject(oid=oid, size=size, error=LfsObjectError(code=code, message=message))


async def lfs_batch(request: Request, user: Actor, repo_type: str, namespace: str, name: str) -> LfsBatchResponse:
    runtime: Runtime = request.app.state.runtime
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")
    limit_actions(runtime, request, "upload", user)
    batch = await read_body(request, LfsBatchRequest, "The LFS batch request")
    if batch.operation != "upload":
        raise BadRequestError(
            "Only the 'upload' operation is served by the batch API",
            hint="Download files through /<repo>/resolve/<revision>/<path>.",
        )
    objects = batch.objects
    multipart = "multipart" in (batch.transfers or ["basic"])
    root = base_url(request, runtime)

    def plan() -> list[LfsObject]:
        answers: list[LfsObject] = []
        reused: list[tuple[str, int]] = []
        with runtime.database.session() as session:
            repo = repos.get_writable_repo(session, user, key)
            for item in objects:
                oid, size = item.get("oid"), item.get("size")
                if not isinstance(oid, str):
                    answers.append(_lfs_error("", -1, 422, "oid must be the sha256 of the file, as text"))
                    continue
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    answers.append(_lfs_error(oid, -1, 422, "size must be a non-negative integer"))
                    continue
                try:
                    check_sha256(oid)
                except BadRequestError as error:
                    answers.append(_lfs_error(oid, size, 422, error.message))
                    continue
                if size > runtime.settings.max_file_size:
                    answers.append(_lfs_error(oid, size, 413, f"{size} bytes is over the per-file limit"))
                    continue
                answer = LfsObject(oid=oid, size=size, authenticated=True)
                if commits.blob_needs_upload(session, runtime.store, user, repo, oid):
                    answer.actions = _upload_actions(runtime, root, key, oid, size, multipart, user)
                else:
                    reused.append((oid, size))
                answers.append(answer)
        if reused:
            # No upload will come for these: refresh their grants so gc spares them until the commit.
            with runtime.database.session(write=True) as session:
                repo = repos.get_writable_repo(session, user, key)
                for oid, size in reused:
                    commits.grant_blob(session, repo, oid, size)
        return answers

    answers = await run_in_threadpool(plan)
    any_multipart = any(
        answer.actions is not None and "chunk_size" in (answer.actions.upload.header or {}) for answer in answers
    )
    return LfsBatchResponse(transfer="multipart" if any_multipart else "basic", objects=answers, hash_algo="sha256")


def _upload_actions(
    runtime: Runtime, root: str, key: RepoKey, oid: str, size: int, multipart: bool, user: Actor
) -> LfsActions:
    scope = f"{key.repo_type}/{key.namespace}/{key.name}"

    def signed(path: str) -> str:
        # Bound to the uploader's token, so each use re-checks that the token still may write here.
        return root + runtime.signer.sign(path, by=user.token_id)

    verify = LfsLink(href=signed(f"/api/lfs/{scope}/verify/{oid}"))
    if not multipart or size < MULTIPART_THRESHOLD:
        return LfsActions(
            upload=LfsLink(href=signed(f"/api/lfs/{scope}/objects/{oid}/{size}"), header={}), verify=verify
        )
    upload_id = secrets.token_urlsafe(16).replace("-", "x")
    header: dict[str, str] = {"chunk_size": str(PART_SIZE)}
    for part in range(1, math.ceil(size / PART_SIZE) + 1):
        header[f"{part:05d}"] = signed(f"/api/lfs/{scope}/parts/{oid}/{size}/{upload_id}/{part}")
    complete = signed(f"/api/lfs/{scope}/complete/{oid}/{size}/{upload_id}")
    return LfsActions(upload=LfsLink(href=complete, header=header), verify=verify)


def signed_link_uploader(request: Request, runtime: RuntimeDep, repo_type: str, namespace: str, name: str) -> Actor:
    """The uploader a signed upload link stands for, while its token may still write to the repo.

    The signature proves Baton issued the link; the token named in it must still be valid (not
    revoked or expired) and still have write access to the repo, checked at every use. As a
    dependency it runs before the request's body is read or validated.
    """
    query = request.query_params
    token_id = runtime.signer.verify(request.url.path, query.get("expires"), query.get("signature"), query.get("by"))
    if token_id is None:
        raise AuthenticationError("This upload link names no uploader", hint="Ask the LFS batch API for a new link.")
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")
    with runtime.database.session() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise AuthenticationError(
                "This upload link's token no longer exists", hint="Upload again with a valid token."
            )
        user = accounts.actor_from_token(session, token)
        repos.get_writable_repo(session, user, key)
    limit_actions(runtime, request, "upload", user)
    return user


SignedUploader = Annotated[Actor, Depends(signed_link_uploader)]


def _body_chunks(request: Request) -> Iterator[bytes]:
    """Bridge the async request body into the blob store's synchronous writer, chunk by chunk."""
    stream: AsyncIterator[bytes] = request.stream()

    async def next_chunks() -> list[bytes]:
        # Gather several network chunks per thread hop: one hop per ~4 MiB, not per 64 KiB.
        # They are handed over as they came, not joined: the event loop, which receives every
        # upload, copies no bytes; the worker thread hashes and writes each chunk.
        chunks: list[bytes] = []
        gathered = 0
        async for chunk in stream:
            if chunk:
                chunks.append(chunk)
                gathered += len(chunk)
                if gathered >= BRIDGE_CHUNK:
                    break
        return chunks

    while chunks := anyio.from_thread.run(next_chunks):
        yield from chunks


def _granting_repo(runtime: Runtime, repo_type: str, namespace: str, name: str, oid: str, size: int) -> None:
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, key)
        if repo is None:
            raise RepoNotFoundError(f"Repository not found: {key}")
        commits.grant_blob(session, repo, oid, size)


@router.put(
    "/api/lfs/{repo_type}/{namespace}/{name}/objects/{oid}/{size}", response_class=Response, responses=EMPTY_BODY
)
async def upload_object(
    repo_type: str,
    namespace: str,
    name: str,
    oid: str,
    size: ByteCount,
    request: Request,
    runtime: RuntimeDep,
    _uploader: SignedUploader,
) -> Response:
    check_sha256(oid)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) != size:
        raise IntegrityError(f"The body is {declared} bytes but the object is declared as {size}")

    def ingest() -> None:
        runtime.store.put(
            _body_chunks(request),
            expected_sha256=oid,
            expected_size=size,
            max_size=runtime.settings.max_file_size,
        )
        _granting_repo(runtime, repo_type, namespace, name, oid, size)

    await run_in_threadpool(ingest)
    return Response(status_code=200)


@router.put(
    "/api/lfs/{repo_type}/{namespace}/{name}/parts/{oid}/{size}/{upload_id}/{part}",
    response_class=Response,
    responses=EMPTY_BODY,
)
async def upload_part(
    repo_type: str,
    namespace: str,
    name: str,
    oid: str,
    size: ByteCount,
    upload_id: str,
    part: PartNumber,
    request: Request,
    runtime: RuntimeDep,
    _uploader: SignedUploader,
) -> Response:
    check_sha256(oid)
    if not UPLOAD_ID_PATTERN.match(upload_id):
        raise BadRequestError("Malformed part link")

    def ingest() -> str:
        return runtime.store.put_part(upload_id, part, _body_chunks(request)).etag

    etag = await run_in_threadpool(ingest)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


# The two routes below read their body only after checking the link, so that a request without
# a valid signature is a 401 whatever it sends.


@router.post(
    "/api/lfs/{repo_type}/{namespace}/{name}/complete/{oid}/{size}/{upload_id}",
    response_class=Response,
    responses=EMPTY_BODY,
)
async def complete_upload(
    repo_type: str,
    namespace: str,
    name: str,
    oid: str,
    size: ByteCount,
    upload_id: str,
    request: Request,
    runtime: RuntimeDep,
    _uploader: SignedUploader,
) -> Response:
    check_sha256(oid)
    if not UPLOAD_ID_PATTERN.match(upload_id):
        raise BadRequestError("Malformed completion link")
    completion = await read_body(request, CompletionRequest, "The multipart completion request")
    numbers = sorted(part.partNumber for part in completion.parts)
    if numbers != list(range(1, len(numbers) + 1)):
        raise BadRequestError("Parts must be numbered 1..N without gaps")

    def join() -> None:
        runtime.store.complete_multipart(
            upload_id, numbers, expected_sha256=oid, expected_size=size, max_size=runtime.settings.max_file_size
        )
        _granting_repo(runtime, repo_type, namespace, name, oid, size)

    await run_in_threadpool(join)
    return Response(status_code=200)


@router.post("/api/lfs/{repo_type}/{namespace}/{name}/verify/{oid}", response_class=Response, responses=EMPTY_BODY)
async def verify_object(
    repo_type: str,
    namespace: str,
    name: str,
    oid: str,
    request: Request,
    runtime: RuntimeDep,
    _uploader: SignedUploader,
) -> Response:
    check_sha256(oid)
    claimed = (await read_body(request, VerifyRequest, "The LFS verify request")).size
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")

    def check() -> None:
        with runtime.database.session() as session:
            repo = repos.find_repo(session, key)
            # Only bytes that reached this repo verify: the link must not tell whether the store
            # holds some other repo's blob.
            received = repo is not None and commits.has_grant(session, repo, oid)
        if not received or not runtime.store.exists(oid):
            raise IntegrityError(f"Object {oid} was not received completely", hint="Upload it again.")
        size = runtime.store.size(oid)
        if claimed not in (None, size):
            raise IntegrityError(f"Object {oid} has {size} bytes, not {claimed}")

    await run_in_threadpool(check)
    return Response(status_code=200)


@router.post("/api/{type_plural}/{namespace}/{name}/commit/{revision:path}")
async def commit(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    request: Request,
    runtime: RuntimeDep,
    user: WriteUser,
) -> CommitResult:
    key = key_from(type_plural, namespace, name)
    limit_actions(runtime, request, "upload", user)
    branch, _ = raw_tail(request, f"/{namespace}/{name}/commit/")
    if request.query_params.get("create_pr") in ("1", "true", "True"):
        raise BadRequestError(
            "Pull requests are not supported yet", code="NotSupported", hint="Commit to a branch instead."
        )
    body = await request.body()
    # An inline file is base64 in its line: 4/3 of its bytes, plus room for the path and keys.
    lines = ndjson_lines(body, max_line_bytes=runtime.settings.max_regular_file_size * 4 // 3 + 64 * 1024)
    header, operations = commits.parse_ndjson_operations(lines)

    def run() -> CommitResult:
        with runtime.database.session() as session:
            repo = repos.get_writable_repo(session, user, key)
            prepared = commits.prepare_commit(session, runtime.store, runtime.settings, user, repo, operations)
        with runtime.database.session(write=True) as session:
            repo = repos.get_writable_repo(session, user, key)
            new = commits.apply_commit(
                session,
                runtime.store,
                runtime.settings,
                user,
                repo,
                branch,
                prepared,
                title=header.summary or "Upload files",
                message=header.description or "",
                parent_commit=header.parentCommit or None,
            )
            url = web_url(request, runtime, repo)
            return CommitResult(
                commit_url=f"{url}/commit/{new.oid}",
                commit_oid=new.oid,
                pull_request_url=None,
                # Beyond the Hub's answer (clients ignore it): what each added file was found to be.
                scans=[ScanReport.model_validate(scan.to_json()) for scan in prepared.scans.values()],
            )

    return await run_in_threadpool(run)


def install_lfs_routes(app_router: APIRouter) -> None:
    """LFS batch URLs end in ``<name>.git/...``, which path parameters cannot split cleanly."""

    async def model_batch(namespace: str, repo_git: str, request: Request, user: WriteUser) -> LfsBatchResponse:
        return await lfs_batch(request, user, "model", namespace, repo_git.removesuffix(".git"))

    async def typed_batch(
        type_plural: str, namespace: str, repo_git: str, request: Request, user: WriteUser
    ) -> LfsBatchResponse:
        repo_type = TYPE_PLURALS.get(type_plural)
        if repo_type is None:
            raise BadRequestError(f"Unknown repo type '{type_plural}'")
        return await lfs_batch(request, user, repo_type, namespace, repo_git.removesuffix(".git"))

    # Answers leave out what does not apply (no actions for bytes Baton has, an error instead of
    # authenticated), so only the keys each answer set are sent.
    for path, endpoint in (
        ("/{namespace}/{repo_git}/info/lfs/objects/batch", model_batch),
        ("/{type_plural}/{namespace}/{repo_git}/info/lfs/objects/batch", typed_batch),
    ):
        app_router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=LfsBatchResponse,
            response_class=LfsJSONResponse,
            response_model_exclude_unset=True,
        )


install_lfs_routes(router)
