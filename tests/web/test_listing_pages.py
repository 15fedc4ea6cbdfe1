"""The ``/models`` and ``/datasets`` pages on both databases, asked for as a browser does (``Accept:
text/html``): search in Korean and English, each filter and sort, pages, the empty state, bad
parameters said on the page, who sees what, both languages, and the statements one page costs."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import event

from baton.core.runtime import Runtime
from baton.web import catalogues, i18n

from .listing_support import build_world, make
from .repo_support import BROWSER, browser

KOREAN = BROWSER | {"Accept-Language": "ko"}
ENGLISH = BROWSER | {"Accept-Language": "en"}


@pytest.fixture
def world(runtime: Runtime, users: Any) -> Runtime:
    return build_world(runtime)


@pytest.fixture
def anonymous(world: Runtime) -> Iterator[httpx.Client]:
    with browser(world) as client:
        yield client


def listed(page: str) -> list[str]:
    """The repos the page lists, in order."""
    return re.findall(r'<li class="listing-item card" data-repo="([^"]+)"', page)


def total(page: str) -> int:
    found = re.search(r'id="result-total" data-total="(\d+)"', page)
    assert found, "the page shows no total"
    return int(found.group(1))


def selected(page: str, select_id: str) -> str | None:
    """The value chosen in the select ``select_id`` (None: nothing marked)."""
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert block, f"no select {select_id}"
    chosen = re.search(r'<option value="([^"]*)" selected>', block.group(1))
    return html.unescape(chosen.group(1)) if chosen else None


def options(page: str, select_id: str) -> dict[str, str]:
    """value → the option's text (with its count) of the select ``select_id``."""
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert block, f"no select {select_id}"
    found = re.findall(r'<option value="([^"]*)"(?: selected)?>([^<]*)</option>', block.group(1))
    return {html.unescape(value): html.unescape(text) for value, text in found}


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(html.unescape(url)).query))


def get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    response = client.get(path, params=params) if params else client.get(path)
    assert response.status_code < 500, response.text
    return response


# --------------------------------------------------------------------------------------------- search


def test_korean_search_finds_words_inside_particles(anonymous: httpx.Client) -> None:
    # The card says "한국어 언어모델을": Kiwi's morphemes let "언어 모델" find it.
    response = get(anonymous, "/models", search="언어 모델")
    assert response.status_code == 200
    page = response.text
    assert listed(page) == ["org-a/hangul-7b"] and total(page) == 1
    assert 'href="/org-a/hangul-7b"' in page  # the name links to the repo's page
    assert 'id="listing-search" name="search" value="언어 모델"' in page  # the field keeps the search
    assert selected(page, "listing-sort") == "relevance"
    assert "언어 · 모델" in page  # the words looked for
    # The JSON API's parameter name works too (the benchmark's page URLs use it).
    assert listed(get(anonymous, "/models", q="언어모델을").text) == ["org-a/hangul-7b"]
    assert listed(get(anonymous, "/datasets", search="고양이 사진은").text) == ["lab/photos"]


def test_english_search_and_the_other_kind(anonymous: httpx.Client) -> None:
    page = get(anonymous, "/models", search="quantized build").text
    assert listed(page) == ["org-b/hangul-7b-q4"]
    assert listed(get(anonymous, "/models", search="hangul").text) == ["org-b/hangul-7b-q4", "org-a/hangul-7b"]
    # The header's search box lands on /models: datasets matching the search are offered.
    image = get(anonymous, "/models", search="image").text
    assert listed(image) == ["lab/vision-base"]
    link = re.search(r'<p class="listing-other" id="other-kind"><a href="([^"]+)">([^<]+)</a>', image)
    assert link and "1" in link.group(2)
    assert urlsplit(html.unescape(link.group(1))).path == "/datasets" and query_of(link.group(1)) == {"search": "image"}
    assert listed(get(anonymous, html.unescape(link.group(1))).text) == ["lab/photos"]
    assert 'id="other-kind"' not in get(anonymous, "/models", search="hangul").text  # no dataset matches


