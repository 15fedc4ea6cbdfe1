"""The site's one Jinja2 environment and the one way to draw a page.

Every page is a template in ``web/templates/`` that extends ``base.html`` (the layout: header with
the site's name, navigation, search box, language switch and sign-in; main; footer). Autoescaping is
on for everything. Text is translated through the gettext catalogues of :mod:`baton.web.i18n`:
``{% trans %}`` blocks and ``_()`` in templates pick the page's language from the ``lang`` variable.

Links are built from route names (``path_for("commons_page")``), and static files carry their
content hash (``static_url("baton.css")``) so browsers may keep them for a year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, pass_context
from jinja2.runtime import Context
from starlette.routing import NoMatchFound, Router

from baton.accounts.http import page_csrf_token
from baton.core.errors import PermissionDeniedError
from baton.web import i18n, messages, static
from baton.web.i18n import N_

# Pages may use what they load from here only: no script, style, font or image from another site,
# no framing, forms only back to Baton. The API docs (``baton.web.api_docs``) add their inline script.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages name the signed-in person and follow the language cookie: never shared caches.
    "Cache-Control": "private, no-cache",
    "Vary": "Cookie, Accept-Language",
}


@dataclass(frozen=True)
class NavItem:
    route: str  # the route's name; the fallback path is used until a route of that name exists
    fallback: str
    label: str


# The site's navigation. A route named here that does not exist (yet) is linked by its fallback path.
NAVIGATION: Final = (
    NavItem("home", "/", N_("Home")),
    NavItem("models_page", "/models", N_("Models")),
    NavItem("datasets_page", "/datasets", N_("Datasets")),
    NavItem("challenges_page", "/#challenges", N_("Challenges")),
    NavItem("commons_page", "/commons", N_("Commons")),
    NavItem("talent_home", "/talent", N_("Talent")),
)
# Where the header's search box sends its query (GET, parameter ``search``): the model listing, which
# also says how many datasets match (``baton.web.listing_pages``).
SEARCH_ROUTE: Final = NavItem("models_page", "/models", N_("Search models and datasets"))


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.translations(i18n.checked_language(context.get("lang"))).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return i18n.translations(i18n.checked_language(context.get("lang"))).ngettext(singular, plural, count)


@pass_context
def _say(context: Context, table: str, value: str) -> str:
    return messages.say(i18n.checked_language(context.get("lang")), table, value)


@pass_context
def _hold_reason(context: Context, kind: str) -> str:
    return messages.hold_reason(i18n.checked_language(context.get("lang")), kind)


@pass_context
def _scan_text(context: Context, format: str, description: str) -> str:
    return messages.scan_text(i18n.checked_language(context.get("lang")), format, description)


@cache
def environment() -> Environment:
    """The site's one template environment (autoescaped, i18n through the catalogues)."""
    env = Environment(
        loader=PackageLoader("baton.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # whitespace inside {% trans %} is collapsed, as extracted
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(path_for=_path_for, static_url=_static_url, language_names=i18n.LANGUAGE_NAMES)
    # Codes of the domains in the page's language (``baton.web.messages``): say("verdict", "derived").
    env.globals.update(say=_say, hold_reason=_hold_reason, scan_text=_scan_text)
    return env


# --------------------------------------------------------------------------------------------- links


@cache
def _web_routes() -> Router:
    """The web layer's routes, to name paths when a page is drawn without a request (tests, files)."""
    from baton.web.domain import CATCH_ALL, routers

    return Router(routes=[route for router in [*routers(), *CATCH_ALL] for route in router.routes])


# Naming a path walks the app's routes (about a millisecond each time, and a page names a dozen):
# each app remembers the paths it named, by route name and parameters, up to this many.
PATH_CACHE_SIZE: Final = 4096


def _app_path(request: Request, name: str, params: dict[str, Any]) -> str:
    state = request.app.state
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], str] | None = getattr(state, "baton_paths", None)
    if cache is None:
        cache = state.baton_paths = {}
    key = (name, tuple(sorted((param, str(value)) for param, value in params.items())))
    found = cache.get(key)
    if found is None:
        try:
            found = str(request.app.url_path_for(name, **params))
        except NoMatchFound:
            found = ""  # no route has the name (a navigation item whose page does not exist yet)
        if len(cache) >= PATH_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    if not found:
        raise NoMatchFound(name, params)
    return found


