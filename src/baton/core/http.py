"""HTTP plumbing shared by every domain's routes: the error handler, request dependencies and
the shapes every route uses for untrusted input (database ids, JSON bodies, header values)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.core.bodies import Shape, describe_problems, parse_body
from baton.core.errors import BadRequestError, BatonError, QuotaExceededError
from baton.core.runtime import Runtime

logger = logging.getLogger("baton")


# Every table's id is an INTEGER primary key: 32 bits on PostgreSQL, where a larger value makes
# the query fail ("integer out of range") and SQLite's driver raises OverflowError past 64 bits.
# An id outside this range can name no row, so it is refused before it reaches the database.
MAX_DB_ID: Final = 2**31 - 1
# Counts and offsets go to 64-bit columns and clauses (BIGINT sizes, OFFSET).
MAX_DB_INT: Final = 2**63 - 1

# Every route that takes a database id in its path uses DbId, and every integer query parameter
# is bounded (tests/core/test_http_input.py walks the route table to keep it so).
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="a database id")]
QueryCount = Annotated[int, Query(ge=0, le=MAX_DB_INT)]

MAX_HEADER_VALUE: Final = 500


def header_value(text: str) -> str:
    """``text`` as an HTTP header value: printable ASCII only, never empty-edged.

    Servers refuse to send a header holding a control character (uvicorn then drops the
    connection without an answer), so those are written as escapes, like the rest of non-ASCII.
    """
    escaped = []
    for character in text[: MAX_HEADER_VALUE * 2]:
        if " " <= character <= "~":
            escaped.append(character)
        elif character in "\t\n\r":
            escaped.append(" ")
        else:
            escaped.append(character.encode("unicode_escape").decode("ascii"))
    return "".join(escaped)[:MAX_HEADER_VALUE].strip()


def error_response(error: BatonError) -> JSONResponse:
    """The one JSON error shape; X-Error-Code lets the HF client raise its typed errors."""
    headers = {name: header_value(value) for name, value in error.headers.items()}
    headers |= {"X-Error-Code": header_value(error.code), "X-Error-Message": header_value(error.message)}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="baton"'
    return JSONResponse(error.to_json(), status_code=error.status_code, headers=headers)


def _has_control_byte(value: bytes) -> bool:
    return any(byte < 0x20 or byte == 0x7F for byte in value)


class SafeHeadersMiddleware:
    """Last line of defence: no response header leaves with a control byte in its value.

    Routes build header values with ``header_value``; this catches any that forgot, so that a
    response is always sent (with the offending bytes escaped) rather than dropped by the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def checked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(_has_control_byte(value) for _name, value in headers):
                    message = dict(message)
                    message["headers"] = [
                        (name, header_value(value.decode("latin-1")).encode("latin-1"))
                        if _has_control_byte(value)
                        else (name, value)
                        for name, value in headers
                    ]
            await send(message)

        await self.app(scope, receive, checked_send)


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>`` to every response: the time from the request's arrival
    to its response headers, measured inside the server (``BATON_SERVER_TIMING=1``).

    JSON and HTML answers are built whole before their headers go out, so for them this is the
    time the server spent on the request, without the network and the client; benchmarks read it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                message = dict(message)
                timing = (b"server-timing", f"app;dur={elapsed:.2f}".encode())
                message["headers"] = [*message.get("headers", []), timing]
            await send(message)

        await self.app(scope, receive, timed_send)


BodyLimitFor = Callable[[str, str], int | None]