def test_the_header_search_box_goes_to_the_models_page(anonymous: httpx.Client) -> None:
    page = get(anonymous, "/datasets").text
    form = re.search(r'<form class="search" role="search" method="get" action="([^"]+)">', page)
    assert form and form.group(1) == "/models"
    assert '<input type="search" id="site-search" name="search"' in page


# --------------------------------------------------------------------------------------------- filters


FILTERS = [
    ({"kind": "text-generation"}, ["org-b/hangul-7b-q4", "org-a/hangul-7b"]),
    ({"kind": "quantized"}, ["org-b/hangul-7b-q4"]),
    ({"license": "mit"}, ["lab/vision-base", "bob/chat-ft"]),
    ({"team": "org-a"}, ["org-a/hangul-7b"]),
    ({"stage": "stage-1"}, ["org-b/hangul-7b-q4", "org-a/hangul-7b"]),
    ({"release": "released"}, ["org-b/hangul-7b-q4"]),
    ({"release": "held"}, ["org-a/hangul-7b"]),
    ({"release": "not_released"}, ["lab/vision-base", "bob/chat-ft"]),
    ({"license": "apache-2.0", "team": "org-b", "search": "hangul"}, ["org-b/hangul-7b-q4"]),
]


def test_each_filter(anonymous: httpx.Client) -> None:
    everything = get(anonymous, "/models").text
    # The filter form is drawn from the facets, with their counts.
    assert options(everything, "filter-license") == {"": "전체", "apache-2.0": "apache-2.0 (2)", "mit": "mit (2)"}
    assert options(everything, "filter-team") == {"": "전체", "org-a": "Team A (1)", "org-b": "Team B (1)"}
    assert options(everything, "filter-stage") == {"": "전체", "stage-1": "stage-1 (2)"}
    assert options(everything, "filter-release")["held"] == "보류됨 (1)"
    # base_model_relation quantized: a quantized variant's kind, in the page's language (issue 19)
    assert options(everything, "filter-kind")["quantized"] == "변형: 양자화 (1)"
    for params, expected in FILTERS:
        page = get(anonymous, "/models", **params).text
        assert listed(page) == expected, params
        assert total(page) == len(expected)
        for name, value in params.items():
            if name == "search":
                continue
            assert selected(page, f"filter-{name}") == value, (params, name)
            # each filter set is shown with a link that removes it and keeps the rest
            chip = re.search(rf'<a class="tag" href="([^"]+)" data-filter="{name}">', page)
            assert chip, (params, name)
            assert query_of(chip.group(1)) == {k: v for k, v in params.items() if k != name}
    # Empty values (the form's "Any") are no filter.
    assert listed(get(anonymous, "/models", kind="", license="", team="", stage="", release="").text) == listed(
        everything
    )
    assert listed(get(anonymous, "/datasets", kind="image-classification").text) == ["lab/photos"]


# --------------------------------------------------------------------------------------------- sorts


SORTS = {
    "downloads": ["org-b/hangul-7b-q4", "org-a/hangul-7b", "lab/vision-base", "bob/chat-ft"],
    "derivatives": ["org-a/hangul-7b", "org-b/hangul-7b-q4", "lab/vision-base", "bob/chat-ft"],
    "evaluations": ["org-a/hangul-7b", "org-b/hangul-7b-q4", "lab/vision-base", "bob/chat-ft"],
    "modified": ["org-a/hangul-7b", "org-b/hangul-7b-q4", "lab/vision-base", "bob/chat-ft"],
    "name": ["bob/chat-ft", "lab/vision-base", "org-a/hangul-7b", "org-b/hangul-7b-q4"],
}


