"""Events the hub publishes (see ``baton.core.events``)."""

from __future__ import annotations

from baton.core.events import Event

MAX_LISTED_PATHS = 1000  # a commit of more files lists the first ones and says so


class CommitLanded(Event):
    """A commit landed on a branch of a repo (published in the commit's transaction, by every entry point)."""

    kind = "hub.commit_landed"

    repo_pk: int
    repo: str  # "namespace/name"
    repo_type: str
    branch: str
    default_branch: bool  # whether ``branch`` is the repo's default branch
    commit: str
    changed_paths: tuple[str, ...]  # added, changed and deleted paths (at most MAX_LISTED_PATHS)
    paths_truncated: bool = False  # True: more paths changed than ``changed_paths`` lists

    def key(self) -> str:
        return f"{self.repo_pk}:{self.commit}"
