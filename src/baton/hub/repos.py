"""Repositories: lookup, access control, creation, settings, deletion, moves, holds, gating."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ROLES, Account, Membership
from baton.core.database import utcnow
from baton.core.errors import (
    BadRequestError,
    BatonError,
    GatedRepoError,
    HeldRevisionError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
    RepoExistsError,
    RepoNotFoundError,
)
from baton.hub import search as search_index
from baton.hub.models import (
    GATED_MODES,
    REPO_TYPES,
    AccessRequest,
    BlobGrant,
    Commit,
    FileDownload,
    LineageEdge,
    Ref,
    Repo,
    RevisionHold,
    TreeEntry,
)

REPO_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


@dataclass(frozen=True)
class RepoKey:
    repo_type: str
    namespace: str
    name: str

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return prefix + self.repo_id


def check_repo_type(repo_type: str | None) -> str:
    repo_type = repo_type or "model"
    if repo_type not in REPO_TYPES:
        raise BadRequestError(f"Unknown repo type '{repo_type}'", hint="Use one of: " + ", ".join(REPO_TYPES))
    return repo_type


def parse_repo_id(repo_type: str | None, repo_id: str) -> RepoKey:
    """Split and validate ``namespace/name``."""
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise InvalidNameError(
            f"'{repo_id[:200]}' is not a repo id",
            hint="Repo ids are 'namespace/name', e.g. 'my-org/my-model'.",
        )
    namespace, name = parts
    for part in (namespace, name):
        if not REPO_NAME_PATTERN.match(part) or ".." in part or part.endswith(".git"):
            raise InvalidNameError(f"'{repo_id[:200]}' is not a valid repo id")
    return RepoKey(check_repo_type(repo_type), namespace, name)


def find_repo(session: Session, key: RepoKey) -> Repo | None:
    return session.scalar(
        select(Repo).where(Repo.repo_type == key.repo_type, Repo.namespace == key.namespace, Repo.name == key.name)
    )


def find_repo_any_case(session: Session, key: RepoKey, *, besides: Repo | None = None) -> Repo | None:
    """The repo named as ``key`` but for case (names are unique regardless of case), other than ``besides``."""
    query = select(Repo).where(
        Repo.repo_type == key.repo_type,
        func.lower(Repo.namespace) == key.namespace.lower(),
        func.lower(Repo.name) == key.name.lower(),
    )
    if besides is not None:
        query = query.where(Repo.id != besides.id)
    return session.scalar(query)


def repo_role(session: Session, user: Actor | None, repo: Repo) -> str | None:
    """The user's role on the repo through its owning namespace (None: no membership)."""
    if user is None:
        return None
    owner = session.get(Account, repo.owner_id)
    if owner is None:
        return None
    return accounts.role_in_namespace(session, user, owner)


def has_role(session: Session, user: Actor | None, repo: Repo, needed: str) -> bool:
    role = repo_role(session, user, repo)
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


def get_repo(session: Session, user: Actor | None, key: RepoKey) -> Repo:
    """The repo if it exists and the user may see it; private repos are 404 to outsiders."""
    repo = find_repo(session, key)
    if repo is None or (repo.private and not has_role(session, user, repo, "read")):
        raise RepoNotFoundError(f"Repository not found: {key}")
    return repo


def get_writable_repo(session: Session, user: Actor | None, key: RepoKey) -> Repo:
    repo = get_repo(session, user, key)
    if user is not None and has_role(session, accounts.actor_for_role_check(user), repo, "write"):
        # The account could write, but this token may not.
        user.require("write", f"write to {key}")
    if not has_role(session, user, repo, "write"):
        read_only_token = user is not None and not user.can("write")
        raise PermissionDeniedError(
            f"'{user.name if user else 'anonymous'}' cannot write to {key}",
            hint="This token is read-only: use a write token."
            if read_only_token
            else f"Ask an admin of '{repo.namespace}' for the write role.",
        )
    return repo


