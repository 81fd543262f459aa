"""Error classification: what is retried, what is dead-lettered at once, and how long a retry waits."""

from __future__ import annotations

import time

import httpx
import pydantic
import pytest
import redis
from sqlalchemy import exc as sa_exc

from reviewops.errors import PermanentError, TransientError, classify, error_class_name
from reviewops.queue.retries import compute_delay_ms


class Payload(pydantic.BaseModel):
    number: int


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://api.github.com/repos/o/r/pulls/1")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return httpx.HTTPStatusError("boom", request=request, response=response)


def validation_error() -> pydantic.ValidationError:
    try:
        Payload.model_validate({"number": "x"})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("exc", "kind", "category"),
    [
        (PermanentError("repository gone"), "permanent", "declared"),
        (TransientError("GitHub 502"), "transient", "declared"),
        (validation_error(), "permanent", "invalid"),
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")), "transient",
         "database"),
        (sa_exc.DisconnectionError("gone"), "transient", "database"),
        (sa_exc.DataError("INSERT", {}, Exception("value too long")), "permanent", "invalid"),
        (httpx.ConnectError("refused"), "transient", "network"),
        (httpx.ReadTimeout("slow"), "transient", "timeout"),
        (redis.exceptions.ConnectionError("down"), "transient", "network"),
        (ConnectionResetError(), "transient", "network"),
        (TimeoutError(), "transient", "timeout"),
        (http_error(502), "transient", "server_error"),
        (http_error(404), "permanent", "client_error"),
        (http_error(410), "permanent", "client_error"),
        (http_error(403), "permanent", "client_error"),
        (http_error(429, {"retry-after": "30"}), "transient", "rate_limit"),
        (KeyError("pull_request"), "transient", "unknown"),
        (ValueError("bad"), "transient", "unknown"),
    ],
)  # fmt: skip
def test_classification(exc: BaseException, kind: str, category: str) -> None:
    verdict = classify(exc)
    assert (verdict.kind, verdict.category) == (kind, category)


def test_rate_limit_reset_becomes_retry_after() -> None:
    reset = int(time.time()) + 120
    verdict = classify(http_error(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}))
    assert verdict.kind == "transient" and verdict.category == "rate_limit"
    assert verdict.retry_after is not None and 100 < verdict.retry_after <= 120
    assert classify(TransientError("limited", retry_after=42)).retry_after == 42


def test_openai_errors() -> None:
    import openai

    request = httpx.Request("POST", "https://llm.example/v1/chat/completions")
    assert classify(openai.APITimeoutError(request=request)).category == "timeout"
    assert classify(openai.APIConnectionError(request=request)).category == "network"
    limited = openai.RateLimitError(
        "slow down", response=httpx.Response(429, headers={"retry-after": "7"}, request=request), body=None
    )
    assert (classify(limited).kind, classify(limited).retry_after) == ("transient", 7.0)
    denied = openai.AuthenticationError("no", response=httpx.Response(401, request=request), body=None)
    assert classify(denied).kind == "permanent"


def test_error_class_names() -> None:
    assert error_class_name(KeyError("x")) == "KeyError"
    assert error_class_name(PermanentError("x")) == "reviewops.errors.PermanentError"


def test_backoff_grows_with_jitter_between_min_and_max() -> None:
    for retries in range(10):
        for _ in range(20):
            delay = compute_delay_ms(retries, 1000, 60_000, None)
            base = 1000 * 2**retries
            assert 1000 <= delay <= 60_000
            assert delay >= min(base, 60_000) and delay <= min(2 * base, 60_000)


def test_retry_after_beats_the_maximum_backoff() -> None:
    assert compute_delay_ms(0, 1000, 5000, 300) == 300_000
    assert compute_delay_ms(5, 1000, 5000, 0.5) <= 5000
