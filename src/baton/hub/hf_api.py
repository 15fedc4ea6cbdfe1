"""The Hugging Face Hub-compatible HTTP API.

The official ``huggingface_hub`` client, ``transformers`` and ``datasets`` talk to these routes
unchanged when ``HF_ENDPOINT`` points at Baton. Handlers stay thin: they parse the request,
call the hub's services and shape the JSON the client expects.

Revisions are percent-encoded by the client (``refs%2Fpr%2F1``); the server decodes ``%2F`` in
paths, so the routes that take a revision followed by a file path read the raw path instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, StrictBool, StrictStr
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.http import FileReader, OptionalUser, RequiredUser, WriteUser
from baton.accounts.models import ApiToken
from baton.core.errors import (
    BadRequestError,
    EntryNotFoundError,
    InvalidPathError,
    InvalidYamlError,
    NotSupportedError,
    QuotaExceededError,
    RangeNotSatisfiableError,
    RepoExistsError,
)
from baton.core.http import RuntimeDep, read_body
from baton.core.jsonlines import json_object_lines
from baton.core.runtime import Runtime
from baton.hub import cards, commits, paths, repos, variants
from baton.hub.commits import FileEntry
from baton.hub.models import Commit, Repo
from baton.hub.repos import RepoKey
from baton.hub.schemas import (
    TREE_ITEMS,
    AccessTokenInfo,
    CommitAuthor,
    CommitInfo,
    GitRef,
    GitRefs,
    RepoInfo,
    RepoSettings,
    RepoSummary,
    RepoUrl,
    TreeFile,
    TreeFolder,
    TreeItem,
    WhoAmI,
    WhoAmIAuth,
    WhoAmIOrg,
    YamlMessage,
    YamlValidation,
)

router = APIRouter()

TYPE_PLURALS = {"models": "model", "datasets": "dataset", "spaces": "space"}
PAGE_SIZE_TREE = 1000
PAGE_SIZE_COMMITS = 50

# For routes that answer with an empty body or with file bytes: no JSON in their OpenAPI entry.
EMPTY_BODY: dict[int | str, dict[str, Any]] = {200: {"description": "Done; the body is empty"}}
FILE_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range", "content": {"application/octet-stream": {}}},
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
}


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_url(request: Request, runtime: Runtime) -> str:
    if runtime.settings.public_url:
        return runtime.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def key_from(type_plural: str, namespace: str, name: str) -> RepoKey:
    repo_type = TYPE_PLURALS.get(type_plural)
    if repo_type is None:
        raise BadRequestError(f"Unknown repo type '{type_plural}'", hint="Use models, datasets or spaces.")
    return repos.parse_repo_id(repo_type, f"{namespace}/{name}")


def raw_tail(request: Request, marker: str) -> tuple[str, str]:
    """Split the raw (still percent-encoded) path after ``marker`` into (revision, file path).

    ``marker`` includes the repo id (``/ns/name/resolve/``) so a repo named like a keyword
    cannot confuse the split.
    """
    raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    index = raw.find(marker)
    if index < 0:
        raise BadRequestError("Malformed URL")
    tail = raw[index + len(marker) :]
    revision, _, path = tail.partition("/")
    try:
        return unquote(revision, errors="strict"), unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidPathError(
            f"The revision or path in {tail[:200]!r} is not valid UTF-8 once percent-decoded",
            hint="Percent-encode the UTF-8 bytes of the name (e.g. '%ED%95%9C' for '한').",
        ) from None


def next_page_link(request: Request, **params: int) -> str:
    """A ``Link: <...>; rel="next"`` header value for the same URL with ``params`` replaced.

    Built from the raw (still percent-encoded) path: the decoded one may hold characters a
    header cannot carry.
    """
    raw_path = request.scope.get("raw_path") or quote(request.url.path).encode()
    kept = [(name, value) for name, value in request.query_params.multi_items() if name not in params]
    query = urlencode(kept + [(name, str(value)) for name, value in params.items()])
    return f'<{request.url.scheme}://{request.url.netloc}{raw_path.decode("latin-1")}?{query}>; rel="next"'


def web_url(request: Request, runtime: Runtime, repo: Repo) -> str:
    prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
    return f"{base_url(request, runtime)}/{prefix}{repo.repo_id}"


# Identity ------------------------------------------------------------------------------------


@router.get("/api/whoami-v2")
def whoami(runtime: RuntimeDep, user: RequiredUser) -> WhoAmI:
    with runtime.database.session() as session:
        account = accounts.account_of(session, user)
        orgs = accounts.organizations_of(session, user.account_id)
        token = session.get(ApiToken, user.token_id) if user.token_id is not None else None
        return WhoAmI(
            type="user",
            id=str(account.id),
            name=account.name,
            fullname=account.fullname,
            email=account.email,
            is_pro=False,
            can_pay=False,
            orgs=[WhoAmIOrg(type="org", name=org.name, fullname=org.fullname, role_in_org=role) for org, role in orgs],
            auth=WhoAmIAuth(
                type="access_token",
                access_token=AccessTokenInfo(
                    display_name=token.name if token else "",
                    # The Hub's own word for a token that can write; "read" for every narrower token.
                    role="write" if user.can("write") else "read",
                    scopes=sorted(user.scopes),
                    expires_at=iso(user.token_expires_at) if user.token_expires_at else None,
                ),
            ),
        )


# Repo lifecycle ------------------------------------------------------------------------------


@router.post("/api/repos/create")
def create_repo(request_body: dict[str, Any], runtime: RuntimeDep, user: WriteUser, request: Request) -> RepoUrl:
    name = str(request_body.get("name", ""))
    namespace = request_body.get("organization") or user.name
    repo_type = repos.check_repo_type(request_body.get("type"))
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")
    private = repos.visibility_to_private(request_body.get("private"), request_body.get("visibility"))
    try:
        with runtime.database.session(write=True) as session:
            repo, _created = repos.create_repo(session, user, key, private=private)
            commits.initial_commit(session, runtime.store, user, repo)
            return RepoUrl(url=web_url(request, runtime, repo), name=repo.repo_id, id=str(repo.id))
    except RepoExistsError as error:
        # The client reads "url" from the 409 body when it was called with exist_ok=True.
        prefix = "" if key.repo_type == "model" else f"{key.repo_type}s/"
        error.extra["url"] = f"{base_url(request, runtime)}/{prefix}{key.repo_id}"
        raise


@router.delete("/api/repos/delete", response_class=Response, responses=EMPTY_BODY)
def delete_repo(request_body: dict[str, Any], runtime: RuntimeDep, user: WriteUser) -> Response:
    namespace = request_body.get("organization") or user.name
    key = repos.parse_repo_id(request_body.get("type"), f"{namespace}/{request_body.get('name', '')}")
    with runtime.database.session(write=True) as session:
        repos.delete_repo(session, user, key)
    return Response(status_code=200)


@router.post("/api/repos/move", response_class=Response, responses=EMPTY_BODY)
def move_repo(request_body: dict[str, Any], runtime: RuntimeDep, user: WriteUser) -> Response:
    repo_type = request_body.get("type")
    source = repos.parse_repo_id(repo_type, str(request_body.get("fromRepo", "")))
    target = repos.parse_repo_id(repo_type, str(request_body.get("toRepo", "")))
    with runtime.database.session(write=True) as session:
        repos.move_repo(session, user, source, target)
    return Response(status_code=200)


@router.put("/api/{type_plural}/{namespace}/{name}/settings")
def update_settings(
    type_plural: str,
    namespace: str,
    name: str,
    request_body: dict[str, Any],
    runtime: RuntimeDep,
    user: WriteUser,
) -> RepoSettings:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        repo = repos.update_settings(
            session,
            user,
            key,
            private=request_body.get("private"),
            visibility=request_body.get("visibility"),
            gated=request_body.get("gated"),
        )
        return RepoSettings.model_validate({"private": repo.private, "gated": repo.gated or False})


@router.post(
    "/api/validate-yaml",
    response_model=YamlValidation,
    responses={400: {"description": "The card has errors: the error body, with errors and warnings"}},
)
def validate_yaml(request_body: dict[str, Any]) -> YamlValidation | JSONResponse:
    content = request_body.get("content")
    if not isinstance(content, str):
        raise BadRequestError("'content' must be the text of README.md")
    repo_type = str(request_body.get("repoType") or "model")
    try:
        warnings = cards.validate_yaml(content, repo_type)
        if repo_type == "model":
            variants.parse_variant(cards.parse_card(content))  # the block itself; its base is checked on commit
    except (InvalidYamlError, variants.InvalidVariantError) as error:
        body = error.to_json() | {"errors": [{"message": error.message}], "warnings": []}
        return JSONResponse(body, status_code=400, headers={"X-Error-Code": error.code})
    return YamlValidation(errors=[], warnings=[YamlMessage(message=warning) for warning in warnings])


# Repo info and listing -----------------------------------------------------------------------


def sibling(entry: FileEntry, with_metadata: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"rfilename": entry.path}
    if with_metadata:
        item["size"] = entry.size
        item["blobId"] = entry.git_oid
        if entry.is_lfs:
            item["lfs"] = {
                "sha256": entry.sha256,
                "size": entry.size,
                "pointerSize": len(commits.lfs_pointer(entry.sha256, entry.size)),
            }
    return item


def repo_summary(repo: Repo, head: str | None) -> dict[str, Any]:
    card = repo.card_data or {}
    tags = list(card.get("tags") or [])
    if card.get("license"):
        tags.append(f"license:{card['license']}")
    languages = card.get("language") or []
    tags.extend(languages if isinstance(languages, list) else [languages])
    summary: dict[str, Any] = {
        "_id": str(repo.id),
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": head,
        "lastModified": iso(repo.last_modified),
        "createdAt": iso(repo.created_at),
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "downloads": repo.downloads,
        "likes": 0,
        "tags": tags,
    }
    if repo.repo_type == "model":
        summary["modelId"] = repo.repo_id
        if card.get("pipeline_tag"):
            summary["pipeline_tag"] = card["pipeline_tag"]
        if card.get("library_name"):
            summary["library_name"] = card["library_name"]
        bases = card.get("base_model")
        if bases:
            summary["baseModels"] = bases if isinstance(bases, list) else [bases]
            summary["baseModelRelation"] = card.get("base_model_relation")
    return summary


def repo_info_payload(session: Session, repo: Repo, commit: Commit, with_metadata: bool) -> dict[str, Any]:
    entries = commits.tree_entries(session, commit.tree_id)
    payload = repo_summary(repo, commit.oid)
    payload["sha"] = commit.oid
    payload["cardData"] = repo.card_data or {}
    payload["siblings"] = [sibling(entry, with_metadata) for entry in entries]
    payload["usedStorage"] = repo.used_storage
    payload["fileDownloads"] = repos.file_downloads(session, repo)
    if repo.repo_type == "model":
        payload["spaces"] = []
    return payload


@router.get("/api/{type_plural}/{namespace}/{name}", response_model_exclude_unset=True)
def repo_info(
    type_plural: str, namespace: str, name: str, runtime: RuntimeDep, user: OptionalUser, request: Request
) -> RepoInfo:
    return _repo_info(type_plural, namespace, name, None, runtime, user, request)


@router.get("/api/{type_plural}/{namespace}/{name}/revision/{revision:path}", response_model_exclude_unset=True)
def repo_info_at_revision(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    request: Request,
) -> RepoInfo:
    raw_revision, _ = raw_tail(request, f"/{namespace}/{name}/revision/")
    return _repo_info(type_plural, namespace, name, raw_revision, runtime, user, request)


def _repo_info(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str | None,
    runtime: Runtime,
    user: Actor | None,
    request: Request,
) -> RepoInfo:
    key = key_from(type_plural, namespace, name)
    with_metadata = request.query_params.get("blobs") in ("1", "true", "True") or (
        "blobs" in request.query_params.getlist("expand")
    )
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision)
        payload = repo_info_payload(session, repo, commit, with_metadata)
        payload["lineage"] = repos.lineage(session, user, repo)
        return RepoInfo.model_validate(payload)


@router.get("/api/{type_plural}", response_model_exclude_unset=True)
def list_repos(type_plural: str, runtime: RuntimeDep, user: OptionalUser, request: Request) -> list[RepoSummary]:
    repo_type = TYPE_PLURALS.get(type_plural)
    if repo_type is None:
        raise BadRequestError(f"Unknown listing '{type_plural}'", hint="Use /api/models or /api/datasets.")
    params = request.query_params
    limit = _int_param(params.get("limit"), "limit")
    direction = _int_param(params.get("direction"), "direction") or -1
    with_card = params.get("cardData") in ("1", "true", "True") or params.get("full") in ("1", "true", "True")
    with runtime.database.session() as session:
        found = repos.list_repos(
            session,
            user,
            repo_type,
            search=params.get("search"),
            author=params.get("author"),
            filters=params.getlist("filter"),
            sort=params.get("sort"),
            direction=direction,
            limit=min(limit, 1000) if limit is not None else 1000,
            variant_kind=_variant_kind_param(params.get("variant_kind"), repo_type),
        )
        heads = commits.default_heads(session, found)
        result = []
        for repo in found:
            item = repo_summary(repo, heads.get(repo.id))
            if with_card:
                item["cardData"] = repo.card_data or {}
            result.append(RepoSummary.model_validate(item))
        return result


def _variant_kind_param(value: str | None, repo_type: str) -> str | None:
    """``variant_kind=`` of a listing: one of the kinds a model card's ``variant:`` may declare."""
    if value is None or value == "":
        return None
    if repo_type != "model" or value not in variants.KINDS:
        raise BadRequestError(
            f"'variant_kind' {value[:40]!r} is not a variant kind" + ("" if repo_type == "model" else " (models only)"),
            code="BadFilter",
            hint="Use one of: " + ", ".join(variants.KINDS) + " (on /api/models).",
        )
    return value


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise BadRequestError(f"'{name}' must be an integer, got '{value[:40]}'") from error


