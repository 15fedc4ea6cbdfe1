"""The JSON shapes of the commons routes (``baton.commons.api``) and of the catalogue (``baton.web.catalogue``).

As in ``baton.challenge.schemas``: each model declares every key of the service's dict, in order; a
key set only sometimes has a default, and the routes serialize with ``response_model_exclude_unset``
so an absent key stays absent.
"""

from __future__ import annotations

from typing import Any

from baton.challenge.schemas import Schema, SealedName

__all__ = [
    "Action",
    "Asset",
    "AssetEvaluation",
    "Catalogue",
    "CatalogueTeam",
    "CatalogueTotals",
    "Descendant",
    "Finding",
    "ReleaseDue",
    "ReleaseItem",
    "ReleaseItemSummary",
    "Schema",
    "TeamTotals",
]


class Finding(Schema):
    """A personal-data or license finding that holds a release item."""

    id: int
    kind: str  # pii, license
    state: str  # open, resolved
    commit: str
    summary: str
    detail: dict[str, Any]  # what the check found (files, lines, licenses), free-form
    resolved_by: str | None
    resolution: str | None
    resolved_commit: str | None
    resolved_at: str | None


class ReleaseItemSummary(Schema):
    """One repo of a team's release plan, as the commons carries it out (``release.item_json``)."""

    id: int
    challenge: str
    team: str
    stage: str
    repo: str | None
    type: str  # model, dataset
    kind: str  # model, dataset, compressed, agent, kernel, report
    access: str  # public, gated
    gated: str | None
    license: str | None
    effective_license: str | None
    embargo_until: str | None
    state: str  # pending, held, embargoed, released, ...
    checked_commit: str | None
    released_commit: str | None
    released_at: str | None
    tag: str | None


class ReleaseItem(ReleaseItemSummary):
    """A release item with its findings."""

    findings: list[Finding]


class Action(Schema):
    """A release action recorded for a team (``release.actions_of``)."""

    id: int
    item: int | None
    team: str
    action: str
    actor: str
    detail: dict[str, Any]  # what the action did, free-form
    at: str


class ReleaseDue(Schema):
    items: list[ReleaseItemSummary]


class Descendant(Schema):
    """A repo built on an asset, along lineage edges (depth 1: directly)."""

    id: str
    type: str
    relation: str | None
    depth: int
    via: str
    downloads: int


class AssetEvaluation(Schema):
    """A score the challenge recorded for an asset (from its ledger)."""

    source: str
    stage: str | None
    task: str | None
    score: float | int | None
    stderr: float | int | None
    n: int | None
    commit: str | None


class AssetVariant(Schema):
    """A variant of a released model, with the numbers of its latest measurement (None: not measured)."""

    id: str
    url: str
    kind: str | None
    method: str | None
    runtime: str | None
    status: str | None  # ok | failed | None (not measured yet)
    file_size: int | None
    base_file_size: int | None
    tokens_per_second: float | None
    speedup: float | None
    accuracy: float | None
    base_accuracy: float | None
    difference: float | None  # accuracy retained: variant - base on the same items
    ci95: list[float | None]
    n_items: int | None
    task: str | None


class Asset(ReleaseItemSummary):
    """A release item in the catalogue, with what is public about its repo (a private one sealed)."""

    sealed: SealedName | None = None  # only while its repo is private to the viewer
    holds: list[str] = []  # why it is held: the kinds of its open findings (pii, license, missing)
    notes: list[str]  # the same in English sentences
    downloads: int | None
    file_downloads: dict[str, int]
    built_on_it: list[Descendant]
    built_on_it_total: int
    descendants: list[Descendant] = []  # these three only where the viewer may see the repo
    private: bool = False
    url: str = ""
    evaluations: list[AssetEvaluation]
    # Its lighter builds with their latest measurements (``baton.variants.catalogue.variants_of``):
    # added by the web layer, which knows the variants domain; the commons itself does not.
    variants: list[AssetVariant] = []


class TeamTotals(Schema):
    assets: int
    released: int
    held: int
    embargoed: int
    downloads: int
    built_on_it: int
    evaluations: int


class CatalogueTeam(Schema):
    challenge: str
    team: str
    stage: str
    reason: str
    assets: list[Asset]
    totals: TeamTotals
    placements: int = 0  # only where the catalogue shows placements


class CatalogueTotals(Schema):
    teams: int
    assets: int
    released: int
    held: int
    downloads: int


class Catalogue(Schema):
    challenge: str | None
    teams: list[CatalogueTeam]
    totals: CatalogueTotals
    placements_shown: bool
