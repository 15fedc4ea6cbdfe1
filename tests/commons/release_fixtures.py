"""Helpers for the release and catalogue tests: private team repos with tiny files, and exits."""

from __future__ import annotations

from datetime import UTC, datetime

from baton.accounts import service as accounts
from baton.challenge.events import TeamLeft
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos
from baton.hub.models import Repo

NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
EXIT = TeamLeft(
    challenge="demo-2026", team="team-lab", stage="stage-1", reason="eliminated", at=NOW, organizations=("lab",)
)


def make_repo(
    runtime: Runtime,
    repo_type: str,
    repo_id: str,
    files: dict[str, bytes],
    *,
    card: dict[str, object] | None = None,
    private: bool = True,
    author: str = "bob",
) -> None:
    """A repo (private by default, as a team's work is before release) holding ``files`` and a card."""
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, author)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id(repo_type, repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        readme = cards.render_card(card or {}, f"# {repo_id}\n\nA test repo.\n").encode()
        commits.commit_files(
            session, runtime.store, runtime.settings, user, repo, files | {"README.md": readme}, title="Add files"
        )


def commit(runtime: Runtime, repo_type: str, repo_id: str, files: dict[str, bytes], author: str = "bob") -> str:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, author)
        repo = get(session, repo_type, repo_id)
        return commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="Change").oid


def get(session: object, repo_type: str, repo_id: str) -> Repo:
    repo = repos.find_repo(session, repos.parse_repo_id(repo_type, repo_id))  # type: ignore[arg-type]
    assert repo is not None
    return repo


def weights(seed: int) -> bytes:
    """A small safetensors file (the checks read cards and lineage, not tensors)."""
    from baton.demo.seed import tiny_gpt2_files

    return tiny_gpt2_files(seed)["model.safetensors"]
