"""The hub's search index: Korean by morphemes, English stemmed, tags and card text, kept up to date."""

from __future__ import annotations

from typing import Any

import pytest
from huggingface_hub import HfApi
from sqlalchemy import func, select

from baton.accounts import service as accounts
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.hub import cards, commits, maintenance, repos, search
from baton.hub.models import Repo, RepoTerm


def make(
    runtime: Runtime,
    repo_id: str,
    *,
    card: dict[str, Any] | None = None,
    body: str = "",
    repo_type: str = "model",
    private: bool = False,
    author: str = "bob",
) -> None:
    with runtime.database.session(write=True) as session:
        user = accounts.act_as(session, author)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id(repo_type, repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        if card is not None or body:
            readme = cards.render_card(card or {}, body or f"# {repo_id}\n").encode()
            commits.commit_files(
                session, runtime.store, runtime.settings, user, repo, {"README.md": readme}, title="card"
            )


def found(runtime: Runtime, query: str, *, user: str | None = None, repo_type: str = "model", **kw: Any) -> list[str]:
    with runtime.database.session() as session:
        actor = accounts.act_as(session, user) if user else None
        return [repo.repo_id for repo in repos.list_repos(session, actor, repo_type, search=query, **kw)]


@pytest.fixture
def hub(runtime: Runtime, users: Any) -> Runtime:
    make(
        runtime,
        "lab/hangul-lm",
        card={"license": "apache-2.0", "language": ["ko"], "pipeline_tag": "text-generation"},
        body="# 한빛\n\n이 모델은 한국어 언어모델을 미세조정했습니다. 뉴스 기사를 요약합니다.\n",
    )
    make(
        runtime,
        "bob/vision-net",
        card={"license": "mit", "tags": ["image-classification", "resnet"]},
        body="# Vision\n\nA convolutional network trained on labelled images of cats.\n",
    )
    make(runtime, "bob/summarizer", card={"license": "cc-by-nc-4.0"}, body="Summarizes long documents in English.\n")
    return runtime


def test_korean_query_matches_morphemes_across_particles_and_spacing(hub: Runtime) -> None:
    assert found(hub, "언어 모델") == ["lab/hangul-lm"]  # the card says "언어모델을"
    assert found(hub, "언어모델이") == ["lab/hangul-lm"]  # another particle, no space
    assert found(hub, "요약하는") == ["lab/hangul-lm"]  # "요약합니다": the verb stem
    assert found(hub, "한국어 고양이") == []  # every term must match


def test_english_query_is_stemmed_and_case_folded(hub: Runtime) -> None:
    assert found(hub, "Networks") == ["bob/vision-net"]
    assert found(hub, "labelled image") == ["bob/vision-net"]
    assert found(hub, "summarizes document") == ["bob/summarizer"]


def test_tags_license_and_language_match(hub: Runtime) -> None:
    assert found(hub, "resnet") == ["bob/vision-net"]
    assert found(hub, "apache-2.0") == ["lab/hangul-lm"]
    assert found(hub, "text generation") == ["lab/hangul-lm"]
    assert found(hub, "ko") == ["lab/hangul-lm"]


def test_a_name_hit_ranks_above_a_card_text_hit(hub: Runtime) -> None:
    make(hub, "bob/cats-classifier", body="Classifies animals.\n")
    # "cats" is in vision-net's card text and in cats-classifier's name
    assert found(hub, "cats") == ["bob/cats-classifier", "bob/vision-net"]


def test_part_of_the_id_as_typed_matches_like_the_hub(hub: Runtime) -> None:
    assert found(hub, "summ") == ["bob/summarizer"]
    assert found(hub, "bob/vis") == ["bob/vision-net"]


def test_filters_are_exact_tags(hub: Runtime) -> None:
    assert found(hub, "", filters=["license:mit"]) == ["bob/vision-net"]
    assert found(hub, "", filters=["image-classification"]) == ["bob/vision-net"]
    assert found(hub, "", filters=["ko", "text-generation"]) == ["lab/hangul-lm"]
    assert found(hub, "", filters=["ko", "license:mit"]) == []


def test_private_repos_are_found_only_by_who_may_see_them(hub: Runtime) -> None:
    make(hub, "lab/secret-model", body="비밀 언어모델\n", private=True, author="alice")
    assert found(hub, "비밀") == []
    assert found(hub, "비밀", user="carol") == []  # not a member of lab
    assert found(hub, "비밀", user="bob") == ["lab/secret-model"]  # a member
    assert found(hub, "비밀", user="alice") == ["lab/secret-model"]


def test_index_follows_commits_moves_visibility_and_deletion(hub: Runtime) -> None:
    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repo = repos.get_repo(session, bob, repos.parse_repo_id("model", "bob/summarizer"))
        readme = cards.render_card({"license": "mit"}, "번역 모델입니다.\n").encode()
        commits.commit_files(session, hub.store, hub.settings, bob, repo, {"README.md": readme}, title="new card")
    assert found(hub, "번역") == ["bob/summarizer"]
    assert found(hub, "documents") == []  # the old card's words are gone
    assert found(hub, "", filters=["license:mit"]) == ["bob/summarizer", "bob/vision-net"]

    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repo = repos.get_repo(session, bob, repos.parse_repo_id("model", "bob/summarizer"))
        commits.commit_files(
            session, hub.store, hub.settings, bob, repo, {}, title="drop card", deletions=["README.md"]
        )
    assert found(hub, "번역") == []

    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repos.move_repo(
            session, bob, repos.parse_repo_id("model", "bob/vision-net"), repos.parse_repo_id("model", "bob/eyes")
        )
    assert found(hub, "vision-net") == []  # ("vision" alone is in its card)
    assert found(hub, "eyes") == ["bob/eyes"]
    assert found(hub, "labelled") == ["bob/eyes"]  # the card text stays with the repo

    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repos.update_settings(session, bob, repos.parse_repo_id("model", "bob/eyes"), private=True)
    assert found(hub, "eyes") == []
    assert found(hub, "eyes", user="bob") == ["bob/eyes"]

    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        pk = repos.get_repo(session, bob, repos.parse_repo_id("model", "bob/eyes")).id
        repos.delete_repo(session, bob, repos.parse_repo_id("model", "bob/eyes"))
    with hub.database.session() as session:
        assert session.scalar(select(func.count()).select_from(RepoTerm).where(RepoTerm.repo_id == pk)) == 0


def test_commits_to_other_branches_leave_the_index_alone(hub: Runtime) -> None:
    with hub.database.session(write=True) as session:
        bob = accounts.act_as(session, "bob")
        repo = repos.get_repo(session, bob, repos.parse_repo_id("model", "bob/summarizer"))
        commits.create_ref(session, repo, "branch", "draft", None)
        readme = cards.render_card({}, "실험 브랜치\n").encode()
        commits.commit_files(
            session, hub.store, hub.settings, bob, repo, {"README.md": readme}, title="draft", branch="draft"
        )
    assert found(hub, "실험") == []
    assert found(hub, "summarizes") == ["bob/summarizer"]


@pytest.mark.parametrize(
    "query",
    ["%", "_", "%_%", "' OR 1=1 --", '"quoted"', "\\", "a\x00b", "을를", "🙂🙂", "../..", "*"],
)
def test_hostile_queries_give_bounded_sane_answers(hub: Runtime, query: str) -> None:
    result = found(hub, query)
    assert result == []  # nothing here has these, and no wildcard matches everything


@pytest.mark.parametrize("query", ["\x00\x01", "    ", "\t\n"])
def test_a_query_of_nothing_is_no_search(hub: Runtime, query: str) -> None:
    assert search.parse_query(query) is None
    assert sorted(found(hub, query)) == ["bob/summarizer", "bob/vision-net", "lab/hangul-lm"]


def test_long_queries_are_refused_and_many_terms_cut(hub: Runtime) -> None:
    with pytest.raises(BadRequestError) as raised:
        found(hub, "모델 " * 200)
    assert raised.value.code == "SearchTooLong" and raised.value.hint
    parsed = search.parse_query(" ".join(f"word{i}" for i in range(30)))
    assert parsed is not None and len(parsed.terms) == search.MAX_QUERY_TERMS


def test_card_text_is_bounded(runtime: Runtime, users: Any) -> None:
    tail = "고양이 " * 10
    body = "데이터 " * (search.MAX_CARD_BYTES // 9) + tail  # the tail lies past the first 64 KiB
    make(runtime, "bob/long-card", body=body)
    assert found(runtime, "데이터") == ["bob/long-card"]
    assert found(runtime, "고양이") == []


def test_reindex_rebuilds_what_was_lost(hub: Runtime) -> None:
    with hub.database.session(write=True) as session:
        session.execute(RepoTerm.__table__.delete())
    assert found(hub, "언어 모델") == []
    report = maintenance.reindex(hub)
    assert report.repos == 3 and report.terms > 0
    assert found(hub, "언어 모델") == ["lab/hangul-lm"]
    assert found(hub, "", filters=["license:mit"]) == ["bob/vision-net"]
    with hub.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Repo)) == 3


@pytest.mark.integration
def test_the_hugging_face_client_searches_through_the_index(hub: Runtime, live_server: Any, users: Any) -> None:
    api = HfApi(endpoint=live_server.url, token=users["carol"])
    assert [m.id for m in api.list_models(search="언어모델")] == ["lab/hangul-lm"]
    assert [m.id for m in api.list_models(search="networks")] == ["bob/vision-net"]
    assert [m.id for m in api.list_models(search="vision")] == ["bob/vision-net"]
    assert [m.id for m in api.list_models(filter="license:mit")] == ["bob/vision-net"]
    assert {m.id for m in api.list_models(search="bob", sort="downloads", limit=5)} == {
        "bob/vision-net",
        "bob/summarizer",
    }
    assert list(api.list_models(search="%")) == []
