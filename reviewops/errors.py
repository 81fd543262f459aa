"""Error classes that decide what the worker does with a failure: retry it, or dead-letter it at once."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pydantic
import redis
from sqlalchemy import exc as sa_exc


class ReviewOpsError(Exception):
    """Base class of ReviewOps' own errors."""


class TransientError(ReviewOpsError):
    """Worth retrying: network trouble, GitHub 5xx or rate limits, LLM timeouts, lost DB connections.

    `retry_after` (seconds) asks the retry to wait at least that long, e.g. until a rate limit resets.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ReviewOpsError):
    """Retrying cannot help: invalid payload, repository gone, installation suspended, 404 on the PR."""


# --- classification -------------------------------------------------------------------------------
# Deliberate rules (README "Retries and dead letters"):
#  * permanent: PermanentError; pydantic ValidationError (the stored payload can never become valid);
#    SQLAlchemy DataError (a value the schema refuses); HTTP 4xx answers other than 408/409/429 and
#    GitHub's rate-limit 403 (404 on the PR, 410 repository gone, 422 invalid request, 401/403 denied);
#  * transient: TransientError; network errors (OSError incl. ConnectionError/TimeoutError, httpx
#    transport errors, redis connection/timeout errors); SQLAlchemy OperationalError, DisconnectionError,
#    InterfaceError and pool timeouts (lost database); HTTP 5xx, 408, 409, 429 and rate-limit 403s;
#    OpenAI timeouts, connection errors, rate limits and 5xx;
#  * anything else (KeyError, ValueError, a bug...) is "unknown" and retried like a transient error:
#    the same exception classes come from bugs that a deploy fixes, so dead-lettering them at once would
#    throw work away. Code that *validates* a payload raises PermanentError on purpose.

ErrorKind = Literal["transient", "permanent"]
# Bounded categories, used as the `error_type` label of reviewops_task_retries_total.
ErrorCategory = Literal["rate_limit", "network", "timeout", "database", "server_error", "declared", "unknown",
                        "invalid", "client_error"]  # fmt: skip


@dataclass(frozen=True)
class Classification:
    kind: ErrorKind
    category: ErrorCategory
    retry_after: float | None = None  # seconds the next attempt must wait at least


def _header_retry_after(headers: Any) -> float | None:
    """Seconds from `Retry-After` or GitHub's `x-ratelimit-reset` (epoch seconds) headers, if any."""
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    reset = headers.get("x-ratelimit-reset")
    if reset is not None and str(headers.get("x-ratelimit-remaining", "")) == "0":
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


def _http_status(status: int, headers: Any) -> Classification:
    retry_after = _header_retry_after(headers)
    rate_limited = status == 429 or (status == 403 and retry_after is not None)
    if rate_limited:
        return Classification("transient", "rate_limit", retry_after)
    if status >= 500 or status in (408, 409):
        return Classification("transient", "server_error", retry_after)
    return Classification("permanent", "client_error")


def _classify_openai(exc: BaseException) -> Classification | None:
    openai = sys.modules.get("openai")
    if openai is None or not type(exc).__module__.startswith("openai"):
        return None
    if isinstance(exc, openai.APITimeoutError):
        return Classification("transient", "timeout")
    if isinstance(exc, openai.APIConnectionError):
        return Classification("transient", "network")
    if isinstance(exc, openai.APIStatusError):
        return _http_status(exc.status_code, exc.response.headers)
    return None


def classify(exc: BaseException) -> Classification:
    """Decide whether `exc` is worth retrying, and how long the retry must wait at least."""
    if isinstance(exc, PermanentError):
        return Classification("permanent", "declared")
    if isinstance(exc, TransientError):
        category: ErrorCategory = "rate_limit" if exc.retry_after is not None else "declared"
        return Classification("transient", category, exc.retry_after)
    if isinstance(exc, pydantic.ValidationError):
        return Classification("permanent", "invalid")
    if isinstance(exc, sa_exc.DataError):
        return Classification("permanent", "invalid")
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.OperationalError | sa_exc.InterfaceError
                  | sa_exc.TimeoutError):  # fmt: skip
        return Classification("transient", "database")
    if isinstance(exc, httpx.HTTPStatusError):
        return _http_status(exc.response.status_code, exc.response.headers)
    if isinstance(exc, httpx.TimeoutException | redis.exceptions.TimeoutError | TimeoutError):
        return Classification("transient", "timeout")
    if isinstance(exc, httpx.TransportError | redis.exceptions.ConnectionError | OSError):
        return Classification("transient", "network")
    return _classify_openai(exc) or Classification("transient", "unknown")


def error_class_name(exc: BaseException) -> str:
    """`module.QualName` of the exception, as stored in dead_letters.error_class."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def database_reason(exc: sa_exc.DBAPIError) -> str:
    """The database's (or its driver's) one-line reason for refusing a statement: never the statement or
    its parameters, which may hold a payload or a secret."""
    primary = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
    lines = str(exc.orig or "").strip().splitlines()
    return str(primary or (lines[0] if lines else type(exc.orig).__name__))[:200]