def test_each_sort(anonymous: httpx.Client) -> None:
    plain = get(anonymous, "/models").text
    assert selected(plain, "listing-sort") == "downloads"
    assert "relevance" not in options(plain, "listing-sort")  # only with a search
    for sort, expected in SORTS.items():
        page = get(anonymous, "/models", sort=sort).text
        assert listed(page) == expected, sort
        assert selected(page, "listing-sort") == sort
    searched = get(anonymous, "/models", search="hangul", sort="name").text
    assert listed(searched) == ["org-a/hangul-7b", "org-b/hangul-7b-q4"]
    assert "relevance" in options(searched, "listing-sort")
    # the counts each sort orders by are on the rows
    base = re.search(r'data-repo="org-a/hangul-7b">(.*?)</li>', plain, re.S)
    assert base
    assert "파생 저장소 2개" in base.group(1) and "평가 3회" in base.group(1) and "내려받기 50회" in base.group(1)
    assert "Team A · stage-1" in base.group(1) and "보류됨" in base.group(1) and "apache-2.0" in base.group(1)
    datasets = get(anonymous, "/datasets").text
    assert "evaluations" not in options(datasets, "listing-sort")  # datasets are not evaluated


# --------------------------------------------------------------------------------------------- pages


def _page_links(page: str) -> dict[str, str]:
    """label → href of the pagination's links ("prev", "next", page numbers)."""
    nav = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', page, re.S)
    assert nav, "no pagination"
    links = {}
    for href, attributes, text in re.findall(r'<a href="([^"]+)"([^>]*)>([^<]+)</a>', nav.group(1)):
        label = "prev" if 'rel="prev"' in attributes else "next" if 'rel="next"' in attributes else text
        links[label] = href
    return links


def test_pagination_links_keep_the_query(world: Runtime, anonymous: httpx.Client) -> None:
    first = get(anonymous, "/models", sort="name", page_size="1", license="", search="").text
    assert listed(first) == ["bob/chat-ft"] and total(first) == 4
    links = _page_links(first)
    assert set(links) == {"1", "2", "3", "4", "next"}
    assert query_of(links["next"]) == {"sort": "name", "page_size": "1", "page": "2"}
    assert query_of(links["1"]) == {"sort": "name", "page_size": "1"}  # page 1 needs no number
    assert re.search(r'<a href="[^"]+" aria-current="page" aria-label="1쪽">1</a>', first)
    second = get(anonymous, html.unescape(links["next"])).text
    assert listed(second) == ["lab/vision-base"]
    links = _page_links(second)
    assert query_of(links["prev"]) == {"sort": "name", "page_size": "1"}
    assert query_of(links["next"])["page"] == "3"
    assert re.search(r'aria-current="page" aria-label="2쪽">2</a>', second)
    assert 'name="page_size" value="1"' in second  # the form keeps the page size too
    # with a search and a filter, every link keeps them
    searched = get(anonymous, "/models", search="hangul", license="apache-2.0", page_size="1").text
    for href in _page_links(searched).values():
        kept = query_of(href)
        assert kept["search"] == "hangul" and kept["license"] == "apache-2.0" and kept["page_size"] == "1"
    # far pages: the first, the last, and two around the current one, gaps between
    for index in range(6):
        make(world, f"bob/extra-{index}", card={"license": "mit"})
    tenth = get(anonymous, "/models", page_size="1", page="6").text
    numbers = [label for label in _page_links(tenth) if label.isdigit()]
    assert numbers == ["1", "4", "5", "6", "7", "8", "10"] and tenth.count('class="gap"') == 2


