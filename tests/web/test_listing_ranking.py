"""Multi-term search ranking against an oracle: on a generated set of repos, the listing
(``baton.web.listing.list_page``, every page of it, each sort) and the Hugging Face listing
(``baton.hub.repos.list_repos``) find exactly the repos that a computation in Python over the
term index finds, ranked the same way (score, then downloads, then the newest id), on both
databases. It pins what the SQL may change: PostgreSQL's query takes another shape than SQLite's."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.hub import repos, search
from baton.hub.models import Repo, RepoTerm
from baton.web import listing

WORDS = ["alpha", "beta", "gamma", "delta", "법률", "문서", "요약", "모델"]
NAMES = ["alpha", "beta", "gamma", "alpha-beta", "beta-gamma", "delta"]
QUERIES = ["alpha beta", "alpha beta gamma", "beta delta", "법률 문서를 요약", "모델 alpha", "alpha-beta", "gamma"]


def _seed(runtime: Runtime, count: int = 90) -> None:
    """``count`` repos (a few datasets, a few private) with random names, tags and card text, many
    with equal downloads so that ties are broken by the id."""
    rng = random.Random(20261207)
    with runtime.database.session(write=True) as session:
        owners = {name: accounts.get_account(session, name) for name in ("bob", "carol", "lab")}
        for index in range(count):
            namespace = rng.choice(sorted(owners))
            repo = Repo(
                repo_type="dataset" if index % 6 == 5 else "model",
                namespace=namespace,
                name=f"{rng.choice(NAMES)}-{index}",
                owner_id=owners[namespace].id,
                private=index % 9 == 8,
                card_data={"tags": rng.sample(WORDS[:4], rng.randint(0, 2)), "license": "mit"},
                downloads=rng.choice([0, 5, 5, 10, 100]),
            )
            session.add(repo)
            session.flush()
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
            search.index_repo(session, repo, card=search.card_terms(body))


def _oracle(runtime: Runtime, repo_type: str, query: str) -> list[tuple[str, int]]:
    """(id, rank) of the public ``repo_type`` repos matching ``query``, best first, from the index rows."""
    parsed = search.parse_query(query)
    assert parsed is not None
    with runtime.database.session() as session:
        rows = session.execute(
            select(RepoTerm.repo_id, RepoTerm.term, RepoTerm.weight).where(RepoTerm.field.in_(search.TEXT_FIELDS))
        ).all()
        found = session.scalars(select(Repo).where(Repo.repo_type == repo_type, Repo.private.is_(False))).all()
        info = {repo.id: (f"{repo.namespace}/{repo.name}", repo.downloads) for repo in found}
    weights: dict[int, dict[str, int]] = {}
    for pk, term, weight in rows:
        if term in parsed.terms:
            per = weights.setdefault(pk, {})
            per[term] = per.get(term, 0) + weight
    ranked = []
    for pk, (repo_id, downloads) in info.items():
        per = weights.get(pk, {})
        every = bool(parsed.terms) and all(term in per for term in parsed.terms)
        in_id = parsed.substring is not None and parsed.substring in repo_id.lower()
        if every or in_id:
            rank = (sum(per.values()) if every else 0) + (search.NAME_SUBSTRING_BONUS if in_id else 0)
            ranked.append((-rank, -downloads, -pk, repo_id, rank))
    return [(repo_id, rank) for *_key, repo_id, rank in sorted(ranked)]


def _listed(runtime: Runtime, repo_type: str, query: str, sort: str | None = None) -> tuple[list[tuple[str, int]], int]:
    """Every page of the listing, 7 a page, as (id, score); and the total the first page said."""
    out: list[tuple[str, int]] = []
    total = None
    with runtime.database.session() as session:
        for number in range(1, 40):
            page = listing.list_page(session, None, repo_type, query=query, sort=sort, page=number, page_size=7)
            total = page.total if total is None else total
            assert page.facets is not None and sum(v.count for v in page.facets.releases) == page.total
            out += [(item.id, item.score or 0) for item in page.items]
            if number >= page.pages:
                break
    assert total is not None
    return out, total


@pytest.fixture
def generated(runtime: Runtime, users: Any) -> Runtime:
    _seed(runtime)
    return runtime


@pytest.mark.parametrize("query", QUERIES)
def test_listing_ranks_every_match_as_the_oracle_does(generated: Runtime, query: str) -> None:
    for repo_type in ("model", "dataset"):
        expected = _oracle(generated, repo_type, query)
        found, total = _listed(generated, repo_type, query)
        assert found == expected, (repo_type, query)
        assert total == len(expected)
        with generated.database.session() as session:
            other = "dataset" if repo_type == "model" else "model"
            assert listing.count_matching(session, None, other, query) == len(_oracle(generated, other, query))
    assert len(_oracle(generated, "model", query)) >= 3, "the generated set should give each query matches"


@pytest.mark.parametrize("query", ["alpha beta", "alpha-beta"])
def test_other_sorts_give_the_same_matches_and_ranks(generated: Runtime, query: str) -> None:
    expected = dict(_oracle(generated, "model", query))
    found, total = _listed(generated, "model", query, sort="name")
    assert dict(found) == expected and total == len(expected) and len(found) == len(expected)
    assert [repo_id.lower() for repo_id, _ in found] == sorted(repo_id.lower() for repo_id in expected)


@pytest.mark.parametrize("query", QUERIES)
def test_the_hugging_face_listing_ranks_as_the_oracle_does(generated: Runtime, query: str) -> None:
    expected = [repo_id for repo_id, _ in _oracle(generated, "model", query)]
    with generated.database.session() as session:
        found = [repo.repo_id for repo in repos.list_repos(session, None, "model", search=query, limit=500)]
    assert found == expected


ODD_TERMS = ["a%b", "%s", "%(x)s", "it's", "back\\slash", "' or '1'='1"]


def test_terms_written_into_the_sql_match_exactly(generated: Runtime) -> None:
    """Terms are rendered into the SQL (``search._fixed``): quotes, backslashes and the driver's
    parameter markers in a term match that term and nothing else."""
    with generated.database.session(write=True) as session:
        pk = session.scalars(select(Repo.id).order_by(Repo.id)).first()
        for term in ODD_TERMS:
            session.add(RepoTerm(repo_id=pk, field=search.CARD, term=term, weight=1))
    with generated.database.session() as session:
        for term in ODD_TERMS:
            query = search.SearchQuery(term, (term,), None)
            assert list(session.scalars(search.matching_ids(query))) == [pk], term
            both = search.SearchQuery(term, (term, "alpha"), None)
            assert set(session.scalars(search.matching_ids(both))) <= {pk}
        assert list(session.scalars(search.matching_ids(search.SearchQuery("x", ("a%", "b"), None)))) == []
