"""The site's static files (``web/static``): the stylesheet, the icon and the vendored scripts.

Only the files packaged with Baton are served: the table is built from the package folder once,
and a request names an entry of that table (never a filesystem path). Each file carries an ETag
from its sha256; a URL with ``?v=`` equal to that version (as ``templating.static_url`` writes it)
may be cached for a year, any other for an hour, and a browser's ``If-None-Match`` gets a 304.

Vendored files keep their licenses beside them (``vendor/<name>/LICENSE``); see docs/architecture.md.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from baton.core.errors import NotFoundError

STATIC_DIR: Final = Path(__file__).parent / "static"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "public, max-age=3600"
MAX_PATH: Final = 200

_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".png": "image/png",
    "": "text/plain; charset=utf-8",  # LICENSE, NOTICE
}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    path: str
    content: bytes
    media_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


@cache
def assets() -> dict[str, Asset]:
    """Every packaged static file by its path below ``web/static`` (read once per process)."""
    table: dict[str, Asset] = {}
    for file in sorted(STATIC_DIR.rglob("*")):
        relative = file.relative_to(STATIC_DIR).as_posix()
        if not file.is_file() or any(part.startswith(".") for part in relative.split("/")):
            continue
        suffix = file.suffix.lower()
        media_type = _TYPES.get(suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        content = file.read_bytes()
        table[relative] = Asset(relative, content, media_type, '"' + hashlib.sha256(content).hexdigest()[:32] + '"')
    return table


def asset(path: str) -> Asset | None:
    return assets().get(path) if len(path) <= MAX_PATH else None


def asset_text(path: str) -> str:
    found = asset(path)
    if found is None:
        raise LookupError(f"No static file {path!r} under baton/web/static")
    return found.content.decode("utf-8")


def file_response(request: Request, found: Asset) -> Response:
    versioned = request.query_params.get("v") == found.version
    headers = {
        "ETag": found.etag,
        "Cache-Control": IMMUTABLE if versioned else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
    }
    asked = request.headers.get("if-none-match", "")
    if found.etag in (tag.strip().removeprefix("W/") for tag in asked.split(",")[:20]):
        return Response(status_code=304, headers=headers)
    return Response(found.content, media_type=found.media_type, headers=headers)


@router.get("/static/{path:path}", name="static_file", response_class=Response)
def static_file(request: Request, path: str) -> Response:
    found = asset(path)
    if found is None:
        raise NotFoundError(
            f"No static file '{path[:MAX_PATH]}'", hint="Static files are the site's own; check the link."
        )
    return file_response(request, found)


@router.get("/robots.txt", name="robots", response_class=Response)
def robots(request: Request) -> Response:
    return static_file(request, "robots.txt")


@router.get("/favicon.ico", name="favicon", response_class=Response)
def favicon(request: Request) -> Response:
    return static_file(request, "favicon.svg")
