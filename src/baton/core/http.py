"""HTTP plumbing shared by every domain's routes: the error handler and request dependencies."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton.core.errors import BadRequestError, BatonError
from baton.core.runtime import Runtime

logger = logging.getLogger("baton")


def error_response(error: BatonError) -> JSONResponse:
    """The one JSON error shape; X-Error-Code lets the HF client raise its typed errors."""
    headers = error.headers | {"X-Error-Code": error.code, "X-Error-Message": _header_safe(error.message)}
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="baton"'
    return JSONResponse(error.to_json(), status_code=error.status_code, headers=headers)


def _header_safe(text: str) -> str:
    return text.encode("ascii", errors="replace").decode("ascii").replace("\n", " ")[:500]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BatonError)
    async def _baton_error(_request: Request, error: BatonError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Unmatched routes (404) and wrong methods (405) get the one error shape too.
        status = error.status_code
        code, hint = {
            404: ("NotFound", "Check the URL; the API routes are listed at /api/docs."),
            405: ("MethodNotAllowed", "Check the HTTP method; the API routes are listed at /api/docs."),
        }.get(status, ("HttpError", ""))
        message = f"{request.method} {request.url.path}: {error.detail}"
        response = error_response(BatonError(message, code=code, hint=hint))
        response.status_code = status
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # A bug, not bad input: log the traceback, answer in the one shape without leaking details.
        logger.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(
            BatonError(
                "Baton hit an internal error while handling this request",
                hint="Retry; if it persists, report it with the time of the request (the server log has details).",
            )
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', '')}"
            for item in error.errors()[:5]
        )
        return error_response(BadRequestError(f"Invalid request: {problems}", hint="Check the request body."))


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