# Refs and commits ----------------------------------------------------------------------------


@router.get("/api/{type_plural}/{namespace}/{name}/refs")
def list_refs(type_plural: str, namespace: str, name: str, runtime: RuntimeDep, user: OptionalUser) -> GitRefs:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        refs = commits.list_refs(session, repo)

        def item(ref: Any) -> GitRef:
            prefix = "refs/heads/" if ref.kind == "branch" else "refs/tags/"
            return GitRef(name=ref.name, ref=prefix + ref.name, target_commit=ref.commit_oid)

        return GitRefs(
            branches=[item(ref) for ref in refs if ref.kind == "branch"],
            tags=[item(ref) for ref in refs if ref.kind == "tag"],
            converts=[],
            pull_requests=[],
        )


@router.get("/api/{type_plural}/{namespace}/{name}/commits/{revision:path}")
def list_commits(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    request: Request,
    response: Response,
) -> list[CommitInfo]:
    key = key_from(type_plural, namespace, name)
    raw_revision, _ = raw_tail(request, f"/{namespace}/{name}/commits/")
    page = _int_param(request.query_params.get("p"), "p") or 0
    limit = min(_int_param(request.query_params.get("limit"), "limit") or PAGE_SIZE_COMMITS, 1000)
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        head = commits.resolve_revision(session, repo, raw_revision)
        history = list(commits.list_commits(session, repo, head, limit=(page + 1) * limit + 1))
        window = history[page * limit : (page + 1) * limit]
        body = [
            CommitInfo(
                id=commit.oid,
                title=commit.title,
                message=commit.message,
                date=iso(commit.created_at),
                authors=[CommitAuthor(user=commit.author)],
            )
            for commit in window
        ]
    if len(history) > (page + 1) * limit:
        response.headers["Link"] = next_page_link(request, p=page + 1)
    return body


