"""RFC 9457 problem details: every error the API returns has the same machine-readable shape."""

from __future__ import annotations

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reviewops.errors import database_reason

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"
# What a request raises when PostgreSQL or Redis cannot be reached: a lost or refused connection, a pool
# with no connection to give in time, a Redis connection or read timeout.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError, InterfaceError, SQLAlchemyTimeoutError, DisconnectionError,
    redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
)  # fmt: skip


def _unavailable(exc: BaseException) -> bool:
    """Also a DBAPIError whose connection was invalidated (the server went away mid-statement)."""
    return isinstance(exc, UNAVAILABLE) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


PROBLEM_MEDIA_TYPE = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code, self.headers, self.extra = status, detail, code, headers, extra


def problem(
    status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://reviewops.dev/problems/{code}" if code else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem(exc.status, exc.detail, code=exc.code, headers=exc.headers, **exc.extra)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}"
        return problem(422, detail, code="validation-error", errors=errors)

    async def on_data_error(_request: Request, exc: Exception) -> JSONResponse:
        # The database (or its driver) refused a value of the request: a NUL in a string, a number out of
        # its column's range. The request is at fault, not the server. Only the driver's one-line reason
        # is shown, never the statement or its parameters.
        assert isinstance(exc, DataError)
        return problem(
            400, f"a value of the request cannot be used: {database_reason(exc)}", code="invalid-value"
        )

    async def on_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL or Redis down: the client should come back, not report a bug (a plain-text 500).
        which = "redis" if isinstance(exc, redis.RedisError) else "database"
        log.warning("%s unavailable while answering a request: %s", which, type(exc).__name__)
        return problem(503, f"the {which} is unavailable; retry later", code=f"{which}-unavailable",
                       headers={"Retry-After": RETRY_AFTER_SECONDS})  # fmt: skip

    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if _unavailable(exc):
            return await on_unavailable(_request, exc)
        log.error("unhandled error answering a request", exc_info=exc)
        return problem(500, "internal error; it has been logged", code="internal-error")

    app.add_exception_handler(ProblemError, on_problem)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, on_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
