"""Job ``variants.check``: load a variant revision with the runtime its card names and run it.

A commit to the default branch of a model repo whose card declares ``variant:`` queues the check
(one per revision). The job copies the revision's files to a temporary folder, calls
``get_runtime(variant.runtime).check(folder)`` and records the outcome in ``variant_checks``:
``ok`` with what ran, or ``failed`` with a message that names the file, quotes the runtime and
says what to do.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from baton.core import jobs
from baton.core.database import utcnow
from baton.core.errors import BadRequestError, BatonError, NotFoundError
from baton.hub import cards, commits
from baton.hub.events import CommitLanded
from baton.hub.models import Repo
from baton.variants.models import CHECK_FAILED, CHECK_OK, VariantCheck
from baton.variants.runtimes import first_line, get_runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from baton.core.runtime import Runtime
    from baton.hub.commits import FileEntry
    from baton.storage import BlobStore

CHECK_JOB = "variants.check"
CARD = "README.md"


def declared_variant(card_data: Any) -> dict[str, Any] | None:
    """The card's ``variant:`` mapping, or None when it declares none."""
    variant = card_data.get("variant") if isinstance(card_data, dict) else None
    return variant if isinstance(variant, dict) else None


def _read(store: BlobStore, entry: FileEntry) -> bytes:
    return b"".join(store.open_range(entry.sha256, 0, entry.size - 1)) if entry.size else b""


def card_at(session: Session, runtime: Runtime, repo: Repo, commit_oid: str) -> tuple[dict[str, Any], list[FileEntry]]:
    commit = commits.resolve_revision(session, repo, commit_oid)
    entries = commits.tree_entries(session, commit.tree_id)
    readme = next((entry for entry in entries if entry.path == CARD), None)
    if readme is None:
        return {}, entries
    try:
        return cards.parse_card(_read(runtime.store, readme).decode("utf-8", "replace")).raw, entries
    except BatonError:  # a card the hub accepted parses; an old one that does not declares nothing
        return {}, entries


def enqueue_check(session: Session, repo: Repo, commit_oid: str) -> jobs.Job:
    return jobs.enqueue(
        session, CHECK_JOB, {"repo_pk": repo.id, "commit": commit_oid}, dedupe_key=f"{CHECK_JOB}:{repo.id}:{commit_oid}"
    )


def check_on_commit(runtime: Runtime, event: CommitLanded) -> dict[str, Any]:
    """A commit to a variant's default branch queues its check."""
    if event.repo_type != "model" or not event.default_branch:
        return {"queued": False}
    with runtime.database.session(write=True) as session:
        repo = session.get(Repo, event.repo_pk)
        if repo is None:
            return {"queued": False}
        card, _ = card_at(session, runtime, repo, event.commit)
        if declared_variant(card) is None:
            return {"queued": False}
        job = enqueue_check(session, repo, event.commit)
        return {"queued": True, "job": job.id}


def download_files(runtime: Runtime, entries: list[FileEntry], folder: Path) -> None:
    for entry in entries:
        target = folder / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            if entry.size:
                for chunk in runtime.store.open_range(entry.sha256, 0, entry.size - 1):
                    handle.write(chunk)


def _record(
    runtime: Runtime, repo_pk: int, commit: str, name: str, status: str, message: str, details: dict[str, Any]
) -> dict[str, Any]:
    with runtime.database.session(write=True) as session:
        row = session.scalars(
            select(VariantCheck).where(
                VariantCheck.repo_id == repo_pk, VariantCheck.commit == commit, VariantCheck.runtime == name
            )
        ).first()
        if row is None:
            row = VariantCheck(repo_id=repo_pk, commit=commit, runtime=name)
            session.add(row)
        row.status, row.message, row.details, row.checked_at = status, message, details, utcnow()
        session.flush()
        return check_json(row)


def check_json(row: VariantCheck) -> dict[str, Any]:
    return {
        "repo_pk": row.repo_id,
        "commit": row.commit,
        "runtime": row.runtime,
        "status": row.status,
        "message": row.message,
        "details": row.details,
        "checked_at": row.checked_at.isoformat() if row.checked_at else None,
    }


def run_check(runtime: Runtime, repo_pk: int, commit: str | None = None) -> dict[str, Any]:
    """Check the variant revision ``commit`` (default: the head) and record the outcome."""
    with runtime.database.session() as session:
        repo = session.get(Repo, repo_pk)
        if repo is None:
            raise NotFoundError(f"No repo with id {repo_pk}", code="RepoNotFound")
        oid = commits.resolve_revision(session, repo, commit).oid
        card, entries = card_at(session, runtime, repo, oid)
        shown = f"{repo.namespace}/{repo.name}"
    variant = declared_variant(card)
    if variant is None:
        raise BadRequestError(
            f"{shown}@{oid[:12]} is not a variant: its card declares no 'variant:'",
            hint="Add a variant block (kind, method, runtime) to README.md's front matter.",
        )
    name = str(variant.get("runtime") or "")
    try:
        variant_runtime = get_runtime(name)
    except BatonError as error:
        return _record(runtime, repo_pk, oid, name[:64], CHECK_FAILED, f"{error.message} {error.hint}".strip(), {})
    folder = Path(tempfile.mkdtemp(prefix="variant-check-"))
    try:
        download_files(runtime, entries, folder)
        try:
            details = variant_runtime.check(folder)
        except BatonError as error:
            return _record(
                runtime, repo_pk, oid, name, CHECK_FAILED, f"{error.message} {error.hint}".strip(), {"code": error.code}
            )
        except Exception as error:  # noqa: BLE001 - a plug-in may raise anything; the record says what
            message = f"The {name} runtime failed on {shown}: {type(error).__name__}: {first_line(error)}"
            return _record(runtime, repo_pk, oid, name, CHECK_FAILED, message, {"code": "RuntimeCrashed"})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    details = {**details, "runtime_version": variant_runtime.version()}
    return _record(runtime, repo_pk, oid, name, CHECK_OK, f"Loads and runs with {name}.", details)


def check_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    return run_check(runtime, int(payload["repo_pk"]), payload.get("commit"))


def latest_check(session: Session, repo_pk: int, commit: str) -> VariantCheck | None:
    return session.scalars(
        select(VariantCheck)
        .where(VariantCheck.repo_id == repo_pk, VariantCheck.commit == commit)
        .order_by(VariantCheck.checked_at.desc())
    ).first()