@router.post(
    "/api/{type_plural}/{namespace}/{name}/branch/{branch:path}", response_class=Response, responses=EMPTY_BODY
)
def create_branch(
    type_plural: str,
    namespace: str,
    name: str,
    branch: str,
    runtime: RuntimeDep,
    user: WriteUser,
    request: Request,
    request_body: dict[str, Any] | None = None,
) -> Response:
    key = key_from(type_plural, namespace, name)
    raw_branch, _ = raw_tail(request, f"/{namespace}/{name}/branch/")
    body = request_body or {}
    with runtime.database.session(write=True) as session:
        repo = repos.get_writable_repo(session, user, key)
        commits.create_ref(
            session,
            repo,
            "branch",
            raw_branch,
            body.get("startingPoint"),
            exist_ok=bool(body.get("exist_ok")),
        )
    return Response(status_code=200)


@router.delete(
    "/api/{type_plural}/{namespace}/{name}/branch/{branch:path}", response_class=Response, responses=EMPTY_BODY
)
def delete_branch(
    type_plural: str,
    namespace: str,
    name: str,
    branch: str,
    runtime: RuntimeDep,
    user: WriteUser,
    request: Request,
) -> Response:
    return _delete_ref(
        type_plural,
        namespace,
        name,
        "branch",
        raw_tail(request, f"/{namespace}/{name}/branch/")[0],
        runtime,
        user,
    )