def get_admin_repo(session: Session, user: Actor | None, key: RepoKey, action: str = "change the settings of") -> Repo:
    repo = get_repo(session, user, key)
    if user is not None and has_role(session, accounts.actor_for_role_check(user), repo, "admin"):
        # The account is an admin here, but this token may not use admin powers.
        user.require("admin", f"{action} {key}")
    if not has_role(session, user, repo, "admin"):
        raise PermissionDeniedError(f"Only admins of '{repo.namespace}' can {action} {key}")
    return repo


def can_read_files(session: Session, user: Actor | None, repo: Repo) -> bool:
    """Whether ``user`` may read the bytes of ``repo``'s files: THE rule for every blob-level path.

    Downloads, blob reuse by hash (LFS batch and commit), model snapshots and task data all ask
    this, so that a file is never reachable through one path and refused through another.
    """
    return _file_access_refusal(session, user, repo) is None


def check_file_access(session: Session, user: Actor | None, repo: Repo) -> None:
    """Raise unless ``user`` may read the bytes of ``repo``'s files (see ``can_read_files``).

    Private repos need the read role (404 otherwise, as for the repo itself); gated repos need
    the read role or an accepted access request (GatedRepoError: 401 anonymous, 403 signed in).
    """
    refusal = _file_access_refusal(session, user, repo)
    if refusal is not None:
        raise refusal


def _file_access_refusal(session: Session, user: Actor | None, repo: Repo) -> BatonError | None:
    if has_role(session, user, repo, "read"):
        return None
    if repo.private:
        return RepoNotFoundError(f"Repository not found: {key_of(repo)}")
    if not repo.gated:
        return None
    if user is None:
        return GatedRepoError(
            f"Access to {repo.repo_id} is restricted: log in and request access",
            authenticated=False,
            hint="Pass a token (HF_TOKEN) and request access to this gated repo.",
        )
    status = session.scalar(
        select(AccessRequest.status).where(AccessRequest.repo_id == repo.id, AccessRequest.user_id == user.account_id)
    )
    if status == "accepted":
        return None
    state = "is pending" if status == "pending" else ("was rejected" if status else "was not requested")
    return GatedRepoError(f"Access to {repo.repo_id} is restricted and your request {state}", authenticated=True)


def key_of(repo: Repo) -> RepoKey:
    return RepoKey(repo.repo_type, repo.namespace, repo.name)


def visibility_to_private(private: bool | None, visibility: str | None) -> bool:
    if visibility is not None:
        if visibility not in ("public", "private"):
            raise BadRequestError(f"Unknown visibility '{visibility}'", hint="Use 'public' or 'private'.")
        return visibility == "private"
    return bool(private)


def create_repo(
    session: Session, user: Actor, key: RepoKey, *, private: bool, exist_ok: bool = False
) -> tuple[Repo, bool]:
    """Create the repo row (the caller makes its first commit). Returns (repo, created)."""
    owner = accounts.find_account(session, key.namespace)
    if owner is None:
        raise NotFoundError(
            f"No user or organization named '{key.namespace}'",
            hint="Create the organization first, or use your own name as the namespace.",
        )
    accounts.require_namespace_role(session, user, owner, "write")
    existing = find_repo_any_case(session, key)
    if existing is not None:
        if exist_ok and existing.namespace == key.namespace and existing.name == key.name:
            return existing, False
        raise RepoExistsError(f"You already created this {key.repo_type} repo: {key}")
    repo = Repo(
        repo_type=key.repo_type,
        namespace=owner.name,
        name=key.name,
        owner_id=owner.id,
        private=private,
        card_data={},
    )
    session.add(repo)
    session.flush()
    search_index.index_repo(session, repo, card={})
    return repo, True


def active_holds(session: Session, repo: Repo, commit_oid: str | None = None) -> list[RevisionHold]:
    query = select(RevisionHold).where(RevisionHold.repo_id == repo.id, RevisionHold.released_at.is_(None))
    if commit_oid is not None:
        query = query.where(RevisionHold.commit_oid == commit_oid)
    return list(session.scalars(query))


def _refuse_if_held(session: Session, repo: Repo, action: str) -> None:
    holds = active_holds(session, repo)
    if holds:
        holders = ", ".join(sorted({hold.holder for hold in holds}))
        raise HeldRevisionError(f"Cannot {action} {repo.repo_id}: a revision is held by {holders}")