def test_the_empty_state_says_what_to_try(anonymous: httpx.Client) -> None:
    response = get(anonymous, "/models", search="없는낱말", license="mit")
    page = response.text
    assert response.status_code == 200 and listed(page) == [] and total(page) == 0
    assert 'id="listing-empty"' in page and "맞는 모델이 없습니다." in page
    without = re.search(r'<li><a href="([^"]+)">필터 라이선스: mit 없이 보기</a>', page)
    assert without and query_of(without.group(1)) == {"search": "없는낱말"}
    assert 'href="/datasets?search=' in page  # the same search among the datasets
    english = anonymous.get("/datasets", params={"search": "nothing-here"}, headers=ENGLISH).text
    assert "No datasets match." in english and "the same search among the models" in english


# --------------------------------------------------------------------------------------------- bad input


BAD = [
    ({"sort": "likes"}, 400, "“likes” is not a way to sort this list"),
    ({"sort": "<script>alert(1)</script>"}, 400, "“&lt;script&gt;alert(1)&lt;/script&gt;” is not a way to sort"),
    ({"page": "0"}, 400, "“0” is not a page number"),
    ({"page": "abc"}, 400, "“abc” is not a page number"),
    ({"page": "-3"}, 400, "“-3” is not a page number"),
    ({"page": "9" * 40}, 400, "is not a page number"),
    ({"page": "1e9"}, 400, "“1e9” is not a page number"),
    ({"page": "5000"}, 400, "Page 5000 is too deep"),
    ({"page": "7"}, 404, "There is no page 7: the results end at page 1."),
    ({"page_size": "0"}, 400, "A page shows between 1 and 100 results."),
    ({"page_size": "1000"}, 400, "A page shows between 1 and 100 results."),
    ({"search": "모델 " * 100}, 400, "The search is too long: use at most 200 characters"),
    ({"search": "x" * 50_000}, 400, "The search is too long"),
    ({"license": "y" * 500}, 400, "A filter value is not one this list has."),
    ({"release": "maybe"}, 400, "A filter value is not one this list has."),
    ({"team": "a\x00b"}, 400, "A filter value is not one this list has."),
]


def test_bad_parameters_are_said_on_the_page(anonymous: httpx.Client) -> None:
    for params, status, message in BAD:
        response = anonymous.get("/models", params=params, headers=ENGLISH)
        assert response.status_code == status, (params, response.text[-800:])
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text, (params, response.text[-1500:])
        assert 'id="listing-form"' in response.text  # the form to fix it is there
        assert "<script>alert" not in response.text
        assert len(response.text) < 40_000  # a long value is not echoed back whole
    korean = anonymous.get("/models", params={"sort": "likes"}, headers=KOREAN)
    assert korean.status_code == 400 and "“likes”(으)로는 이 목록을 정렬할 수 없습니다" in korean.text
    assert 'id="listing-reset"' in korean.text


# --------------------------------------------------------------------------------------------- who sees what


def test_a_private_repo_only_for_who_may_see_it(world: Runtime, anonymous: httpx.Client) -> None:
    for client, sees in ((anonymous, False), (browser(world, "carol"), False), (browser(world, "bob"), True)):
        page = get(client, "/models", sort="name").text
        assert ("lab/secret" in page) is sees
        assert total(page) == (5 if sees else 4)
        assert ("mit (3)" in options(page, "filter-license").values()) is sees  # counts follow what one may see
        searched = get(client, "/models", search="비밀").text
        assert listed(searched) == (["lab/secret"] if sees else [])
    bob = get(browser(world, "bob"), "/models", search="비밀").text
    row = re.search(r'data-repo="lab/secret">(.*?)</li>', bob, re.S)
    assert row and 'class="tag badge-private">비공개' in row.group(1)