@router.post("/api/{type_plural}/{namespace}/{name}/tag/{revision:path}", response_class=Response, responses=EMPTY_BODY)
def create_tag(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    request_body: dict[str, Any],
    runtime: RuntimeDep,
    user: WriteUser,
    request: Request,
) -> Response:
    key = key_from(type_plural, namespace, name)
    raw_revision, _ = raw_tail(request, f"/{namespace}/{name}/tag/")
    with runtime.database.session(write=True) as session:
        repo = repos.get_writable_repo(session, user, key)
        commits.create_ref(
            session,
            repo,
            "tag",
            str(request_body.get("tag", "")),
            raw_revision,
            message=request_body.get("message"),
        )
    return Response(status_code=200)


@router.delete("/api/{type_plural}/{namespace}/{name}/tag/{tag:path}", response_class=Response, responses=EMPTY_BODY)
def delete_tag(
    type_plural: str,
    namespace: str,
    name: str,
    tag: str,
    runtime: RuntimeDep,
    user: WriteUser,
    request: Request,
) -> Response:
    return _delete_ref(
        type_plural, namespace, name, "tag", raw_tail(request, f"/{namespace}/{name}/tag/")[0], runtime, user
    )


def _delete_ref(
    type_plural: str,
    namespace: str,
    name: str,
    kind: Literal["branch", "tag"],
    ref_name: str,
    runtime: Runtime,
    user: Actor,
) -> Response:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        repo = repos.get_writable_repo(session, user, key)
        commits.delete_ref(session, repo, kind, ref_name)
    return Response(status_code=200)


