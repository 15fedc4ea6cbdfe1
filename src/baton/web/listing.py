"""Models and datasets as the site lists them: search, filters, sorting and pages, for one viewer.

:func:`list_page` answers one page of the ``/models`` or ``/datasets`` listing, with what the page
shows of each repo and the values (with counts) of its filter form. It combines the hub (repos,
the term index of ``baton.hub.search``, lineage), the evaluation domain (finished runs), the
challenge (which organization is which team, and the stage the team reached) and the commons
(whether the repo was released); only the web layer may see them all.

- **Who sees what**: the hub's listing rule, ``repos.visible_to`` (public repos; the viewer's own
  and their organizations'; all for site admins), applies to the rows, the total, every facet
  count and the derivative counts alike, so no number counts a repo the viewer may not see. A
  private repo is therefore only ever shown to someone who may read it, for whom the challenge
  shows its real name too (``challenge.access.entry_view_for`` is "full"); nothing here is sealed.
  Team names, their organizations and stages are public (the challenge's team list).
- **Search**: ``baton.hub.search`` (names, tags, card text; Korean by morphemes), all terms
  required, ranked by the weights matched (a name hit above a card-text hit), downloads breaking
  ties.
- **Filters**: ``kind`` (pipeline tag, ``base_model_relation`` such as ``quantized``, a dataset's
  task category), ``license``, ``team`` (an organization that is a challenge team), ``stage``
  (the last stage the team reached), ``release`` (``released`` / ``held`` / ``not_released``).
  Each facet counts the repos matching the search and the *other* filters.
- **Sorting**: relevance (with a search; the default then), downloads (the default otherwise),
  derivatives (visible repos declaring it as their base; for a dataset, models declaring it in
  ``datasets``), evaluations (finished runs), last modified, name.
- **Bounds**: a query of at most 200 characters and 8 terms, pages of at most 100, offsets of at
  most ``MAX_OFFSET``, at most ``MAX_FACET_VALUES`` values per facet: every answer is a fixed
  number of SQL statements over indexed columns, none loading the repos into Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, literal, not_, select, union_all
from sqlalchemy.orm import Session, aliased

from baton.accounts.actor import Actor
from baton.challenge import service as challenge_service
from baton.commons.models import ReleaseItem
from baton.core.errors import BadRequestError
from baton.evaluation.models import RUN_SUCCEEDED, EvaluationRun
from baton.hub import search
from baton.hub.models import LineageEdge, Repo, RepoTerm
from baton.hub.repos import visible_to

SORTS: Final = ("relevance", "downloads", "derivatives", "evaluations", "modified", "name")
RELEASE_STATES: Final = ("released", "held", "not_released")
LISTED_TYPES: Final = ("model", "dataset")
DEFAULT_PAGE_SIZE: Final = 30
MAX_PAGE_SIZE: Final = 100
MAX_OFFSET: Final = 100_000  # deeper pages: narrow the search instead
MAX_FACET_VALUES: Final = 30
MAX_FILTER_CHARS: Final = search.MAX_TERM_CHARS
MAX_LISTED_TAGS: Final = 20

Sort = Literal["relevance", "downloads", "derivatives", "evaluations", "modified", "name"]
ReleaseState = Literal["released", "held", "not_released"]


class TeamLabel(BaseModel):
    """The challenge team an organization belongs to (public), and the last stage it reached."""

    challenge: str
    team: str
    name: str
    stage: str
    status: str


class ListingItem(BaseModel):
    id: str  # namespace/name
    repo_type: str
    namespace: str
    name: str
    private: bool
    gated: str | None
    downloads: int
    derivatives: int
    evaluations: int
    last_modified: datetime
    kind: str | None  # pipeline tag (models) or first task category (datasets)
    variant: str | None  # base_model_relation: finetune, quantized, adapter, merge
    license: str | None
    tags: list[str]
    team: TeamLabel | None
    release: ReleaseState
    score: int | None  # the search rank; None without a search


class FacetValue(BaseModel):
    value: str
    count: int
    label: str | None  # how the page names the value (a team's name)
    selected: bool


class Facets(BaseModel):
    kinds: list[FacetValue]
    licenses: list[FacetValue]
    teams: list[FacetValue]
    stages: list[FacetValue]
    releases: list[FacetValue]


class Filters(BaseModel):
    kind: str | None = None
    license: str | None = None
    team: str | None = None
    stage: str | None = None
    release: ReleaseState | None = None


class ListingPage(BaseModel):
    repo_type: str
    query: str | None
    terms: list[str]  # what the search looked for, after normalisation (empty: no search, or only particles)
    filters: Filters
    sort: Sort
    page: int
    page_size: int
    total: int
    pages: int
    items: list[ListingItem]
    facets: Facets | None


# -- parameters --------------------------------------------------------------------------------


def _clean(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_FILTER_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise BadRequestError(
            f"The {what} filter is not a value this listing has",
            code="BadFilter",
            hint=f"Pick a {what} from the listing's facets (at most {MAX_FILTER_CHARS} characters).",
        )
    return value


def check_params(
    repo_type: str, sort: str | None, page: int, page_size: int, release: str | None
) -> tuple[Sort | None, ReleaseState | None]:
    if repo_type not in LISTED_TYPES:
        raise BadRequestError(f"Unknown listing '{repo_type}'", hint="List models or datasets.")
    if sort is not None and sort not in SORTS:
        raise BadRequestError(f"Unknown sort '{sort[:40]}'", code="BadSort", hint="Sort by: " + ", ".join(SORTS) + ".")
    if release is not None and release not in RELEASE_STATES:
        raise BadRequestError(
            f"Unknown release state '{release[:40]}'", code="BadFilter", hint="Use: " + ", ".join(RELEASE_STATES) + "."
        )
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadRequestError(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}", hint="Ask for at most 100 a page."
        )
    if page < 1 or (page - 1) * page_size > MAX_OFFSET:
        raise BadRequestError(
            f"page {page} is out of range",
            code="PageOutOfRange",
            hint=f"Pages start at 1 and go {MAX_OFFSET} repos deep: narrow the search or the filters instead.",
        )
    return sort, release  # type: ignore[return-value]  # checked above


# -- SQL pieces --------------------------------------------------------------------------------


def _release_exists(repo_pk: Any, state: str) -> ColumnElement[bool]:
    """Whether the repo ``repo_pk`` (a column) has a release item in ``state``."""
    item = aliased(ReleaseItem)  # the outer query may read release items itself (the facet counts)
    return exists(select(item.id).where(item.repo_pk == repo_pk, item.state == state).correlate_except(item))


def _release_condition(state: str) -> ColumnElement[bool]:
    released, held = _release_exists(Repo.id, "released"), _release_exists(Repo.id, "held")
    if state == "released":
        return released
    if state == "held":
        return and_(not_(released), held)
    return and_(not_(released), not_(held))


def _repo_id_of(repo: Any) -> ColumnElement[str]:
    repo_id: ColumnElement[str] = repo.namespace + "/" + repo.name
    return repo_id


def _derivative_counts(viewer: Actor | None, repo_type: str) -> Any:
    """(base, n): visible repos built on each base: models naming it as ``base_model`` (models), or
    models naming it in ``datasets`` (datasets, lower-cased ids)."""
    child = aliased(Repo)
    if repo_type == "model":
        return (
            select(LineageEdge.base.label("base"), func.count().label("n"))
            .join(child, child.id == LineageEdge.child_repo_id)
            .where(visible_to(viewer, child))
            .group_by(LineageEdge.base)
            .subquery("derived")
        )
    return (
        select(RepoTerm.term.label("base"), func.count().label("n"))
        .join(child, child.id == RepoTerm.repo_id)
        .where(RepoTerm.field == search.DATASET, visible_to(viewer, child))
        .group_by(RepoTerm.term)
        .subquery("derived")
    )


def _evaluation_counts() -> Any:
    """(model_repo, n): finished evaluation runs per model repo."""
    return (
        select(EvaluationRun.model_repo.label("model_repo"), func.count().label("n"))
        .where(EvaluationRun.status == RUN_SUCCEEDED)
        .group_by(EvaluationRun.model_repo)
        .subquery("evaluated")
    )


class _Query:
    """The conditions of one listing request, by filter, so a facet can leave its own out."""

    def __init__(
        self,
        viewer: Actor | None,
        repo_type: str,
        parsed: search.SearchQuery | None,
        filters: Filters,
        teams: dict[str, challenge_service.TeamStage],
    ) -> None:
        self.viewer, self.repo_type, self.parsed = viewer, repo_type, parsed
        self.scope: list[ColumnElement[bool]] = [Repo.repo_type == repo_type, visible_to(viewer)]
        self.by_filter: dict[str, ColumnElement[bool]] = {}
        # The kind and license filters as id sets of the term index too: with a search that can only
        # match by its terms, they are intersected with the terms' matches before any join.
        self.facet_ids: dict[str, Any] = {}
        for name, facet, value in (("kind", search.KIND, filters.kind), ("license", search.LICENSE, filters.license)):
            if value:
                self.by_filter[name] = search.facet_condition(Repo, facet, [value])
                ids = search.facet_ids(facet, [value])
                if ids is not None:
                    self.facet_ids[name] = ids
        if filters.team:
            self.by_filter["team"] = Repo.namespace == filters.team if filters.team in teams else false()
        if filters.stage:
            orgs = sorted(org for org, label in teams.items() if label.stage == filters.stage)
            self.by_filter["stage"] = Repo.namespace.in_(orgs) if orgs else false()
        if filters.release:
            self.by_filter["release"] = _release_condition(filters.release)

    def _folds(self) -> bool:
        """Whether the facet filters go inside the search's term match (a query of terms only)."""
        return self.parsed is not None and bool(self.parsed.terms) and self.parsed.substring is None

    def where(self, leave_out: frozenset[str] = frozenset()) -> list[ColumnElement[bool]]:
        """Every condition (the search's as a filter), but the filters in ``leave_out``."""
        found = list(self.scope)
        folded: set[str] = set()
        if self.parsed is not None:
            narrowed = []
            if self._folds():
                folded = {name for name in self.facet_ids if name not in leave_out}
                narrowed = [self.facet_ids[name] for name in sorted(folded)]
            found.append(search.search_condition(self.parsed, Repo, narrowed))
        return found + [c for name, c in self.by_filter.items() if name not in leave_out and name not in folded]

    def page(self, sort: Sort, offset: int, limit: int, *, dialect: str = "sqlite") -> Select[Any]:
        """The page's repo ids, in order: ids only, so that sorting thousands of matches moves narrow
        rows (the page's repos are read by id afterwards). No window count for the total either: on
        SQLite it would read every matching row whole to count them. Sorted by relevance, the ids
        come with their rank (the grouped term matches joined); sorted otherwise, the search is a
        condition like the filters and the page's ranks are computed afterwards
        (:func:`baton.hub.search.scores`)."""
        rank: ColumnElement[Any] = literal(None)
        if sort == "relevance" and self.parsed is not None:
            statement = select(Repo.id).where(*self.scope, *self.by_filter.values())
            statement, rank = search.ranked(statement, self.parsed, Repo, per_term=dialect == "postgresql")
        else:
            statement = select(Repo.id).where(*self.where())
        tie = [Repo.downloads.desc(), Repo.id.desc()]
        order: list[Any] = tie
        if sort == "relevance" and self.parsed is not None:
            order = [rank.desc(), *tie]
        elif sort == "derivatives":
            derived = _derivative_counts(self.viewer, self.repo_type)
            key = _repo_id_of(Repo) if self.repo_type == "model" else func.lower(_repo_id_of(Repo))
            statement = statement.outerjoin(derived, derived.c.base == key)
            order = [func.coalesce(derived.c.n, 0).desc(), *tie]
        elif sort == "evaluations" and self.repo_type == "model":
            evaluated = _evaluation_counts()
            statement = statement.outerjoin(evaluated, evaluated.c.model_repo == _repo_id_of(Repo))
            order = [func.coalesce(evaluated.c.n, 0).desc(), *tie]
        elif sort == "modified":
            order = [Repo.last_modified.desc(), Repo.id.desc()]
        elif sort == "name":
            order = [func.lower(Repo.namespace), func.lower(Repo.name), Repo.id]
        return statement.add_columns(rank.label("rank")).order_by(*order).offset(offset).limit(limit)