class BodyLimitMiddleware:
    """Refuses a request body over its route's limit before it is read into memory (413).

    ``limit_for(method, path)`` gives the limit in bytes, or None for routes that bound their own
    body as it streams (the signed upload links, which store to disk with the per-file quota).
    A declared Content-Length over the limit is answered at once; a body sent without one is
    counted as it arrives and cut off at the limit.
    """

    def __init__(self, app: ASGIApp, limit_for: BodyLimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        too_large = QuotaExceededError(
            f"The request body is over {limit} bytes, the limit for this route",
            code="BodyTooLarge",
            hint="Send large files through LFS uploads (huggingface_hub does), or split the request.",
        )
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(too_large)(scope, receive, send)
            return
        received = 0
        refused = False

        async def counted_receive() -> Message:
            # Past the limit the 413 is sent from here and the route sees the client leave: raising
            # instead would reach the route's body parser, which answers any read error with a 400.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await error_response(too_large)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted_receive, send_unless_refused)
        except ClientDisconnect:
            if not refused:
                raise


# The NDJSON commit carries inline files; every other body is a small JSON or form document.
_COMMIT_PATH = re.compile(r"^/api/[^/]+/[^/]+/[^/]+/commit/")


def body_limits(runtime: Runtime) -> BodyLimitFor:
    """The body limit of each route: none on signed upload links, the commit payload's, else the request's."""
    settings = runtime.settings

    def limit_for(method: str, path: str) -> int | None:
        if method == "PUT" and path.startswith("/api/lfs/"):
            return None
        if _COMMIT_PATH.match(path):
            return settings.max_commit_payload
        return settings.max_request_body

    return limit_for


# A hook from a higher layer (the web layer's error pages): given the request, the error and the
# status, it answers with a page for a browser, or None to keep the JSON answer.
PageForError = Callable[[Request, BatonError, int], Awaitable[Response | None]]


def install_error_handlers(app: FastAPI, page_for_error: PageForError | None = None) -> None:
    """The one error shape for every error; with ``page_for_error``, browsers asking for pages get pages."""
    app.add_middleware(SafeHeadersMiddleware)

    async def answer(request: Request, error: BatonError, status: int | None = None) -> Response:
        status = status or error.status_code
        if page_for_error is not None:
            try:
                page = await page_for_error(request, error, status)
            except Exception:
                logger.exception("The error page for %s %s failed", request.method, request.url.path)
                page = None
            if page is not None:
                return page
        response = error_response(error)
        response.status_code = status
        return response

    @app.exception_handler(BatonError)
    async def _baton_error(request: Request, error: BatonError) -> Response:
        return await answer(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        # Unmatched routes (404) and wrong methods (405) get the one error shape too.
        status = error.status_code
        code, hint = {
            404: ("NotFound", "Check the URL; the API routes are listed at /api/docs."),
            405: ("MethodNotAllowed", "Check the HTTP method; the API routes are listed at /api/docs."),
        }.get(status, ("HttpError", ""))
        message = f"{request.method} {request.url.path}: {error.detail}"
        return await answer(
            request, BatonError(message, code=code, hint=hint, headers=dict(error.headers or {})), status
        )

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, error: Exception) -> Response:
        # A bug, not bad input: log the traceback, answer in the one shape without leaking details.
        logger.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return await answer(
            request,
            BatonError(
                "Baton hit an internal error while handling this request",
                hint="Retry; if it persists, report it with the time of the request (the server log has details).",
            ),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        problems = describe_problems(error.errors())
        return await answer(
            request,
            BadRequestError(
                f"Invalid request: {problems}", hint="Check the path, query and body of the request against /api/docs."
            ),
        )


async def json_body(request: Request, what: str) -> Any:
    """The request body parsed as JSON; BadRequestError naming ``what`` when it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # ValueError covers invalid UTF-8 too
        raise BadRequestError(
            f"{what} is not valid JSON ({str(error)[:120]})", hint="Send a JSON body (Content-Type: application/json)."
        ) from None


async def read_body(request: Request, shape: type[Shape], what: str) -> Shape:
    """The JSON request body validated into ``shape`` (BadRequestError naming ``what`` otherwise)."""
    return parse_body(shape, await json_body(request, what), what)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def client_address(request: Request) -> str:
    """The peer's address (rate limits key on it); behind a proxy this is the proxy's."""
    return request.client.host if request.client else "unknown"


class ExactRoute(APIRoute):
    """A route that sends exactly the keys its answer was built with (``response_model_exclude_unset``).

    Response models declare the keys a service sets only sometimes as optional fields; with this
    route class a key the service did not set is left out instead of being sent as ``null``, so a
    typed answer is the service's answer, key for key (a profile item a viewer may not see is never
    added). Routers use it with ``APIRouter(route_class=ExactRoute)``.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)