# Trees ---------------------------------------------------------------------------------------


def tree_item(entry: FileEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": entry.path}
    if entry.is_lfs:
        item["lfs"] = {
            "oid": entry.sha256,
            "size": entry.size,
            "pointerSize": len(commits.lfs_pointer(entry.sha256, entry.size)),
        }
    return item


def folder_item(path: str) -> dict[str, Any]:
    return {"type": "directory", "oid": commits.git_blob_oid(path.encode()), "size": 0, "path": path}


def list_tree_items(entries: list[FileEntry], folder: str, recursive: bool) -> list[dict[str, Any]]:
    """Files and folders under ``folder``, folders before their contents, sorted by path."""
    prefix = folder.strip("/") + "/" if folder.strip("/") else ""
    items: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.path.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :].split("/")
        if recursive:
            for depth in range(1, len(rest)):
                sub = prefix + "/".join(rest[:depth])
                items.setdefault(sub, folder_item(sub))
            items[entry.path] = tree_item(entry)
        elif len(rest) == 1:
            items[entry.path] = tree_item(entry)
        else:
            sub = prefix + rest[0]
            items.setdefault(sub, folder_item(sub))
    return [items[path] for path in sorted(items)]


@router.get(
    "/api/{type_plural}/{namespace}/{name}/tree/{rest:path}",
    response_model=list[TreeItem],
    response_model_exclude_unset=True,
)
def list_tree(
    type_plural: str,
    namespace: str,
    name: str,
    rest: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    request: Request,
    response: Response,
) -> list[TreeFile | TreeFolder]:
    key = key_from(type_plural, namespace, name)
    revision, folder = raw_tail(request, f"/{namespace}/{name}/tree/")
    params = request.query_params
    recursive = params.get("recursive") in ("1", "true", "True")
    limit = min(_int_param(params.get("limit"), "limit") or PAGE_SIZE_TREE, PAGE_SIZE_TREE)
    cursor = _int_param(params.get("cursor"), "cursor") or 0
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision)
        entries = commits.tree_entries(session, commit.tree_id)
        folder = folder.strip("/")
        if folder and not any(entry.path.startswith(folder + "/") for entry in entries):
            raise EntryNotFoundError(f"Folder {folder} does not exist at revision {commit.oid}")
        items = list_tree_items(entries, folder, recursive)
        if params.get("expand") in ("1", "true", "True"):
            _add_last_commits(session, repo, commit, items[cursor : cursor + limit])
    page = items[cursor : cursor + limit]
    if cursor + limit < len(items):
        response.headers["Link"] = next_page_link(request, cursor=cursor + limit)
    return TREE_ITEMS.validate_python(page)


