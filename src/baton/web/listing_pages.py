"""The models and datasets listing as pages: ``/models`` and ``/datasets``.

Each page is one call of :func:`baton.web.listing.list_page`, the same as its JSON peer
(``/api/web/models``, ``/api/web/datasets``), drawn by ``templates/listing.html``: a plain GET form
(search, the filters with their counts, the sort), the results, the pages. With a search, one
more count says how many repos of the other kind match it (the header's search box lands on
``/models?search=``, so it finds datasets too).

Parameters are read here, not by FastAPI's validation, so that every bad one (an unknown sort, a
page that is no number or is past the last, a search over 200 characters, a filter value no
facet could hold) is said on the page itself, in the page's language, beside the form to fix it.
Every value is cut to ``MAX_PARAM_CHARS`` before anything else reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.accounts.actor import Actor
from baton.core.errors import BadRequestError
from baton.core.http import RuntimeDep
from baton.core.runtime import Runtime
from baton.hub.search import MAX_QUERY_CHARS
from baton.web import listing, messages, templating
from baton.web.i18n import N_, page_language, translate
from baton.web.listing import ListingPage
from baton.web.signin import PageUser

router = APIRouter(include_in_schema=False)

MAX_PARAM_CHARS: Final = 4 * MAX_QUERY_CHARS
MAX_NUMBER_DIGITS: Final = 9
PAGE_WINDOW: Final = 2  # page links on each side of the current one
FILTERS: Final = ("kind", "license", "team", "stage", "release")
OTHER: Final = {"model": "dataset", "dataset": "model"}
ROUTES: Final = {"model": "models_page", "dataset": "datasets_page"}
REPO_ROUTES: Final = {"model": "model_page", "dataset": "dataset_page"}
_NAMESPACE, _NAME = "\x00namespace\x00", "\x00name\x00"  # no repo name can hold them

SORT_LABELS: Final = {
    "relevance": N_("Best match"),
    "downloads": N_("Most downloaded"),
    "derivatives": N_("Most built on"),
    "evaluations": N_("Most evaluated"),
    "modified": N_("Recently modified"),
    "name": N_("Name"),
}
FILTER_LABELS: Final = {
    "kind": N_("Kind"),
    "license": N_("License"),
    "team": N_("Team"),
    "stage": N_("Stage"),
    "release": N_("Release state"),
}
VARIANT_KIND_OPTION: Final = N_("variant: %(kind)s")
RELEASE_LABELS: Final = {
    "released": N_("Released"),
    "held": N_("Held back"),
    "not_released": N_("Not released"),
}
# What a refused parameter means to the person who sent it, by the service's error code.
PROBLEMS: Final = {
    "SearchTooLong": N_("The search is too long: use at most %(max)s characters, a few words are enough."),
    "BadSort": N_("“%(value)s” is not a way to sort this list. Pick one from the sort list."),
    "BadFilter": N_("A filter value is not one this list has. Pick the filters from their lists."),
    "BadPage": N_("“%(value)s” is not a page number. Pages are numbered from 1."),
    "PageOutOfRange": N_(
        "Page %(value)s is too deep: the list goes %(max)s results deep. Narrow the search or the filters instead."
    ),
    "BadPageSize": N_("A page shows between 1 and %(max)s results."),
}


@dataclass(frozen=True)
class Asked:
    """What the request asked for, each value cut to ``MAX_PARAM_CHARS`` (None: not given or empty)."""

    search: str | None
    filters: dict[str, str | None]
    sort: str | None
    page: str | None
    page_size: str | None


def _param(request: Request, *names: str) -> str | None:
    for name in names:
        value = request.query_params.get(name)
        if value is not None and value.strip():
            return value[:MAX_PARAM_CHARS]
    return None


def _asked(request: Request) -> Asked:
    return Asked(
        search=_param(request, "search", "q"),  # the header's box sends search=, the JSON API's peer q=
        filters={name: _param(request, name) for name in FILTERS},
        sort=_param(request, "sort"),
        page=_param(request, "page"),
        page_size=_param(request, "page_size"),
    )


def _number(value: str | None, default: int, code: str) -> int:
    if value is None:
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_NUMBER_DIGITS or int(text) < 1:
        raise BadRequestError(f"Not a number from 1: {text[:40]!r}", code=code)
    return int(text)


def _problem(lang: str, error: BadRequestError, asked: Asked) -> str:
    code = error.code
    message = PROBLEMS.get(code)
    if message is None:
        return messages.error_text(lang, error)
    value = {"BadSort": asked.sort, "BadPage": asked.page, "PageOutOfRange": asked.page}.get(code) or ""
    bound = {
        "SearchTooLong": MAX_QUERY_CHARS,
        "PageOutOfRange": listing.MAX_OFFSET,
        "BadPageSize": listing.MAX_PAGE_SIZE,
    }.get(code, 0)
    return translate(lang, message, value=value.strip()[:40], max=bound)


class _Links:
    """Links to this listing that keep the query (search, filters, sort, page size) but what they change."""

    def __init__(self, path: str, kept: dict[str, str | None]) -> None:
        self.path, self.kept = path, kept

    def __call__(self, **changes: str | int | None) -> str:
        merged: dict[str, str | int | None] = {**self.kept, **changes}
        pairs = [
            (key, str(value))
            for key, value in merged.items()
            if value is not None and value != "" and not (key == "page" and value == 1)
        ]
        return self.path + ("?" + urlencode(pairs) if pairs else "")


def _pages(result: ListingPage, link: _Links) -> list[dict[str, Any]]:
    """Page links: the first, the last, and ``PAGE_WINDOW`` around the current one (None: a gap)."""
    if result.pages <= 1:
        return []
    shown = {1, result.pages, *range(result.page - PAGE_WINDOW, result.page + PAGE_WINDOW + 1)}
    entries: list[dict[str, Any]] = []
    previous = 0
    for number in sorted(n for n in shown if 1 <= n <= result.pages):
        if number > previous + 1:
            entries.append({"gap": True})
        entries.append({"gap": False, "number": number, "url": link(page=number), "current": number == result.page})
        previous = number
    return entries


def _filters(lang: str, result: ListingPage, link: _Links) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the filter selects with their options and counts, the filters set with a link that removes each)."""
    if result.facets is None:
        return [], []
    facets = result.facets
    by_name = {
        "kind": facets.kinds,
        "license": facets.licenses,
        "team": facets.teams,
        "stage": facets.stages,
        "release": facets.releases,
    }
    selects, active = [], []
    for name in FILTERS:
        options = []
        for value in by_name[name]:
            label = value.label or value.value
            if name == "release":
                label = translate(lang, RELEASE_LABELS[value.value])
            elif name == "kind" and value.value in messages.VARIANT_KINDS:
                # A variant's kind (quantized, onnx, ...): the word in the page's language, and the value.
                label = translate(lang, VARIANT_KIND_OPTION, kind=messages.say(lang, "variant_kind", value.value))
            options.append({"value": value.value, "label": label, "count": value.count, "selected": value.selected})
            if value.selected:
                title = translate(lang, FILTER_LABELS[name])
                active.append({"name": name, "label": title, "value": label, "remove": link(**{name: None})})
        if options:
            selects.append({"name": name, "label": translate(lang, FILTER_LABELS[name]), "options": options})
    return selects, active


