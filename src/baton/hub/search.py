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
| `facet` | exact filter values (``license:mit``, ``kind:text-generation``, ...)  | 0, never matched |

A query's terms must all match (in any text field); a repo's rank is the sum of the weights it
matches, plus a bonus when the query, as typed, is part of ``namespace/name`` (which alone also
matches: the Hugging Face client's ``search=`` is a substring of the id). One SQL for SQLite and
PostgreSQL: an ``IN`` over the term index, grouped by repo.

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

from sqlalchemy import and_, case, delete, exists, false, func, insert, literal, or_, select
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
FACET: Final = "facet"
TEXT_FIELDS: Final = (NAME, OWNER, TAG, CARD)
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


def facets_of(card_data: dict[str, Any] | None, repo_type: str) -> set[str]:
    """Exact filter values of a card: ``license:``, ``kind:``, ``lang:``, ``library:``, ``tag:``,
    ``dataset:`` (a model's declared training datasets), lower-cased."""
    card = card_data if isinstance(card_data, dict) else {}
    found: set[str] = set()
    for key, prefix in (
        ("license", "license"),
        ("pipeline_tag", "kind"),
        ("base_model_relation", "kind"),
        ("task_categories", "kind"),
        ("language", "lang"),
        ("library_name", "library"),
        ("tags", "tag"),
    ):
        found.update(f"{prefix}:{value.lower()}" for value in _strings(card.get(key)))
    if repo_type == "model":
        found.update(f"dataset:{value.lower()}" for value in _strings(card.get("datasets")))
    return {value for value in found if len(value) <= MAX_TERM_CHARS}


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
    rows += _rows(repo.id, FACET, facets_of(repo.card_data, repo.repo_type), 0)
    _replace(session, repo.id, (TAG, FACET), rows)
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


def search_condition(query: SearchQuery, repo: Any) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """(where, rank) for ``repo`` (the ``Repo`` class or an alias of it) matching ``query``.

    ``where`` holds for repos having every query term in a text field, or whose
    ``namespace/name`` contains the query as typed; ``rank`` is the sum of the weights matched
    (each term once per field), plus ``NAME_SUBSTRING_BONUS`` for the id match.
    """
    conditions: list[ColumnElement[bool]] = []
    rank: ColumnElement[int] = literal(0)
    if query.terms:
        # Aliases, and correlation said outright: the outer query may read repo_terms itself (facets).
        hit = aliased(RepoTerm)
        matching = (
            select(hit.repo_id)
            .where(hit.term.in_(query.terms), hit.field.in_(TEXT_FIELDS))
            .group_by(hit.repo_id)
            .having(func.count(func.distinct(hit.term)) == len(query.terms))
            .correlate(None)
        )
        conditions.append(repo.id.in_(matching))
        weighed = aliased(RepoTerm)
        weights = (
            select(func.coalesce(func.sum(weighed.weight), 0))
            .where(weighed.repo_id == repo.id, weighed.term.in_(query.terms), weighed.field.in_(TEXT_FIELDS))
            .correlate(repo)
            .scalar_subquery()
        )
        rank = weights
    if query.substring is not None:
        in_id = func.lower(repo.namespace + "/" + repo.name).like(_like_pattern(query.substring), escape="\\")
        conditions.append(in_id)
        rank = rank + case((in_id, NAME_SUBSTRING_BONUS), else_=0)
    if not conditions:
        return false(), rank
    return or_(*conditions), rank


def facet_condition(repo: Any, values: Iterable[str]) -> ColumnElement[bool]:
    """Whether ``repo`` has one of the exact facet values (``license:mit``, ...)."""
    facet = aliased(RepoTerm)
    return exists(
        select(facet.repo_id)
        .where(facet.repo_id == repo.id, facet.field == FACET, facet.term.in_(sorted(set(values))))
        .correlate(repo)
    )


def hf_filter_condition(repo: Any, value: str) -> ColumnElement[bool]:
    """What the Hugging Face client's ``filter=`` value means for a repo: one of its tags
    (``text-generation``, ``ko``, ``transformers``, ``license:mit``, ``dataset:org/name``)."""
    lowered = unicodedata.normalize("NFKC", value).strip().lower()
    if not lowered or len(lowered) > MAX_TERM_CHARS:
        return false()
    prefix, _, rest = lowered.partition(":")
    if rest and prefix in ("license", "dataset", "kind", "lang", "library", "tag", "language"):
        return facet_condition(repo, [f"{'lang' if prefix == 'language' else prefix}:{rest}"])
    candidates = [f"{kind}:{lowered}" for kind in ("tag", "kind", "lang", "library")]
    return facet_condition(repo, [c for c in candidates if len(c) <= MAX_TERM_CHARS])


def all_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(*conditions) if conditions else literal(True)