def _add_last_commits(session: Session, repo: Repo, head: Commit, items: list[dict[str, Any]]) -> None:
    """Fill ``lastCommit`` for each item: the newest commit whose change touched it."""
    pending = {item["path"]: item for item in items}
    newer: Commit | None = None
    newer_files: dict[str, str] = {}
    for commit in commits.list_commits(session, repo, head, limit=1000):
        files = {entry.path: entry.sha256 for entry in commits.tree_entries(session, commit.tree_id)}
        if newer is not None:
            for path in list(pending):
                if _signature(newer_files, path) != _signature(files, path):
                    pending.pop(path)["lastCommit"] = _commit_ref(newer)
        newer, newer_files = commit, files
        if not pending:
            return
    for item in pending.values():
        if newer is not None:
            item["lastCommit"] = _commit_ref(newer)


def _signature(files: dict[str, str], path: str) -> tuple[tuple[str, str], ...]:
    if path in files:
        return ((path, files[path]),)
    prefix = path + "/"
    return tuple(sorted((p, s) for p, s in files.items() if p.startswith(prefix)))


def _commit_ref(commit: Commit) -> dict[str, str]:
    return {"id": commit.oid, "title": commit.title, "date": iso(commit.created_at)}


class PathsInfoRequest(BaseModel):
    paths: list[StrictStr]
    expand: StrictBool = False


@router.post(
    "/api/{type_plural}/{namespace}/{name}/paths-info/{revision:path}",
    response_model=list[TreeItem],
    response_model_exclude_unset=True,
)
async def paths_info(
    type_plural: str,
    namespace: str,
    name: str,
    revision: str,
    runtime: RuntimeDep,
    user: OptionalUser,
    request: Request,
) -> list[TreeFile | TreeFolder]:
    key = key_from(type_plural, namespace, name)
    raw_revision, _ = raw_tail(request, f"/{namespace}/{name}/paths-info/")
    if request.headers.get("content-type", "").startswith("application/json"):
        asked = await read_body(request, PathsInfoRequest, "The paths-info request")
    else:  # the official client sends a form
        form = await request.form()
        values = form.getlist("paths")
        if not all(isinstance(value, str) for value in values):
            raise BadRequestError("'paths' must be text fields, not files", hint="Send paths=<path> form fields.")
        asked = PathsInfoRequest(paths=values, expand=str(form.get("expand", "")).lower() == "true")
    wanted, expand = asked.paths, asked.expand

    def run() -> list[TreeFile | TreeFolder]:
        with runtime.database.session() as session:
            repo = repos.get_repo(session, user, key)
            commit = commits.resolve_revision(session, repo, raw_revision)
            entries = commits.tree_entries(session, commit.tree_id)
            by_path = {entry.path: entry for entry in entries}
            found: list[dict[str, Any]] = []
            for path in wanted:
                clean = path.strip("/")
                if clean in by_path:
                    found.append(tree_item(by_path[clean]))
                elif clean and any(entry.path.startswith(clean + "/") for entry in entries):
                    found.append(folder_item(clean))
            if expand:
                _add_last_commits(session, repo, commit, found)
            return TREE_ITEMS.validate_python(found)

    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run)