# Which filters each facet leaves out: its own (team and stage together: one decides the other).
_FAMILIES: Final = {"kind": {"kind"}, "license": {"license"}, "team": {"team", "stage"}, "release": {"release"}}


def _facet_counts(
    session: Session, query: _Query, filters: Filters, teams: dict[str, challenge_service.TeamStage]
) -> tuple[dict[str, list[tuple[str, int]]], int | None]:
    """(facet → [(value, count)], the total under every filter or None), in one statement per set of
    conditions: the facets whose own filter is not set share one, over a CTE of the matching repos
    (computed once on both databases, and the search's term lookup with it)."""
    selected = {name for name, value in filters.model_dump().items() if value}
    groups: dict[frozenset[str], list[str]] = {}
    for family, own in _FAMILIES.items():
        groups.setdefault(frozenset(own & selected), []).append(family)
    out: dict[str, list[tuple[str, int]]] = {}
    total = None
    for leave_out, families in groups.items():
        matched = select(Repo.id.label("id"), Repo.namespace.label("namespace")).where(*query.where(leave_out)).cte()
        parts: list[Any] = [select(literal("all").label("facet"), literal("").label("value"), func.count().label("n"))]
        parts[0] = parts[0].select_from(matched)
        for family in families:
            if family in ("kind", "license"):
                field = search.KIND if family == "kind" else search.LICENSE
                top = (
                    select(literal(family).label("facet"), RepoTerm.term.label("value"), func.count().label("n"))
                    .where(RepoTerm.field == field, RepoTerm.repo_id.in_(select(matched.c.id)))
                    .group_by(RepoTerm.term)
                    .order_by(func.count().desc(), RepoTerm.term)
                    .limit(MAX_FACET_VALUES)
                    .subquery()
                )
                parts.append(select(top.c.facet, top.c.value, top.c.n))
            elif family == "team" and teams:
                parts.append(
                    select(literal("team").label("facet"), matched.c.namespace, func.count())
                    .where(matched.c.namespace.in_(sorted(teams)))
                    .group_by(matched.c.namespace)
                )
            elif family == "release":
                # Driven by the (few) release items, each looked up in the matching repos.
                for state in ("released", "held"):
                    item = aliased(ReleaseItem)
                    condition = [item.state == state, item.repo_pk.in_(select(matched.c.id))]
                    if state == "held":
                        condition.append(not_(_release_exists(item.repo_pk, "released")))
                    parts.append(
                        select(
                            literal("release").label("facet"),
                            literal(state).label("value"),
                            func.count(func.distinct(item.repo_pk)),
                        ).where(*condition)
                    )
        rows = session.execute(union_all(*parts)).all()
        everything = 0
        for facet, value, count in rows:
            if facet == "all":
                everything = count
            else:
                out.setdefault(facet, []).append((value, count))
        if "release" in families:
            counted = dict(out.get("release", []))
            out["release"] = [*counted.items(), ("not_released", everything - sum(counted.values()))]
        if not leave_out:
            total = everything
    return out, total


