"""Search over the hub's repos: a portable term index (``repo_terms``) and the query that reads it.

Each repo's searchable text is reduced to normalised terms with :mod:`baton.core.text`: Korean is
split into content morphemes by Kiwi (nouns, verb and adjective stems, roots, foreign words,
numbers; particles and endings dropped, so "언어모델을" gives 언어, 모델), English is lower-cased
and lightly stemmed ("models" → model). The same function reduces a query, so both sides meet.

Rows of ``repo_terms`` (``RepoTerm``): ``(repo_id, field, term, weight)``, one per distinct term
and field:

| field   | from                                                                 | weight           |
| ------- | -------------------------------------------------------------------- | ---------------- |
| `name`  | the repo's name (its tokens, its dash/underscore/dot parts, itself)   | 16               |
| `owner` | the namespace, the same way                                           | 6                |
| `tag`   | card tags, pipeline tag, library, languages, license, task categories | 5                |
| `card`  | the README's text below the front matter, its first 64 KiB            | min(count, 3)    |

and, for filters (weight 0, never matched by a text query), one row per exact value, lower-cased,
with the facet as its field: `license`, `kind` (pipeline tag, ``base_model_relation``, a model's
``variant.kind``, a dataset's task categories), `lang`, `library`, `label` (a card tag), `dataset` (a model's
declared training datasets). A filter is then a primary-key lookup, and a facet's counts one
pass over its field.

A query's terms must all match (in any text field); a repo's rank is the sum of the weights it
matches, plus a bonus when the query, as typed, is part of ``namespace/name`` (which alone also
matches: the Hugging Face client's ``search=`` is a substring of the id). The repos matching every
term are an ``INTERSECT`` of one range of the index (field, term, repo_id, weight) per term,
computed before any join (PostgreSQL estimates it from its parts; a grouped match it guessed at a
few dozen rows and looped over); the rank is computed only where the page is sorted by it
(otherwise only for the page's repos): on SQLite one grouped pass over the terms' index ranges,
on PostgreSQL one grouped range per term, joined (its estimates then come from each term's).
Terms and fields are written into the SQL, not bound (:func:`_fixed`): PostgreSQL plans each
search for its own terms, where a prepared statement's generic plan knew none of them; and it
keeps statistics on the index's 1,000 most common terms (migration 0021), so that a frequent
term is not guessed at a few dozen repos.

The index is written in the transaction that changes what it reflects: a commit to the default
branch that adds or removes the README (``commits.apply_commit``; the card's terms are computed
before, in ``prepare_commit``, outside the branch lock), creation, moves and deletion
(``repos``). It holds nothing about visibility: who may see a repo is decided at query time from
``repos.private``, so making a repo private hides it from the next search. ``baton hub reindex``
rebuilds it (repos that existed before the index did).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    CompoundSelect,
    Select,
    String,
    case,
    delete,
    false,
    func,
    insert,
    intersect,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from baton.core import text
from baton.core.errors import BadRequestError
from baton.hub.cards import split_front_matter
from baton.hub.models import RepoTerm

NAME: Final = "name"
OWNER: Final = "owner"
TAG: Final = "tag"
CARD: Final = "card"
TEXT_FIELDS: Final = (NAME, OWNER, TAG, CARD)
LICENSE: Final = "license"
KIND: Final = "kind"
LANG: Final = "lang"
LIBRARY: Final = "library"
LABEL: Final = "label"
DATASET: Final = "dataset"
FACET_FIELDS: Final = (LICENSE, KIND, LANG, LIBRARY, LABEL, DATASET)
WEIGHTS: Final = {NAME: 16, OWNER: 6, TAG: 5}
CARD_WEIGHT_MAX: Final = 3
NAME_SUBSTRING_BONUS: Final = 16

MAX_CARD_BYTES: Final = 64 * 1024  # the part of a card's text that is indexed
MAX_CARD_TERMS: Final = 3000  # distinct terms kept per card (the most frequent)
MAX_TERM_CHARS: Final = 64  # the column's width; longer terms are not indexed
MAX_QUERY_CHARS: Final = 200
MAX_QUERY_TERMS: Final = 8
MAX_FACET_VALUES: Final = 64  # per list in a card (tags, languages, datasets)

# English words too common to tell repos apart; dropped from cards and queries alike.
ENGLISH_STOP_WORDS: Final = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is"),
        *("it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "with"),
    }
)
_PARTS = re.compile(r"[-_.]+")
_SUBSTRING = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def terms_of(value: str, *, cached: bool = True) -> list[str]:
    """The normalised search terms of ``value``, in order (repeats kept)."""
    tokens = text.tokenize(value) if cached else text.tokenize_uncached(value)
    return [t for t in tokens if t not in ENGLISH_STOP_WORDS and len(t) <= MAX_TERM_CHARS]


def _name_terms(name: str) -> set[str]:
    lowered = unicodedata.normalize("NFKC", name).lower()
    found = set(terms_of(name))
    found.update(part for part in _PARTS.split(lowered) if part)
    found.add(lowered)
    return {t for t in found if len(t) <= MAX_TERM_CHARS}


# -- what a repo contributes -------------------------------------------------------------------


def card_body(readme: str) -> str:
    """The card's text below its front matter, cut to its first ``MAX_CARD_BYTES`` bytes."""
    try:
        _yaml, body, _offset = split_front_matter(readme[: MAX_CARD_BYTES * 4])
    except BadRequestError:  # an unclosed front matter: index the text as it is
        body = readme
    return body.encode("utf-8")[:MAX_CARD_BYTES].decode("utf-8", errors="ignore")