def delete_repo(session: Session, user: Actor, key: RepoKey) -> None:
    repo = get_admin_repo(session, user, key, "delete")
    _refuse_if_held(session, repo, "delete")
    # Children first, so the delete works the same with or without ON DELETE CASCADE support.
    session.execute(delete(RevisionHold).where(RevisionHold.repo_id == repo.id))
    session.execute(delete(AccessRequest).where(AccessRequest.repo_id == repo.id))
    session.execute(delete(FileDownload).where(FileDownload.repo_id == repo.id))
    session.execute(delete(LineageEdge).where(LineageEdge.child_repo_id == repo.id))
    session.execute(delete(BlobGrant).where(BlobGrant.repo_id == repo.id))
    session.execute(delete(Ref).where(Ref.repo_id == repo.id))
    session.execute(delete(Commit).where(Commit.repo_id == repo.id))
    search_index.remove_repo(session, repo.id)
    session.delete(repo)
    session.flush()


def move_repo(session: Session, user: Actor, source: RepoKey, target: RepoKey) -> Repo:
    repo = get_admin_repo(session, user, source, "move")
    if source.repo_type != target.repo_type:
        raise BadRequestError("A repo cannot change type when moved")
    _refuse_if_held(session, repo, "move")
    new_owner = accounts.find_account(session, target.namespace)
    if new_owner is None:
        raise NotFoundError(f"No user or organization named '{target.namespace}'")
    accounts.require_namespace_role(session, user, new_owner, "write")
    # The repo itself is no clash (a case-only rename), unless it would not move at all.
    moved = (new_owner.name, target.name) != (repo.namespace, repo.name)
    clash = find_repo_any_case(
        session, RepoKey(target.repo_type, new_owner.name, target.name), besides=repo if moved else None
    )
    if clash is not None:
        raise RepoExistsError(
            f"{target} already exists" if clash.repo_id == target.repo_id else f"{target} clashes with {key_of(clash)}",
            hint="Repo names differing only in letter case are one name: pick another.",
        )
    repo.namespace = new_owner.name
    repo.name = target.name
    repo.owner_id = new_owner.id
    session.flush()
    search_index.index_names(session, repo)
    return repo


def update_settings(
    session: Session,
    user: Actor,
    key: RepoKey,
    *,
    private: bool | None = None,
    visibility: str | None = None,
    gated: str | bool | None = None,
) -> Repo:
    repo = get_admin_repo(session, user, key)
    if private is not None or visibility is not None:
        repo.private = visibility_to_private(private, visibility)
    if gated is not None:
        if gated is False or gated == "false":
            repo.gated = None
        elif gated in GATED_MODES:
            repo.gated = str(gated)
        else:
            raise BadRequestError(f"Unknown gating mode '{gated}'", hint="Use 'auto', 'manual' or false.")
    repo.last_modified = utcnow()
    session.flush()
    return repo


# Holds ---------------------------------------------------------------------------------------


def hold_revision(session: Session, repo: Repo, commit_oid: str, *, holder: str, reason: str = "") -> RevisionHold:
    if session.get(Commit, commit_oid) is None:
        raise NotFoundError(f"No commit {commit_oid} in {repo.repo_id}", code="RevisionNotFound")
    hold = RevisionHold(repo_id=repo.id, commit_oid=commit_oid, holder=holder, reason=reason)
    session.add(hold)
    session.flush()
    return hold


def release_hold(session: Session, hold_id: int) -> None:
    hold = session.get(RevisionHold, hold_id)
    if hold is None:
        raise NotFoundError(f"No hold {hold_id}")
    hold.released_at = utcnow()
    session.flush()


def refuse_if_commit_held(session: Session, repo: Repo, commit_oid: str, action: str) -> None:
    holds = active_holds(session, repo, commit_oid)
    if holds:
        raise HeldRevisionError(
            f"Cannot {action}: revision {commit_oid[:12]} of {repo.repo_id} is held by {holds[0].holder}"
        )


# Gated access --------------------------------------------------------------------------------