def _values(pairs: list[tuple[str, int]], chosen: str | None) -> list[FacetValue]:
    chosen = chosen.lower() if chosen else None
    ordered = sorted(pairs, key=lambda pair: (-pair[1], pair[0]))[:MAX_FACET_VALUES]
    values = [FacetValue(value=value, count=count, label=None, selected=value == chosen) for value, count in ordered]
    if chosen is not None and not any(v.selected for v in values):
        values.append(FacetValue(value=chosen, count=0, label=None, selected=True))
    return values


def _facets(
    counts: dict[str, list[tuple[str, int]]], filters: Filters, teams: dict[str, challenge_service.TeamStage]
) -> Facets:
    by_team = dict(counts.get("team", []))
    team_values = [
        FacetValue(value=org, count=count, label=teams[org].team_name, selected=org == filters.team)
        for org, count in by_team.items()
        if filters.stage is None or teams[org].stage == filters.stage
    ]
    team_values.sort(key=lambda v: (-v.count, v.value))
    by_stage: dict[str, int] = {}
    for org, count in by_team.items():
        if filters.team is None or org == filters.team:
            by_stage[teams[org].stage] = by_stage.get(teams[org].stage, 0) + count
    releases = dict(counts.get("release", []))
    return Facets(
        kinds=_values(counts.get("kind", []), filters.kind),
        licenses=_values(counts.get("license", []), filters.license),
        teams=team_values[:MAX_FACET_VALUES],
        stages=[
            FacetValue(value=stage, count=count, label=None, selected=stage == filters.stage)
            for stage, count in sorted(by_stage.items())
        ][:MAX_FACET_VALUES],
        releases=[
            FacetValue(value=state, count=releases.get(state, 0), label=None, selected=state == filters.release)
            for state in RELEASE_STATES
        ],
    )