def card_terms(readme: str | None) -> dict[str, int]:
    """Term → weight of a README's text (slow for a long card: Kiwi; call it outside locks)."""
    if not readme:
        return {}
    counts = Counter(terms_of(card_body(readme), cached=False))
    return {term: min(count, CARD_WEIGHT_MAX) for term, count in counts.most_common(MAX_CARD_TERMS)}


def _strings(value: Any) -> list[str]:
    """A card value that should be a string or a list of strings, as strings (others dropped)."""
    items = value if isinstance(value, list) else [value]
    return [item.strip() for item in items[:MAX_FACET_VALUES] if isinstance(item, str) and item.strip()]


def facets_of(card_data: dict[str, Any] | None, repo_type: str) -> set[tuple[str, str]]:
    """Exact filter values of a card as (facet, value), lower-cased (see the module's table)."""
    card = card_data if isinstance(card_data, dict) else {}
    found: set[tuple[str, str]] = set()
    keys = [
        ("license", LICENSE),
        ("pipeline_tag", KIND),
        ("base_model_relation", KIND),
        ("task_categories", KIND),
        ("language", LANG),
        ("library_name", LIBRARY),
        ("tags", LABEL),
    ]
    if repo_type == "model":
        keys.append(("datasets", DATASET))
    for key, facet in keys:
        found.update((facet, value.lower()) for value in _strings(card.get(key)))
    variant = card.get("variant")
    if repo_type == "model" and isinstance(variant, dict):
        # A variant's kind (quantized, onnx, ...; baton.hub.variants) is a kind too: ?kind=onnx finds ONNX builds.
        found.update((KIND, value.lower()) for value in _strings(variant.get("kind")))
    return {(facet, value) for facet, value in found if len(value) <= MAX_TERM_CHARS}


def _tag_terms(card_data: dict[str, Any] | None) -> set[str]:
    card = card_data if isinstance(card_data, dict) else {}
    found: set[str] = set()
    for key in ("tags", "pipeline_tag", "library_name", "language", "license", "task_categories"):
        for value in _strings(card.get(key)):
            found.update(terms_of(value))
            lowered = value.lower()
            if len(lowered) <= MAX_TERM_CHARS:
                found.add(lowered)  # "text-generation" and "apache-2.0" whole, too
    return found


@dataclass(frozen=True)
class Indexed:
    """What the index needs of a repo (a ``Repo`` has these attributes)."""

    id: int
    repo_type: str
    namespace: str
    name: str
    card_data: dict[str, Any]


def _rows(repo_pk: int, field: str, terms: Iterable[str], weight: int) -> list[dict[str, Any]]:
    return [{"repo_id": repo_pk, "field": field, "term": term, "weight": weight} for term in sorted(set(terms))]