# Downloads -----------------------------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range as inclusive (start, end); None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None  # unsupported forms are answered with the whole file, as RFC 9110 allows
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise RangeNotSatisfiableError(
                    f"Invalid suffix range '{header}'", headers={"Content-Range": f"bytes */{size}"}
                )
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        raise RangeNotSatisfiableError(
            f"Range {header} is outside the file ({size} bytes)", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, min(end, size - 1)


def _download(
    repo_type: str, namespace: str, name: str, request: Request, runtime: Runtime, user: Actor | None
) -> Response:
    key = repos.parse_repo_id(repo_type, f"{namespace}/{name}")
    revision, path = raw_tail(request, f"/{namespace}/{name}/resolve/")
    path = paths.validate_repo_path(path)
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision)
        entry = commits.get_entry(session, commit, path)
        repos.check_file_access(session, user, repo)
        repo_pk = repo.id
    etag = f'"{commits.entry_etag(entry)}"'
    headers = {
        "X-Repo-Commit": commit.oid,
        "ETag": etag,
        "X-Linked-Etag": etag,
        "X-Linked-Size": str(entry.size),
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        "Cache-Control": "private, max-age=0, must-revalidate",
        # A browser signed in to the pages downloads here too: an uploaded file never runs as a page of this site.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    byte_range = parse_range(request.headers.get("range"), entry.size)
    if request.headers.get("if-none-match") == etag and byte_range is None:
        return Response(status_code=304, headers=headers)
    start, end = byte_range if byte_range else (0, entry.size - 1)
    status = 206 if byte_range else 200
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    media_type = "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    if start == 0:
        with runtime.database.session(write=True) as session:
            repos.count_download(session, repo_pk, path)
    if entry.size == 0:
        return Response(b"", status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(
        _stream(runtime, entry.sha256, start, end), status_code=status, headers=headers, media_type=media_type
    )


def _stream(runtime: Runtime, sha256: str, start: int, end: int) -> Iterator[bytes]:
    yield from runtime.store.open_range(sha256, start, end)


@router.api_route(
    "/{namespace}/{name}/resolve/{rest:path}", methods=["GET", "HEAD"], response_class=Response, responses=FILE_BYTES
)
def resolve_model_file(
    namespace: str, name: str, rest: str, request: Request, runtime: RuntimeDep, user: FileReader
) -> Response:
    return _download("model", namespace, name, request, runtime, user)


@router.api_route(
    "/{type_plural}/{namespace}/{name}/resolve/{rest:path}",
    methods=["GET", "HEAD"],
    response_class=Response,
    responses=FILE_BYTES,
)
def resolve_typed_file(
    type_plural: str,
    namespace: str,
    name: str,
    rest: str,
    request: Request,
    runtime: RuntimeDep,
    user: FileReader,
) -> Response:
    repo_type = TYPE_PLURALS.get(type_plural)
    if repo_type is None or repo_type == "model":
        raise EntryNotFoundError(f"No such page: /{type_plural}/{namespace}/{name}/resolve/...")
    return _download(repo_type, namespace, name, request, runtime, user)


# Xet is not spoken: say how to upload without it ---------------------------------------------

# huggingface_hub (1.x and 2.x) uploads through Xet whenever ``hf_xet`` is installed, without asking
# the server; ``hf_xet`` then fetches a write token here and, when that fails, prints only the status
# and the URL it requested. So the token routes send the client on to a URL that *is* the advice, and
# that URL answers 501 with the same advice in the body: the line the person sees names the fix.
XET_ADVICE_PATH = "/xet-is-not-supported-here/set-HF_HUB_DISABLE_XET=1-and-run-it-again"
XET_HINT = "Set HF_HUB_DISABLE_XET=1 in the environment; the client then uses the LFS protocol Baton serves."


XET_REFUSED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Never sent: Baton refuses every Xet token (XetNotSupported)"},
    307: {"description": "To the advice URL, which answers 501 XetNotSupported: set HF_HUB_DISABLE_XET=1"},
    501: {"description": "Xet is not spoken; set HF_HUB_DISABLE_XET=1"},
}


@router.get(
    "/api/{type_plural}/{namespace}/{name}/xet-write-token/{revision:path}",
    response_class=Response,
    responses=XET_REFUSED,
)
@router.get(
    "/api/{type_plural}/{namespace}/{name}/xet-read-token/{revision:path}",
    response_class=Response,
    responses=XET_REFUSED,
)
def xet_token(type_plural: str, namespace: str, name: str, revision: str) -> Response:
    return RedirectResponse(XET_ADVICE_PATH, status_code=307)


@router.get(XET_ADVICE_PATH, response_class=Response, responses=XET_REFUSED)
def xet_advice() -> Response:
    raise NotSupportedError("Baton does not speak the Xet storage protocol", code="XetNotSupported", hint=XET_HINT)


def ndjson_lines(body: bytes, max_line_bytes: int | None = None) -> list[dict[str, Any]]:
    """The objects of an NDJSON commit payload; a line over ``max_line_bytes`` is a 413."""
    lines = json_object_lines(
        body.splitlines(),
        lambda number: f"Commit payload line {number}",
        BadRequestError,
        max_line_bytes=max_line_bytes,
        too_long=QuotaExceededError,
        too_long_hint="Upload large files through LFS (the client does so when preupload says 'lfs').",
    )
    return [value for _number, value in lines]