def _team_label(label: challenge_service.TeamStage) -> TeamLabel:
    return TeamLabel(
        challenge=label.challenge, team=label.team, name=label.team_name, stage=label.stage, status=label.status
    )


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str) and item]


def _first(value: Any) -> str | None:
    found = _strings(value)
    return found[0][:MAX_FILTER_CHARS] if found else None


# -- the listing -------------------------------------------------------------------------------


def list_page(
    session: Session,
    viewer: Actor | None,
    repo_type: str,
    *,
    query: str | None = None,
    kind: str | None = None,
    license: str | None = None,
    team: str | None = None,
    stage: str | None = None,
    release: str | None = None,
    sort: str | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    with_facets: bool = True,
) -> ListingPage:
    """One page of ``repo_type`` repos (``model`` or ``dataset``) that ``viewer`` may see.

    Raises ``BadRequestError`` (with a hint) for an unknown sort or release state, a page size
    outside 1..100, a page before the first or too deep, a query over 200 characters or a
    filter value that no facet could hold. A page past the last is empty, with the total.
    """
    checked_sort, checked_release = check_params(repo_type, sort, page, page_size, release)
    filters = Filters(
        kind=_clean(kind, "kind"),
        license=_clean(license, "license"),
        team=_clean(team, "team"),
        stage=_clean(stage, "stage"),
        release=checked_release,
    )
    parsed = search.parse_query(query)
    chosen: Sort = checked_sort or ("relevance" if parsed is not None else "downloads")
    if chosen == "relevance" and parsed is None:
        chosen = "downloads"
    teams = challenge_service.teams_by_organization(session)
    built = _Query(viewer, repo_type, parsed, filters, teams)
    dialect = session.get_bind().dialect.name
    ranks = {
        pk: rank for pk, rank in session.execute(built.page(chosen, (page - 1) * page_size, page_size, dialect=dialect))
    }
    loaded = {repo.id: repo for repo in session.scalars(select(Repo).where(Repo.id.in_(list(ranks))))}
    if parsed is not None and chosen != "relevance":
        ranks |= search.scores(session, parsed, [loaded[pk] for pk in ranks if pk in loaded])
    found: list[tuple[Repo, int | None]] = [(loaded[pk], rank) for pk, rank in ranks.items() if pk in loaded]
    items = _items(session, viewer, repo_type, found, teams)
    facets = None
    total: int | None = None
    if with_facets:
        counts, total = _facet_counts(session, built, filters, teams)
        facets = _facets(counts, filters, teams)
    if total is None:  # no facets asked for, or each had its own filter set
        total = _count(session, built)
    return ListingPage(
        repo_type=repo_type,
        query=parsed.text if parsed is not None else None,
        terms=list(parsed.terms) if parsed is not None else [],
        filters=filters,
        sort=chosen,
        page=page,
        page_size=page_size,
        total=total,
        pages=(total + page_size - 1) // page_size,
        items=items,
        facets=facets,
    )