def _repo_links(request: Request, result: ListingPage) -> dict[str, str]:
    """Each row's repo page (``model_page`` or ``dataset_page``): the route is named once a page, with
    markers filled in per row, as naming a path costs about a millisecond."""
    pattern = templating.path_for(request, REPO_ROUTES[result.repo_type], namespace=_NAMESPACE, name=_NAME)
    before, rest = pattern.split(_NAMESPACE)
    between, after = rest.split(_NAME)
    return {
        item.id: before + quote(item.namespace, safe="") + between + quote(item.name, safe="") + after
        for item in result.items
    }


def _read(runtime: Runtime, user: Actor | None, repo_type: str, asked: Asked) -> tuple[ListingPage, int]:
    """The listing's one service call (the JSON API's), and with a search how many of the other kind match."""
    page = _number(asked.page, 1, "BadPage")
    page_size = _number(asked.page_size, listing.DEFAULT_PAGE_SIZE, "BadPageSize")
    if not 1 <= page_size <= listing.MAX_PAGE_SIZE:
        raise BadRequestError(f"page_size {page_size} is out of range", code="BadPageSize")
    chosen = asked.filters
    with runtime.database.session() as session:
        result = listing.list_page(
            session,
            user,
            repo_type,
            query=asked.search,
            kind=chosen["kind"],
            license=chosen["license"],
            team=chosen["team"],
            stage=chosen["stage"],
            release=chosen["release"],
            sort=asked.sort,
            page=page,
            page_size=page_size,
        )
        other = 0
        if result.query is not None:
            other = listing.count_matching(session, user, OTHER[repo_type], result.query)
    return result, other


