"""A repo's card (README.md) as a page shows it: Markdown drawn by markdown-it-py, then sanitized by nh3.

A card is written by whoever may push to the repo, so it is hostile input: the HTML that Markdown
lets through (cards often carry some) and the HTML Markdown makes are both cleaned with an allowlist
of tags and attributes. No script, style, event handler, form, frame, embedded object or
``javascript:``/``data:`` link survives; links keep ``http``, ``https`` and ``mailto`` only, and every
link carries ``rel="nofollow noopener noreferrer"``. Relative links and images point into the repo
(images at its ``resolve`` URLs, links at its file view). The text drawn is bounded
(:data:`MAX_CARD_CHARS`); a longer card is cut and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

MAX_CARD_CHARS: Final = 200_000
MAX_CARD_BYTES: Final = 1024 * 1024  # read at most this much of README.md

ALLOWED_TAGS: Final = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q",
        "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
    "details": {"open"},
}
# Tags dropped with everything inside them (not only the tag).
DROPPED_WITH_CONTENT: Final = frozenset(
    {"script", "style", "iframe", "object", "embed", "form", "noscript", "template"}
)
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class RenderedCard:
    html: Markup
    truncated: bool


def _markdown() -> MarkdownIt:
    # CommonMark with tables and strikethrough; raw HTML is parsed and then sanitized below.
    return MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])


def _demote_headings(md: MarkdownIt, shift: int) -> None:
    """Markdown headings start ``shift`` levels down (the page's own headings come first)."""

    def demote(state: Any) -> None:
        for token in state.tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1:]) + shift)}"

    md.core.ruler.push("demote_headings", demote)


def _is_relative(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("/", "#", "?"))


def _resolver(file_url: Callable[[str], str], image_url: Callable[[str], str]) -> Callable[[str, str, str], str | None]:
    def attribute(tag: str, name: str, value: str) -> str | None:
        if (tag, name) not in (("a", "href"), ("img", "src")):
            return value
        url = value.strip()
        if not _is_relative(url):
            return url
        path, _, fragment = url.partition("#")
        path = path.split("?", 1)[0]
        clean = "/".join(part for part in path.split("/") if part not in ("", "."))
        if ".." in clean.split("/") or not clean:
            return None  # nothing outside the repo, and no empty links
        target = image_url(clean) if tag == "img" else file_url(clean)
        return target + (f"#{quote(fragment)}" if fragment and tag == "a" else "")

    return attribute


def render_card(
    body: str,
    *,
    file_url: Callable[[str], str],
    image_url: Callable[[str], str],
    max_chars: int = MAX_CARD_CHARS,
    heading_shift: int = 2,
) -> RenderedCard:
    """``body`` (the card without its YAML front matter) as safe HTML.

    ``file_url(path)`` and ``image_url(path)`` turn a path inside the repo into the URL a relative link
    or image points at.
    """
    truncated = len(body) > max_chars
    if truncated:
        body = body[:max_chars]
    md = _markdown()
    _demote_headings(md, heading_shift)
    drawn = md.render(body)
    clean = nh3.clean(
        drawn,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_resolver(file_url, image_url),
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return RenderedCard(Markup(clean), truncated)  # sanitized by nh3 with an allowlist just above
