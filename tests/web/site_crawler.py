"""A breadth-first crawler of the site's pages for the crawl test: same-origin ``<a href>`` links and the
default submission of ``<form method=get>``, each page checked for its status and its HTML's shape."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from .demo_site import HTML, page_forms

MAX_PAGES = 1500
SKIPPED = ("/logout",)  # signs out (and is a POST form, never a link)
# Files, not pages: checked with HEAD, never downloaded (nor counted as downloads).
DOWNLOADS = ("/resolve/", "/raw/")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements whose end tag HTML lets an author leave out.
OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "colgroup"}
OPTIONAL_END |= {"html", "head", "body"}
RAW_TEXT = {"script", "style"}
# Visited once per path whatever their query: the language switch and the sign-in page (``?next=`` varies).
ONCE_PER_PATH = ("/language/", "/login")


class PageShape(HTMLParser):
    """Links, ``lang``, title, headings and the nesting mistakes of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.lang: str | None = None
        self.title = ""
        self.h1 = 0
        self.problems: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self._in_title = False
        self._raw = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "h1":
            self.h1 += 1
        elif tag == "a" and "href" in values:
            self.links.append(values["href"])
        if tag in RAW_TEXT:
            self._raw = True
        if tag not in VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if tag == "title":
            self._in_title = False
        if tag in RAW_TEXT:
            self._raw = False
        if tag not in self._stack:
            self.problems.append(f"stray </{tag}>")
            return
        while self._stack:
            top = self._stack.pop()
            if top == tag:
                break
            if top not in OPTIONAL_END:
                self.problems.append(f"<{top}> closed by </{tag}>")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._raw:
            self.text.append(data)

    def finish(self) -> None:
        self.close()
        unclosed = [tag for tag in self._stack if tag not in OPTIONAL_END]
        if unclosed:
            self.problems.append(f"never closed: {', '.join(unclosed)}")


@dataclass
class Visit:
    url: str
    status: int
    via: str  # the page that linked here
    final_url: str = ""
    redirects: list[int] = field(default_factory=list)
    content_type: str = ""
    text: str = ""
    links: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)
    seconds: float = 0.0
    truncated: bool = False

    def pages(self) -> list[Visit]:
        return [visit for visit in self.visits if visit.content_type.startswith("text/html")]


def normalise(base: str, href: str, current: str) -> str | None:
    """The absolute same-origin URL of a link, without its fragment and with its query sorted; None to skip."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    absolute = urljoin(current, href)
    parts, origin = urlsplit(absolute), urlsplit(base)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
        return None
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def _key(url: str) -> str:
    parts = urlsplit(url)
    return parts.path if parts.path.startswith(ONCE_PER_PATH) else url


def _get_form_targets(text: str, current: str) -> list[str]:
    targets = []
    for form in page_forms(text):
        if form["method"] != "get":
            continue
        fields = form["fields"]
        assert isinstance(fields, list)
        action = urljoin(current, str(form["action"]) or current)
        targets.append(f"{action.split('?')[0]}?{urlencode([(key, value or '') for key, value in fields])}")
    return targets


def _fetch(client: httpx.Client, url: str, via: str) -> Visit:
    path = urlsplit(url).path
    visit = Visit(url=url, status=0, via=via)
    if any(marker in path for marker in DOWNLOADS):
        response = client.head(url, follow_redirects=True)
    else:
        with client.stream("GET", url, headers=HTML, follow_redirects=True) as streamed:
            visit.content_type = streamed.headers.get("content-type", "")
            if visit.content_type.startswith("text/html"):
                streamed.read()
            response = streamed
    visit.status = response.status_code
    visit.final_url = str(response.url)
    visit.redirects = [step.status_code for step in response.history]
    if visit.content_type.startswith("text/html"):
        visit.text = response.text
    return visit


def crawl(client: httpx.Client, base: str, start: str = "/", max_pages: int = MAX_PAGES) -> Crawl:
    """Every page reachable from ``start`` by links (and GET forms) on ``base``, breadth first."""
    started = time.monotonic()
    result = Crawl()
    first = normalise(base, start, base + "/")
    assert first is not None
    queue: deque[tuple[str, str]] = deque([(first, "(start)")])
    seen = {_key(first)}
    while queue:
        if len(result.visits) >= max_pages:
            result.truncated = True
            break
        url, via = queue.popleft()
        visit = _fetch(client, url, via)
        result.visits.append(visit)
        if not visit.text:
            continue
        shape = PageShape()
        shape.feed(visit.text)
        shape.finish()
        visit.problems = list(shape.problems)
        if not shape.lang:
            visit.problems.append("no <html lang>")
        if not shape.title.strip():
            visit.problems.append("no <title>")
        if shape.h1 != 1:
            visit.problems.append(f"{shape.h1} <h1> elements")
        visit.links = [href for href in shape.links if normalise(base, href, visit.final_url)]
        found = [normalise(base, href, visit.final_url) for href in shape.links]
        found += [normalise(base, target, visit.final_url) for target in _get_form_targets(visit.text, visit.final_url)]
        for target in found:
            if target is None or _key(target) in seen or urlsplit(target).path in SKIPPED:
                continue
            seen.add(_key(target))
            queue.append((target, url))
    result.seconds = time.monotonic() - started
    return result