def _count(session: Session, built: _Query) -> int:
    return session.scalar(select(func.count()).select_from(Repo).where(*built.where())) or 0


def count_matching(session: Session, viewer: Actor | None, repo_type: str, query: str | None) -> int:
    """How many ``repo_type`` repos that ``viewer`` may see match ``query``, without filters: what a
    search of the other listing would find ("also 3 datasets match"). One statement; 0 without a search."""
    check_params(repo_type, None, 1, 1, None)
    parsed = search.parse_query(query)
    if parsed is None:
        return 0
    return _count(session, _Query(viewer, repo_type, parsed, Filters(), {}))


def _items(
    session: Session,
    viewer: Actor | None,
    repo_type: str,
    found: list[tuple[Repo, int | None]],
    teams: dict[str, challenge_service.TeamStage],
) -> list[ListingItem]:
    """The page's rows with their counts and labels: one query per kind of count, for the page only."""
    if not found:
        return []
    ids = [repo.repo_id for repo, _ in found]
    pks = [repo.id for repo, _ in found]
    child = aliased(Repo)
    if repo_type == "model":
        derivative_rows = session.execute(
            select(LineageEdge.base, func.count())
            .join(child, child.id == LineageEdge.child_repo_id)
            .where(LineageEdge.base.in_(ids), visible_to(viewer, child))
            .group_by(LineageEdge.base)
        ).all()
        derivatives = {base: count for base, count in derivative_rows}
        evaluation_rows = session.execute(
            select(EvaluationRun.model_repo, func.count())
            .where(EvaluationRun.model_repo.in_(ids), EvaluationRun.status == RUN_SUCCEEDED)
            .group_by(EvaluationRun.model_repo)
        ).all()
        evaluations = {str(name): count for name, count in evaluation_rows}
    else:
        terms = {repo_id.lower(): repo_id for repo_id in ids}
        derivative_rows = session.execute(
            select(RepoTerm.term, func.count())
            .join(child, child.id == RepoTerm.repo_id)
            .where(RepoTerm.field == search.DATASET, RepoTerm.term.in_(sorted(terms)), visible_to(viewer, child))
            .group_by(RepoTerm.term)
        ).all()
        derivatives = {terms[term]: count for term, count in derivative_rows}
        evaluations = {}
    release_rows = session.execute(
        select(ReleaseItem.repo_pk, ReleaseItem.state).where(
            ReleaseItem.repo_pk.in_(pks), ReleaseItem.state.in_(("released", "held"))
        )
    ).all()
    released = {pk for pk, state in release_rows if state == "released"}
    held = {pk for pk, state in release_rows if state == "held"}
    items = []
    for repo, rank in found:
        card = repo.card_data if isinstance(repo.card_data, dict) else {}
        label = teams.get(repo.namespace)
        kind_key = "pipeline_tag" if repo.repo_type == "model" else "task_categories"
        items.append(
            ListingItem(
                id=repo.repo_id,
                repo_type=repo.repo_type,
                namespace=repo.namespace,
                name=repo.name,
                private=repo.private,
                gated=repo.gated,
                downloads=repo.downloads,
                derivatives=derivatives.get(repo.repo_id, 0),
                evaluations=evaluations.get(repo.repo_id, 0),
                last_modified=repo.last_modified,
                kind=_first(card.get(kind_key)),
                variant=_first(card.get("base_model_relation")),
                license=_first(card.get("license")),
                tags=[tag[:MAX_FILTER_CHARS] for tag in _strings(card.get("tags"))[:MAX_LISTED_TAGS]],
                team=None if label is None else _team_label(label),
                release="released" if repo.id in released else ("held" if repo.id in held else "not_released"),
                score=int(rank) if rank is not None else None,
            )
        )
    return items
