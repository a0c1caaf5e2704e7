"""One JSON error shape for every error: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.store.availability import is_unavailable, problem

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
}


class APIError(Exception):
    """An answer in the error shape; ``headers`` go with it (``WWW-Authenticate`` on a 401,
    ``Retry-After`` on a 503)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        return error_response(exc.status_code, _CODES.get(exc.status_code, "error"), message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            got = f" (got {err['input']!r})" if "input" in err and err["type"] != "missing" else ""
            problems.append(f"{where}: {err['msg']}{got}")
        return error_response(400, "bad_request", "; ".join(problems))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):  # the store is down or full: worth retrying, not our bug
            log.warning("store unavailable on %s: %s", request.url.path, problem(exc))
            response = error_response(
                503,
                "store_unavailable",
                f"the store is unavailable ({problem(exc)}); nothing was lost, try again",
            )
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal", "internal error; the server log has details")