def _replace(session: Session, repo_pk: int, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    session.execute(delete(RepoTerm).where(RepoTerm.repo_id == repo_pk, RepoTerm.field.in_(fields)))
    if rows:
        session.execute(insert(RepoTerm), rows)


def index_names(session: Session, repo: Any) -> None:
    """Rewrite the terms of the repo's name and namespace (after a move)."""
    rows = _rows(repo.id, NAME, _name_terms(repo.name), WEIGHTS[NAME])
    rows += _rows(repo.id, OWNER, _name_terms(repo.namespace), WEIGHTS[OWNER])
    _replace(session, repo.id, (NAME, OWNER), rows)


def index_repo(session: Session, repo: Any, card: dict[str, int] | None = None) -> None:
    """Rewrite the repo's terms from its name and ``card_data``; and its card text's terms when
    ``card`` (from :func:`card_terms`) is given (None keeps those already indexed)."""
    index_names(session, repo)
    rows = _rows(repo.id, TAG, _tag_terms(repo.card_data), WEIGHTS[TAG])
    for facet, value in sorted(facets_of(repo.card_data, repo.repo_type)):
        rows.append({"repo_id": repo.id, "field": facet, "term": value, "weight": 0})
    _replace(session, repo.id, (TAG, *FACET_FIELDS), rows)
    if card is not None:
        card_rows = [{"repo_id": repo.id, "field": CARD, "term": t, "weight": w} for t, w in sorted(card.items())]
        _replace(session, repo.id, (CARD,), card_rows)


def remove_repo(session: Session, repo_pk: int) -> None:
    session.execute(delete(RepoTerm).where(RepoTerm.repo_id == repo_pk))


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: the terms that must all match, and the text matched as part of the id."""

    text: str
    terms: tuple[str, ...]
    substring: str | None

    @property
    def empty(self) -> bool:
        return not self.terms and self.substring is None


def parse_query(query: str | None) -> SearchQuery | None:
    """The query's terms (at most ``MAX_QUERY_TERMS``, the first ones); None for no query.

    Control characters are dropped; a query longer than ``MAX_QUERY_CHARS`` is refused.
    """
    if query is None:
        return None
    cleaned = " ".join(_CONTROL.sub(" ", query).split())
    if not cleaned:
        return None
    if len(cleaned) > MAX_QUERY_CHARS:
        raise BadRequestError(
            f"The search is {len(cleaned)} characters long; at most {MAX_QUERY_CHARS} are accepted",
            code="SearchTooLong",
            hint="Search with a few words: names, tags or words of the card.",
        )
    terms = tuple(dict.fromkeys(terms_of(cleaned)))[:MAX_QUERY_TERMS]
    lowered = unicodedata.normalize("NFKC", cleaned).lower()
    substring = lowered if _SUBSTRING.match(lowered) else None
    return SearchQuery(cleaned, terms, substring)


def _like_pattern(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fixed(value: str) -> ColumnElement[str]:
    """``value`` written into the SQL rather than bound: a term or field the planner must see.

    Bound, PostgreSQL plans a statement it has prepared (psycopg prepares one after its fifth run
    on a connection) once for every value: a generic plan that knows neither how many repos
    a term has nor that ``card`` holds most of the index, and that joined a two-term match of
    thousands of repos by looping over it. Written in, each query's terms are planned as they
    are. The text is escaped by SQLAlchemy's literal rendering (query text has no control
    characters: :func:`parse_query`)."""
    return literal(value, String(), literal_execute=True)


def _text_field(column: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.in_([_fixed(field) for field in TEXT_FIELDS])
    return condition


def _term_arm(term: str) -> Select[Any]:
    """The repos with ``term`` in a text field (a repo once per field it is in)."""
    hit = aliased(RepoTerm)
    return select(hit.repo_id).where(_text_field(hit.field), hit.term == _fixed(term)).correlate(None)


def _term_scores(term: str) -> Any:
    """(repo_id, score): the repos with ``term`` in a text field, and the weights it has there."""
    hit = aliased(RepoTerm)
    return (
        select(hit.repo_id.label("repo_id"), func.sum(hit.weight).label("score"))
        .where(_text_field(hit.field), hit.term == _fixed(term))
        .group_by(hit.repo_id)
        .correlate(None)
        .subquery()
    )


def facet_ids(facet: str, values: Iterable[str]) -> Select[Any] | None:
    """The repos with one of ``values`` (lower-cased) in ``facet``; None when no value could be."""
    row = aliased(RepoTerm)
    wanted = sorted({value.lower() for value in values if len(value) <= MAX_TERM_CHARS})
    if not wanted:
        return None
    return (
        select(row.repo_id)
        .where(row.field == _fixed(facet), row.term.in_([_fixed(value) for value in wanted]))
        .correlate(None)
    )


def matching_ids(query: SearchQuery, narrowed: Iterable[Select[Any]] = ()) -> Select[Any] | CompoundSelect[Any]:
    """The repos with every query term in a text field (and in each of ``narrowed``, more id
    sets such as :func:`facet_ids`): one index range per term, intersected before any join.

    An ``INTERSECT`` rather than one grouped pass with ``HAVING count(DISTINCT term) = n``: both
    databases then read only the index (field, term, repo_id), and PostgreSQL estimates the
    result from its parts (it guessed the grouped pass at a few dozen rows where thousands
    matched, and looped over it)."""
    arms = [_term_arm(term) for term in query.terms] + list(narrowed)
    if not arms:
        raise ValueError("matching_ids needs a query term or an id set")
    return arms[0] if len(arms) == 1 else intersect(*arms)


def _hits(query: SearchQuery, within: Any = None) -> Select[Any]:
    """Repos with every query term in a text field, with their score (the weights matched),
    only among ``within`` (an id set) when given."""
    # An alias, and correlation said outright: the outer query may read repo_terms itself.
    hit = aliased(RepoTerm)
    columns: list[Any] = [hit.repo_id.label("repo_id"), func.sum(hit.weight).label("score")]
    statement = (
        select(*columns)
        .where(hit.term.in_([_fixed(term) for term in query.terms]), _text_field(hit.field))
        .group_by(hit.repo_id)
        .correlate(None)
    )
    if len(query.terms) > 1:
        # Every term present: one max() per term rather than count(DISTINCT term), which PostgreSQL
        # can only aggregate by sorting each repo's rows (hashed: 25 ms where sorted took 40, docs/benchmarks.md).
        present = [func.max(case((hit.term == term, 1), else_=0)) for term in query.terms]
        statement = statement.having(sum(present[1:], present[0]) == len(query.terms))
    if within is not None:
        statement = statement.where(hit.repo_id.in_(within))
    return statement


def _ranked_hits(query: SearchQuery) -> Any:
    """(repo_id, score) of every repo with all the query's terms: one grouped index range per term,
    joined on the repo. The same sums as :func:`_hits` (the terms are distinct), but planned from
    what each term has: PostgreSQL estimated the grouped pass with its ``HAVING`` at a few dozen
    rows where thousands matched, and joined the repos by looking each one up."""
    if len(query.terms) == 1:
        return _hits(query).subquery("hits")
    parts = [_term_scores(term) for term in query.terms]
    first = parts[0]
    score = sum((part.c.score for part in parts[1:]), first.c.score)
    statement = select(first.c.repo_id.label("repo_id"), score.label("score"))
    for part in parts[1:]:
        statement = statement.join(part, part.c.repo_id == first.c.repo_id)
    return statement.subquery("hits")


def scores(session: Session, query: SearchQuery, repos: list[Any]) -> dict[int, int]:
    """The rank of each of ``repos`` (``Repo`` rows) for ``query``, as :func:`ranked` computes it:
    for a page sorted otherwise than by relevance, scored after the page is chosen."""
    if not repos:
        return {}
    found: dict[int, int] = {}
    if query.terms:
        rows = session.execute(_hits(query, within=[repo.id for repo in repos])).all()
        found = {int(pk): int(score) for pk, score in rows}
    out = {}
    for repo in repos:
        in_id = query.substring is not None and query.substring in f"{repo.namespace}/{repo.name}".lower()
        out[repo.id] = found.get(repo.id, 0) + (NAME_SUBSTRING_BONUS if in_id else 0)
    return out


def _in_id(query: SearchQuery, repo: Any) -> ColumnElement[bool] | None:
    if query.substring is None:
        return None
    pattern = _like_pattern(query.substring)
    matched: ColumnElement[bool] = func.lower(repo.namespace + "/" + repo.name).like(pattern, escape="\\")
    return matched


def search_condition(query: SearchQuery, repo: Any, narrowed: Iterable[Select[Any]] = ()) -> ColumnElement[bool]:
    """Whether ``repo`` (the ``Repo`` class or an alias of it) matches ``query``: every query term
    in a text field, or the query as typed within ``namespace/name``. For counts and filters;
    :func:`ranked` joins the same for a ranked page. ``narrowed`` (id sets the repo must be in
    besides, such as a facet filter's) are intersected with the term matches; only for a query
    that cannot match by its id (``substring`` None)."""
    narrowed = list(narrowed)
    if narrowed and query.substring is not None:
        raise ValueError("a query that may match by id cannot be narrowed inside its term match")
    conditions: list[ColumnElement[bool]] = []
    if query.terms:
        conditions.append(repo.id.in_(matching_ids(query, narrowed)))
    in_id = _in_id(query, repo)
    if in_id is not None:
        conditions.append(in_id)
    return or_(*conditions) if conditions else false()


def ranked(
    statement: Select[Any], query: SearchQuery, repo: Any, *, per_term: bool = False
) -> tuple[Select[Any], ColumnElement[int]]:
    """``statement`` (over ``repo``) narrowed to the repos matching ``query``, and their rank: the
    sum of the weights matched (each term once per field), plus ``NAME_SUBSTRING_BONUS`` for the id
    match. One pass over the term index, joined; with ``per_term`` (for PostgreSQL), one grouped
    range per term, joined (:func:`_ranked_hits`: SQLite answers the single pass faster)."""
    in_id = _in_id(query, repo)
    bonus: ColumnElement[int] = case((in_id, NAME_SUBSTRING_BONUS), else_=0) if in_id is not None else literal(0)
    if not query.terms:
        return statement.where(in_id if in_id is not None else false()), bonus
    hits = _ranked_hits(query) if per_term else _hits(query).subquery("hits")
    if in_id is None:
        return statement.join(hits, hits.c.repo_id == repo.id), hits.c.score
    statement = statement.outerjoin(hits, hits.c.repo_id == repo.id).where(or_(hits.c.repo_id.is_not(None), in_id))
    return statement, func.coalesce(hits.c.score, 0) + bonus


def facet_condition(repo: Any, facet: str, values: Iterable[str]) -> ColumnElement[bool]:
    """Whether ``repo`` has one of ``values`` (lower-cased) in ``facet`` (``LICENSE``, ``KIND``, ...):
    a semi-join on the index (field, term, repo_id), which a database can also drive from."""
    ids = facet_ids(facet, values)
    return false() if ids is None else repo.id.in_(ids)


# What a prefix of the Hugging Face client's filter= value names.
_FILTER_PREFIXES: Final = {
    "license": LICENSE,
    "dataset": DATASET,
    "language": LANG,
    "lang": LANG,
    "library": LIBRARY,
    "kind": KIND,
    "pipeline_tag": KIND,
    "tag": LABEL,
}


def hf_filter_condition(repo: Any, value: str) -> ColumnElement[bool]:
    """What the Hugging Face client's ``filter=`` value means for a repo: one of its tags
    (``text-generation``, ``ko``, ``transformers``, ``license:mit``, ``dataset:org/name``)."""
    lowered = unicodedata.normalize("NFKC", value).strip().lower()
    if not lowered or len(lowered) > MAX_TERM_CHARS:
        return false()
    prefix, _, rest = lowered.partition(":")
    if rest and prefix in _FILTER_PREFIXES:
        return facet_condition(repo, _FILTER_PREFIXES[prefix], [rest])
    return or_(*(facet_condition(repo, facet, [lowered]) for facet in (LABEL, KIND, LANG, LIBRARY)))
