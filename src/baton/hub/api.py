"""Baton's own hub routes beside the HF-compatible ones: gated access, holds, lineage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from baton.accounts.http import OperatorUser, OptionalUser, WriteUser
from baton.core.errors import BadRequestError
from baton.core.http import DbId, RuntimeDep, json_body
from baton.hub import commits, repos
from baton.hub.hf_api import iso, key_from
from baton.hub.schemas import (
    AccessRequester,
    AccessRequestInfo,
    AccessStatus,
    HoldInfo,
    HoldReleased,
    RepoLineageInfo,
)

router = APIRouter()


@router.post("/api/{type_plural}/{namespace}/{name}/ask-access")
async def ask_access(
    type_plural: str, namespace: str, name: str, request: Request, runtime: RuntimeDep, user: WriteUser
) -> AccessStatus:
    key = key_from(type_plural, namespace, name)
    if request.headers.get("content-type", "").startswith("application/json"):
        fields = await json_body(request, "The access request")
    else:
        fields = {k: str(v) for k, v in (await request.form()).items()}
    if not isinstance(fields, dict) or not all(isinstance(v, str | int | float | bool) for v in fields.values()):
        raise BadRequestError(
            "The access request must be an object of field values",
            hint='Send {"<field>": "<answer>", ...} with the fields the repo card lists under extra_gated_fields.',
        )
    with runtime.database.session(write=True) as session:
        repo = repos.get_repo(session, user, key)
        access = repos.request_access(session, user, repo, fields)
        return AccessStatus.model_validate({"status": access.status})


@router.get("/api/{type_plural}/{namespace}/{name}/user-access-request/{status}")
def list_access_requests(
    type_plural: str, namespace: str, name: str, status: str, runtime: RuntimeDep, user: WriteUser
) -> list[AccessRequestInfo]:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session() as session:
        rows = repos.list_access_requests(session, user, key, status)
        return [
            AccessRequestInfo.model_validate(
                {
                    "requestId": str(request.id),
                    "user": AccessRequester(user=account.name, fullname=account.fullname, email=account.email),
                    "status": request.status,
                    "timestamp": iso(request.created_at),
                    "fields": request.fields,
                }
            )
            for request, account in rows
        ]


@router.post("/api/{type_plural}/{namespace}/{name}/user-access-request/handle")
def handle_access_request(
    type_plural: str,
    namespace: str,
    name: str,
    request_body: dict[str, Any],
    runtime: RuntimeDep,
    user: WriteUser,
) -> AccessStatus:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        access = repos.decide_access(
            session, user, key, str(request_body.get("user", "")), str(request_body.get("status", ""))
        )
        return AccessStatus.model_validate({"status": access.status})


@router.post("/api/{type_plural}/{namespace}/{name}/user-access-request/grant")
def grant_access(
    type_plural: str,
    namespace: str,
    name: str,
    request_body: dict[str, Any],
    runtime: RuntimeDep,
    user: WriteUser,
) -> AccessStatus:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        access = repos.decide_access(session, user, key, str(request_body.get("user", "")), "accepted")
        return AccessStatus.model_validate({"status": access.status})


@router.get("/api/{type_plural}/{namespace}/{name}/lineage")
def lineage(type_plural: str, namespace: str, name: str, runtime: RuntimeDep, user: OptionalUser) -> RepoLineageInfo:
    key = key_from(type_plural, namespace, name)
    with runtime.database.session() as session:
        repo = repos.get_repo(session, user, key)
        return RepoLineageInfo.model_validate({"id": repo.repo_id} | repos.lineage(session, user, repo))


@router.post("/api/{type_plural}/{namespace}/{name}/holds")
def create_hold(
    type_plural: str,
    namespace: str,
    name: str,
    request_body: dict[str, Any],
    runtime: RuntimeDep,
    user: OperatorUser,
) -> HoldInfo:
    """Pin a revision (operators only): it cannot be deleted, nor the repo deleted or moved."""
    key = key_from(type_plural, namespace, name)
    with runtime.database.session(write=True) as session:
        repo = repos.get_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, request_body.get("revision"))
        hold = repos.hold_revision(
            session,
            repo,
            commit.oid,
            holder=str(request_body.get("holder") or user.name),
            reason=str(request_body.get("reason") or ""),
        )
        return HoldInfo(id=hold.id, commit=hold.commit_oid, holder=hold.holder)


@router.delete("/api/holds/{hold_id}")
def release_hold(hold_id: DbId, runtime: RuntimeDep, user: OperatorUser) -> HoldReleased:
    with runtime.database.session(write=True) as session:
        repos.release_hold(session, hold_id)
    return HoldReleased(released=hold_id)
