"""Events the commons domain publishes (see ``baton.core.events``)."""

from __future__ import annotations

from baton.core.events import Event


class ItemReleased(Event):
    """A release item's repo was opened to the public (or its gated audience) at ``commit``.

    Published in the transaction that released it. The variants domain makes the lightweight
    variants of a released causal LM from it.
    """

    kind = "commons.item_released"

    repo_pk: int
    repo: str  # "namespace/name"
    repo_type: str
    commit: str
    challenge: str
    team: str

    def key(self) -> str:
        return f"{self.repo_pk}:{self.commit}"