def request_access(session: Session, user: Actor, repo: Repo, fields: dict[str, Any]) -> AccessRequest:
    if not repo.gated:
        raise BadRequestError(f"{repo.repo_id} is not gated; no request is needed")
    required = (repo.card_data or {}).get("extra_gated_fields") or {}
    missing = [label for label in required if label not in fields]
    if missing:
        raise BadRequestError(
            "The access request is missing fields: " + ", ".join(missing),
            hint="Fill in every field the repo's card lists under extra_gated_fields.",
        )
    request = session.scalar(
        select(AccessRequest).where(AccessRequest.repo_id == repo.id, AccessRequest.user_id == user.account_id)
    )
    status = "accepted" if repo.gated == "auto" else "pending"
    if request is None:
        request = AccessRequest(repo_id=repo.id, user_id=user.account_id, status=status, fields=fields)
        session.add(request)
    elif request.status != "accepted":
        request.status, request.fields = status, fields
    if status == "accepted":
        request.decided_at, request.decided_by = utcnow(), "auto"
    session.flush()
    return request


def list_access_requests(
    session: Session, user: Actor, key: RepoKey, status: str
) -> list[tuple[AccessRequest, Account]]:
    repo = get_admin_repo(session, user, key)
    rows = session.execute(
        select(AccessRequest, Account)
        .join(Account, Account.id == AccessRequest.user_id)
        .where(AccessRequest.repo_id == repo.id, AccessRequest.status == status)
        .order_by(AccessRequest.created_at)
    ).all()
    return [(request, account) for request, account in rows]


def decide_access(session: Session, admin: Actor, key: RepoKey, username: str, status: str) -> AccessRequest:
    if status not in ("accepted", "rejected", "pending"):
        raise BadRequestError(f"Unknown status '{status}'", hint="Use accepted, rejected or pending.")
    repo = get_admin_repo(session, admin, key)
    target = accounts.get_account(session, username)
    request = session.scalar(
        select(AccessRequest).where(AccessRequest.repo_id == repo.id, AccessRequest.user_id == target.id)
    )
    if request is None:
        request = AccessRequest(repo_id=repo.id, user_id=target.id, fields={}, status=status)
        session.add(request)
    request.status, request.decided_at, request.decided_by = status, utcnow(), admin.name
    session.flush()
    return request


# Listing -------------------------------------------------------------------------------------

SORT_COLUMNS = {
    "downloads": Repo.downloads,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "id": Repo.name,
}


def visible_to(user: Actor | None, repo: Any = Repo) -> ColumnElement[bool]:
    """THE rule for which repos a listing shows ``user``: public ones; with a sign-in also the
    user's own and those of the organizations they belong to; every repo for site admins.

    ``repo`` is the ``Repo`` class or an alias of it (a query over two repos). Every listing of
    repos (``list_repos``, the web layer's pages, counts of derivatives) uses this condition, the
    same rule ``get_repo`` applies to one repo.
    """
    public: ColumnElement[bool] = repo.private.is_(False)
    if user is None:
        return public
    if user.is_admin:
        return literal(True)
    member_of = select(Membership.org_id).where(Membership.user_id == user.account_id)
    return or_(public, repo.owner_id == user.account_id, repo.owner_id.in_(member_of))


def list_repos(
    session: Session,
    user: Actor | None,
    repo_type: str,
    *,
    search: str | None = None,
    author: str | None = None,
    filters: list[str] | None = None,
    sort: str | None = None,
    direction: int = -1,
    limit: int | None = None,
    offset: int = 0,
    variant_kind: str | None = None,
) -> list[Repo]:
    """Repos ``user`` may see, as the Hugging Face client lists them.

    ``search`` goes through the term index (``baton.hub.search``: names, tags and card text, in
    Korean by morphemes; a part of the id as typed matches too), best match first unless ``sort``
    says otherwise; each of ``filters`` must be one of the repo's tags (``license:mit``, ...);
    ``variant_kind`` keeps the variants of that kind (``Repo.variant_kind``: quantized, onnx, ...).
    """
    query = select(Repo).where(Repo.repo_type == check_repo_type(repo_type), visible_to(user))
    if author:
        query = query.where(Repo.namespace == author)
    if variant_kind is not None:
        query = query.where(Repo.variant_kind == variant_kind)
    for value in (filters or [])[: search_index.MAX_QUERY_TERMS]:
        query = query.where(search_index.hf_filter_condition(Repo, value))
    rank: ColumnElement[int] | None = None
    parsed = search_index.parse_query(search)
    if parsed is not None:
        per_term = session.get_bind().dialect.name == "postgresql"
        query, rank = search_index.ranked(query, parsed, Repo, per_term=per_term)
    column = SORT_COLUMNS.get(sort or "")
    if sort and column is None and sort not in ("likes", "trending_score", "trendingScore"):
        raise BadRequestError(f"Unknown sort key '{sort}'", hint="Use one of: " + ", ".join(sorted(SORT_COLUMNS)))
    if column is not None:
        query = query.order_by(column.desc() if direction < 0 else column.asc(), Repo.id.desc())
    elif rank is not None:
        query = query.order_by(rank.desc(), Repo.downloads.desc(), Repo.id.desc())
    else:
        query = query.order_by(Repo.created_at.desc(), Repo.id.desc())
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(max(0, limit))
    return list(session.scalars(query))