def test_a_teams_private_entry_is_never_named_to_outsiders(world: Runtime, anonymous: httpx.Client) -> None:
    make(
        world,
        "org-a/sealed-entry-zq",
        card={"license": "apache-2.0"},
        body="언어 모델 제출물\n",
        private=True,
        author="carol",
    )
    make(world, "org-a/sealed-data-zq", repo_type="dataset", body="언어 모델 데이터\n", private=True, author="carol")
    for path, params in (
        ("/models", {}),
        ("/models", {"search": "zq"}),  # a part of its name
        ("/models", {"search": "언어 모델"}),
        ("/models", {"team": "org-a", "sort": "name"}),
        ("/datasets", {"search": "언어 모델"}),
    ):
        page = get(anonymous, path, **params).text
        assert "sealed" not in page, (path, params)
    # nor counted: on /models the private dataset is no "also 1 dataset", on /datasets one model matches
    assert 'id="other-kind"' not in get(anonymous, "/models", search="언어 모델").text
    assert "이 검색에 맞는 모델도 1개 있습니다" in get(anonymous, "/datasets", search="언어 모델").text
    assert options(get(anonymous, "/models").text, "filter-team")["org-a"] == "Team A (1)"
    member = get(browser(world, "carol"), "/models", search="언어 모델").text
    assert "org-a/sealed-entry-zq" in listed(member) and 'id="other-kind"' in member


# --------------------------------------------------------------------------------------------- languages


DATA_WORDS = {"Team"}  # in the world's team names ("Team A"): data, not a message


def _listing_messages() -> list[str]:
    """The messages of the listing's template and page code that Korean words differently."""
    used = catalogues.extract()
    mine = []
    for singular, entry in used.items():
        if not any(where in ("templates/listing.html", "listing_pages.py") for where, _ in entry.locations):
            continue
        if "%" in singular or isinstance(entry.id, tuple):
            continue
        if i18n.translate("ko", singular) != singular and singular not in DATA_WORDS:
            mine.append(singular)
    return mine


def test_both_languages_render_with_nothing_untranslated(anonymous: httpx.Client) -> None:
    messages = _listing_messages()
    assert "Sort by" in messages and "Filters" in messages and "Most downloaded" in messages
    korean_pages = [
        anonymous.get("/models", params={"search": "hangul", "license": "apache-2.0", "page_size": "1"}).text,
        anonymous.get("/models", params={"search": "없는낱말", "license": "mit"}).text,
        anonymous.get("/datasets", params={"sort": "bogus"}).text,
    ]
    for page in korean_pages:
        assert '<html lang="ko">' in page
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.split('<main id="main"')[1]))
        leaked = [message for message in messages if message in text]
        assert leaked == [], leaked
    english = anonymous.get("/models", params={"search": "hangul", "page_size": "1"}, headers=ENGLISH).text
    assert '<html lang="en">' in english
    for words in ("Search models", "Sort by", "Best match", "Results for “hangul”", "2 models", "Next", "Filters"):
        assert words in english, words
    assert "정렬" not in english and "결과" not in english


# --------------------------------------------------------------------------------------------- cost


def _statements(runtime: Runtime, client: httpx.Client, path: str, params: dict[str, str]) -> int:
    counted: list[str] = []

    def count(*args: Any) -> None:
        counted.append(str(args[2]))

    engine = runtime.database.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path, params=params)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.text
    return len([statement for statement in counted if statement.lstrip().upper().startswith(("SELECT", "WITH"))])


def test_a_page_costs_its_api_call_and_no_statement_per_row(world: Runtime, anonymous: httpx.Client) -> None:
    for index in range(5):
        make(world, f"bob/more-{index}", card={"license": "mit", "base_model": "org-a/hangul-7b"}, body="hangul\n")
    plain = {"page_size": "100"}
    assert _statements(world, anonymous, "/models", plain) == _statements(world, anonymous, "/api/web/models", plain)
    one_row = _statements(world, anonymous, "/models", {"page_size": "1"})
    all_rows = _statements(world, anonymous, "/models", plain)
    assert one_row == all_rows  # nine rows cost what one does
    searched = {"search": "hangul", "page_size": "100"}
    api = _statements(world, anonymous, "/api/web/models", {"q": "hangul", "page_size": "100"})
    assert _statements(world, anonymous, "/models", searched) == api + 1  # the other kind's count
