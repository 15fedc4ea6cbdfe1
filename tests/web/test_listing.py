"""The models and datasets listing (``baton.web.listing``) and its JSON API: search, filters, sorts,
pages, facets and who sees what, on both databases."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from baton.accounts import service as accounts
from baton.challenge.models import Challenge, Decision, Team
from baton.challenge.service.challenges import reached_stage
from baton.challenge.spec import load_spec
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.web import listing
from baton.web.listing import ListingPage

from .listing_support import NOW, SPEC, build_world, make


def page(runtime: Runtime, repo_type: str = "model", *, user: str | None = None, **kw: Any) -> ListingPage:
    with runtime.database.session() as session:
        actor = accounts.act_as(session, user) if user else None
        return listing.list_page(session, actor, repo_type, **kw)


def ids(result: ListingPage) -> list[str]:
    return [item.id for item in result.items]


def facet(values: list[listing.FacetValue]) -> dict[str, int]:
    return {value.value: value.count for value in values}


@pytest.fixture
def world(runtime: Runtime, users: Any) -> Runtime:
    return build_world(runtime)


def test_default_listing_is_by_downloads_with_counts_and_labels(world: Runtime) -> None:
    result = page(world)
    assert ids(result) == ["org-b/hangul-7b-q4", "org-a/hangul-7b", "lab/vision-base", "bob/chat-ft"]
    assert result.total == 4 and result.pages == 1 and result.sort == "downloads"
    base = result.items[1]
    assert base.derivatives == 2 and base.evaluations == 3 and base.release == "held"
    assert base.team is not None and base.team.name == "Team A" and base.team.stage == "stage-1"
    assert base.kind == "text-generation" and base.license == "apache-2.0"
    quantized = result.items[0]
    assert quantized.variant == "quantized" and quantized.release == "released" and quantized.evaluations == 1
    assert result.items[3].team is None and result.items[3].evaluations == 0  # a failed run is no evaluation


def test_each_sort(world: Runtime) -> None:
    assert ids(page(world, sort="derivatives"))[0] == "org-a/hangul-7b"
    assert ids(page(world, sort="evaluations"))[:2] == ["org-a/hangul-7b", "org-b/hangul-7b-q4"]
    assert ids(page(world, sort="modified")) == [
        "org-a/hangul-7b",
        "org-b/hangul-7b-q4",
        "lab/vision-base",
        "bob/chat-ft",
    ]
    assert ids(page(world, sort="name")) == ["bob/chat-ft", "lab/vision-base", "org-a/hangul-7b", "org-b/hangul-7b-q4"]
    # relevance without a search falls back to downloads
    assert page(world, sort="relevance").sort == "downloads"


def test_search_ranks_by_relevance_by_default(world: Runtime) -> None:
    result = page(world, query="hangul")
    assert result.sort == "relevance" and result.terms == ["hangul"]
    # both have "hangul" in their names; q4's card mentions it too
    assert ids(result) == ["org-b/hangul-7b-q4", "org-a/hangul-7b"]
    assert all(item.score is not None and item.score > 0 for item in result.items)
    assert ids(page(world, query="언어 모델")) == ["org-a/hangul-7b"]
    assert ids(page(world, query="언어 모델", sort="name")) == ["org-a/hangul-7b"]
    assert ids(page(world, repo_type="dataset", query="고양이 사진")) == ["lab/photos"]


def test_each_filter(world: Runtime) -> None:
    assert ids(page(world, kind="text-generation")) == ["org-b/hangul-7b-q4", "org-a/hangul-7b"]
    assert ids(page(world, kind="quantized")) == ["org-b/hangul-7b-q4"]  # a variant kind from base_model_relation
    assert ids(page(world, license="MIT")) == ["lab/vision-base", "bob/chat-ft"]
    assert ids(page(world, team="org-a")) == ["org-a/hangul-7b"]
    assert ids(page(world, team="lab")) == []  # lab is no team
    assert ids(page(world, stage="stage-1")) == ["org-b/hangul-7b-q4", "org-a/hangul-7b"]
    assert ids(page(world, stage="stage-2")) == []
    assert ids(page(world, release="released")) == ["org-b/hangul-7b-q4"]
    assert ids(page(world, release="held")) == ["org-a/hangul-7b"]
    assert ids(page(world, release="not_released")) == ["lab/vision-base", "bob/chat-ft"]
    assert ids(page(world, repo_type="dataset", kind="image-classification")) == ["lab/photos"]
    combined = page(world, license="apache-2.0", team="org-b", query="hangul")
    assert ids(combined) == ["org-b/hangul-7b-q4"]


def test_facets_count_the_other_filters_and_only_visible_repos(world: Runtime) -> None:
    facets = page(world).facets
    assert facets is not None
    assert facet(facets.licenses) == {"apache-2.0": 2, "mit": 2}  # lab/secret (mit) is not counted
    assert facet(facets.kinds) == {"text-generation": 2, "image-classification": 1, "quantized": 1, "finetune": 1}
    assert facet(facets.teams) == {"org-a": 1, "org-b": 1}
    assert {v.value: v.label for v in facets.teams} == {"org-a": "Team A", "org-b": "Team B"}
    assert facet(facets.stages) == {"stage-1": 2}
    assert facet(facets.releases) == {"released": 1, "held": 1, "not_released": 2}
    as_alice = page(world, user="alice").facets
    assert as_alice is not None and facet(as_alice.licenses)["mit"] == 3
    narrowed = page(world, license="mit").facets
    assert narrowed is not None
    assert facet(narrowed.licenses) == {"apache-2.0": 2, "mit": 2}  # its own filter left out
    assert [v.value for v in narrowed.licenses if v.selected] == ["mit"]
    assert facet(narrowed.teams) == {}  # no mit repo belongs to a team
    assert facet(narrowed.releases) == {"released": 0, "held": 0, "not_released": 2}


def test_stage_is_the_last_stage_the_team_reached(world: Runtime) -> None:
    with world.database.session(write=True) as session:
        challenge = session.scalar(select(Challenge).where(Challenge.slug == "listing-test"))
        assert challenge is not None
        session.add(
            Decision(
                challenge_id=challenge.id,
                stage="stage-1",
                seq=99,
                record={"advance": ["team-a"]},
                decided_at=NOW,
                appeal_deadline=NOW,
            )
        )
        session.execute(update(Team).where(Team.slug == "team-b").values(status="eliminated", exit_stage="stage-1"))
    assert ids(page(world, stage="stage-2")) == ["org-a/hangul-7b"]
    assert ids(page(world, stage="stage-1")) == ["org-b/hangul-7b-q4"]
    facets = page(world, team="org-a").facets
    assert facets is not None and facet(facets.stages) == {"stage-2": 1}
    assert facet(facets.teams) == {"org-a": 1, "org-b": 1}


def test_reached_stage_walks_the_decisions() -> None:
    spec = load_spec(SPEC)
    team = Team(slug="t", entered_stage="stage-1", exit_stage=None)
    assert reached_stage(spec, team, {}) == "stage-1"
    assert reached_stage(spec, team, {"stage-1": {"t"}}) == "stage-2"
    assert reached_stage(spec, team, {"stage-1": {"t"}, "stage-2": {"t"}}) == "stage-2"  # the last stage
    assert reached_stage(spec, team, {"stage-1": {"other"}}) == "stage-1"
    left = Team(slug="t", entered_stage="stage-1", exit_stage="stage-1")
    assert reached_stage(spec, left, {"stage-1": {"t"}}) == "stage-1"


def test_pagination_edges(world: Runtime) -> None:
    first = page(world, page_size=3)
    assert len(first.items) == 3 and first.total == 4 and first.pages == 2
    last = page(world, page_size=3, page=2)
    assert ids(last) == ["bob/chat-ft"] and last.total == 4
    beyond = page(world, page_size=3, page=3)
    assert beyond.items == [] and beyond.total == 4 and beyond.pages == 2
    assert ids(first) + ids(last) == ids(page(world, page_size=100))


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"page_size": 0}, "BadRequest"),
        ({"page_size": 101}, "BadRequest"),
        ({"page": 0}, "PageOutOfRange"),
        ({"page": 10**6}, "PageOutOfRange"),
        ({"sort": "likes"}, "BadSort"),
        ({"release": "maybe"}, "BadFilter"),
        ({"license": "x" * 65}, "BadFilter"),
        ({"team": "a\x00b"}, "BadFilter"),
        ({"query": "모델 " * 100}, "SearchTooLong"),
    ],
)
def test_bad_parameters_are_refused_with_a_hint(world: Runtime, kw: dict[str, Any], code: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        page(world, **kw)
    assert raised.value.code == code and raised.value.hint


def test_private_repos_only_for_who_may_see_them(world: Runtime) -> None:
    assert "lab/secret" not in ids(page(world, page_size=100))
    assert "lab/secret" not in ids(page(world, user="carol", page_size=100))  # not in lab
    assert "lab/secret" in ids(page(world, user="bob", page_size=100))  # lab member
    assert "lab/secret" in ids(page(world, user="alice", page_size=100))
    assert page(world, query="비밀").total == 0
    assert ids(page(world, user="bob", query="비밀")) == ["lab/secret"]


def test_private_derivatives_are_not_counted_for_outsiders(world: Runtime) -> None:
    make(world, "lab/hidden-ft", card={"base_model": "org-a/hangul-7b"}, private=True, author="alice")
    [public_view] = [i for i in page(world).items if i.id == "org-a/hangul-7b"]
    [member_view] = [i for i in page(world, user="bob").items if i.id == "org-a/hangul-7b"]
    assert public_view.derivatives == 2 and member_view.derivatives == 3
    dataset = page(world, repo_type="dataset").items[0]
    assert dataset.id == "lab/photos" and dataset.derivatives == 1  # lab/vision-base names it in datasets


def test_the_json_api_is_the_page_data(world: Runtime, client: httpx.Client, users: Any) -> None:
    response = client.get("/api/web/models", params={"q": "hangul", "license": "apache-2.0", "page_size": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2 and body["pages"] == 2 and [i["id"] for i in body["items"]] == ["org-b/hangul-7b-q4"]
    assert body["items"][0]["team"]["name"] == "Team B" and body["facets"]["releases"]
    assert body == page(world, query="hangul", license="apache-2.0", page_size=1).model_dump(mode="json")
    datasets = client.get("/api/web/datasets", params={"facets": "false"}).json()
    assert [i["id"] for i in datasets["items"]] == ["lab/photos"] and datasets["facets"] is None
    as_bob = client.get("/api/web/models", params={"page_size": 100}, headers=users.headers("bob")).json()
    assert "lab/secret" in [i["id"] for i in as_bob["items"]]
    anonymous = client.get("/api/web/models", params={"page_size": 100}).json()
    assert "lab/secret" not in [i["id"] for i in anonymous["items"]]


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "1000"},
        {"page": "-1"},
        {"q": "x" * 5000},
        {"sort": "downloads; DROP TABLE repos"},
        {"license": "y" * 500},
        {"page": "abc"},
    ],
)
def test_the_json_api_refuses_unbounded_requests(world: Runtime, client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/api/web/models", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["hint"]


@pytest.mark.parametrize("query", ["%", "_", "' OR '1'='1", '"', "\\", "을를", "🙂", "\x00%"])
def test_hostile_searches_through_the_api(world: Runtime, client: httpx.Client, query: str) -> None:
    response = client.get("/api/web/models", params={"q": query})
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


def test_server_timing_is_added_only_when_enabled(runtime: Runtime, client: httpx.Client) -> None:
    from fastapi.testclient import TestClient

    from baton.app import create_app

    assert "server-timing" not in client.get("/api/web/models").headers
    runtime.settings.server_timing = True
    with TestClient(create_app(runtime=runtime), base_url="http://testserver") as timed:
        header = timed.get("/api/web/models").headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d\d", header)
        assert timed.get("/no/such/page").headers["server-timing"].startswith("app;dur=")