def path_for(request: Request | None, name: str, /, **params: Any) -> str:
    """The path of the route called ``name`` (with the app's root path), or a navigation item's fallback."""
    try:
        if request is None:
            return str(_web_routes().url_path_for(name, **params))
        return str(request.scope.get("root_path", "")) + _app_path(request, name, params)
    except NoMatchFound:
        for item in (*NAVIGATION, SEARCH_ROUTE):
            if item.route == name and not params:
                return (str(request.scope.get("root_path", "")) if request else "") + item.fallback
        raise


@pass_context
def _path_for(context: Context, name: str, /, **params: Any) -> str:
    return path_for(context.get("request"), name, **params)


def static_url(request: Request | None, path: str) -> str:
    """The URL of a file under ``web/static``, versioned by its content (cached for a year)."""
    asset = static.asset(path)
    if asset is None:
        raise LookupError(f"No static file {path!r} under baton/web/static")
    return path_for(request, "static_file", path=path) + "?v=" + asset.version


@pass_context
def _static_url(context: Context, path: str) -> str:
    return static_url(context.get("request"), path)


def with_query(path: str, **params: str | None) -> str:
    kept = {key: value for key, value in params.items() if value is not None}
    return f"{path}?{urlencode(kept)}" if kept else path


MAX_HERE: Final = 2000


def here(request: Request) -> str:
    """This page's path and query without ``lang``: where the language switch comes back to. Past
    ``MAX_HERE`` characters (the sign-in's bound on ``next``), the path alone: a page does not echo a
    huge query back in every link."""
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    path = quote(request.url.path)
    found = path + ("?" + urlencode(query) if query else "")
    return found if len(found) <= MAX_HERE else path


# --------------------------------------------------------------------------------------------- pages


def render(template: str, *, lang: str, request: Request | None = None, **context: Any) -> str:
    """``template`` drawn in ``lang``; without a request, links use the web layer's own routes."""
    lang = i18n.checked_language(lang)
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "ko" else "ko",
        "viewer": None,
        "standalone": False,
        "navigation": NAVIGATION,
        "search_route": SEARCH_ROUTE,
        "current_path": request.url.path if request is not None else None,
        "switch_url": None,
        "htmx": False,
    }
    if request is not None:
        values["switch_url"] = with_query(
            path_for(request, "switch_language", lang=values["other_lang"]), next=here(request)
        )
    values.update(context)
    if values["viewer"] and request is not None and "header_csrf" not in values:
        values["header_csrf"] = _header_csrf(request)
    if values["standalone"]:
        values["inline_css"] = static.asset_text("baton.css")
    return environment().get_template(template).render(values)


def _header_csrf(request: Request) -> str | None:
    """The sign-out button's CSRF value (None when the request has no session to bind it to)."""
    try:
        return page_csrf_token(request)
    except PermissionDeniedError:
        return None


def render_page(
    request: Request,
    template: str,
    *,
    viewer: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the request's language (:func:`baton.web.i18n.page_language`), with the site's headers."""
    page = render(template, lang=i18n.page_language(request), request=request, viewer=viewer, **context)
    return page_response(request, page, status_code=status_code, headers=headers)


def page_response(
    request: Request, page: str, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A drawn page as the answer, with the site's headers; a ``?lang=`` switch is remembered (``baton_lang``)."""
    response = HTMLResponse(page, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
    chosen = i18n.requested_language(request)
    if chosen and request.cookies.get(i18n.LANGUAGE_COOKIE) != chosen:
        remember_language(request, response, chosen)
    return response


def remember_language(request: Request, response: Response, lang: str) -> None:
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        lang,
        max_age=i18n.LANGUAGE_COOKIE_SECONDS,
        path="/",
        samesite="lax",
        httponly=True,
        secure=request.url.scheme == "https",
    )