def _results(request: Request, result: ListingPage, other: int, asked: Asked, path: str) -> dict[str, Any]:
    """What the page draws of a listing: the form's choices, the links that keep the query, the pages."""
    lang = page_language(request)
    kept: dict[str, str | None] = {"search": result.query, **result.filters.model_dump()}
    if asked.sort is not None:
        kept["sort"] = result.sort
    if result.page_size != listing.DEFAULT_PAGE_SIZE:
        kept["page_size"] = str(result.page_size)
    link = _Links(path, kept)
    selects, active = _filters(lang, result, link)
    context: dict[str, Any] = {
        "links": _repo_links(request, result),
        "selects": selects,
        "active": active,
        "pages": _pages(result, link),
        "prev_url": link(page=result.page - 1) if 1 < result.page <= result.pages else None,
        "next_url": link(page=result.page + 1) if result.page < result.pages else None,
        "sorts": [
            key
            for key in listing.SORTS
            if (key != "relevance" or result.query) and (key != "evaluations" or result.repo_type == "model")
        ],
        "page_size": result.page_size if result.page_size != listing.DEFAULT_PAGE_SIZE else None,
        "clear_url": _Links(path, {"search": result.query})(),
        "beyond": None,
    }
    if result.page > 1 and result.page > result.pages:
        context["beyond"] = {"last": result.pages, "url": link(page=max(result.pages, 1))}
    if result.query is not None:
        other_path = templating.path_for(request, ROUTES[OTHER[result.repo_type]])
        context["other"] = {"count": other, "url": _Links(other_path, {"search": result.query})()}
    return context


def listing_page(request: Request, runtime: Runtime, user: Actor | None, repo_type: str) -> HTMLResponse:
    """The page of ``repo_type`` (``model`` or ``dataset``); a bad parameter is said on it (400), a page
    past the last too (404)."""
    lang = page_language(request)
    asked = _asked(request)
    path = templating.path_for(request, ROUTES[repo_type])
    context: dict[str, Any] = {
        "repo_type": repo_type,
        "models": repo_type == "model",
        "path": path,
        "problem": None,
        "result": None,
        "search_value": (asked.search or "")[:MAX_QUERY_CHARS],
        "max_query": MAX_QUERY_CHARS,
        "sort_labels": {key: translate(lang, label) for key, label in SORT_LABELS.items()},
        "release_labels": {key: translate(lang, label) for key, label in RELEASE_LABELS.items()},
        "selects": [],
        "active": [],
        "pages": [],
        "beyond": None,
    }
    status = 200
    try:
        result, other = _read(runtime, user, repo_type, asked)
    except BadRequestError as error:
        context["problem"] = _problem(lang, error, asked)
        status = 400
    else:
        context.update(result=result, **_results(request, result, other, asked, path))
        status = 404 if context["beyond"] else 200
    return templating.render_page(
        request, "listing.html", viewer=user.name if user else None, status_code=status, **context
    )


@router.get("/models", name="models_page", response_class=HTMLResponse)
def models_page(request: Request, runtime: RuntimeDep, user: PageUser) -> HTMLResponse:
    """The models listing: search, filters, sort and pages (the data of ``/api/web/models``)."""
    return listing_page(request, runtime, user, "model")


@router.get("/datasets", name="datasets_page", response_class=HTMLResponse)
def datasets_page(request: Request, runtime: RuntimeDep, user: PageUser) -> HTMLResponse:
    """The datasets listing: search, filters, sort and pages (the data of ``/api/web/datasets``)."""
    return listing_page(request, runtime, user, "dataset")