# Downloads and lineage -----------------------------------------------------------------------

# Files that clients fetch to look around rather than to use the repo.
NOT_COUNTED_AS_DOWNLOAD = frozenset({"README.md", ".gitattributes"})


def count_download(session: Session, repo_pk: int, path: str) -> None:
    # An upsert, so that two first downloads of a file at once cannot collide on the unique key.
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(FileDownload).values(repo_id=repo_pk, path=path, count=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[FileDownload.repo_id, FileDownload.path], set_={"count": FileDownload.count + 1}
        )
    )
    if path not in NOT_COUNTED_AS_DOWNLOAD:
        session.execute(update(Repo).where(Repo.id == repo_pk).values(downloads=Repo.downloads + 1))
    session.flush()


def file_downloads(session: Session, repo: Repo) -> dict[str, int]:
    rows = session.execute(select(FileDownload.path, FileDownload.count).where(FileDownload.repo_id == repo.id)).all()
    return {path: count for path, count in rows}


def set_lineage(session: Session, repo: Repo, bases: list[str], relation: str | None) -> None:
    session.execute(delete(LineageEdge).where(LineageEdge.child_repo_id == repo.id))
    for base in dict.fromkeys(bases):
        session.add(LineageEdge(child_repo_id=repo.id, base=base, relation=relation))
    session.flush()


def lineage(session: Session, user: Actor | None, repo: Repo) -> dict[str, list[dict[str, Any]]]:
    """What the repo was built on, and the visible repos built on it."""
    bases = [
        {"id": edge.base, "relation": edge.relation}
        for edge in session.scalars(select(LineageEdge).where(LineageEdge.child_repo_id == repo.id))
    ]
    children = []
    rows = session.execute(
        select(LineageEdge, Repo)
        .join(Repo, Repo.id == LineageEdge.child_repo_id)
        .where(LineageEdge.base == repo.repo_id)
        .order_by(Repo.namespace, Repo.name)
    ).all()
    for edge, child in rows:
        if child.private and not has_role(session, user, child, "read"):
            continue
        children.append({"id": child.repo_id, "type": child.repo_type, "relation": edge.relation})
    return {"base_models": bases, "derivatives": children}


# Repos holding a blob that are looked at: enough for any real sharing, bounded for a blob that is
# everywhere. Public ungated holders come first, so a false "no" (an upload asked for) is rare.
BLOB_HOLDERS_CHECKED = 100


def blob_readable_by(session: Session, user: Actor | None, sha256: str) -> bool:
    """Whether ``user`` may read these bytes through some repo whose history holds them.

    Knowing a hash is not access: this is what lets the LFS batch skip an upload and a commit
    reuse the bytes, so it asks ``can_read_files`` of each holder (private and gated alike).
    """
    holders = (
        select(Commit.repo_id).join(TreeEntry, TreeEntry.tree_id == Commit.tree_id).where(TreeEntry.sha256 == sha256)
    )
    candidates = session.scalars(
        select(Repo)
        .where(Repo.id.in_(holders))
        .order_by(Repo.private, Repo.gated.is_not(None), Repo.id)
        .limit(BLOB_HOLDERS_CHECKED)
    )
    return any(can_read_files(session, user, repo) for repo in candidates)
