"""GitHub rate limits: how long to wait after a 403/429, and the cap on content-creating requests.

GitHub's rules (docs: "Rate limits for the REST API"): honour `Retry-After` when present; else, when
`x-ratelimit-remaining` is 0, wait until `x-ratelimit-reset`; else (a secondary limit without headers)
wait at least one minute and back off exponentially. Content creation is capped at 80 requests per minute.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping

import redis

BACKOFF_BASE_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 3600.0
WINDOW_SECONDS = 60.0
CONTENT_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    """403s are also used for missing permissions; only these ones are rate limits."""
    if status == 429:
        return True
    if status != 403:
        return False
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def retry_delay(headers: Mapping[str, str], consecutive: int, now: float | None = None) -> float:
    """Seconds to wait after a rate-limited response; `consecutive` counts earlier ones in a row (0-based)."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass  # an HTTP date: fall through to the other rules
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            reset = float(headers["x-ratelimit-reset"])
        except ValueError:
            reset = None
        if reset is not None:
            current = time.time() if now is None else now
            return max(1.0, reset - current + 1.0)  # +1 s: the reset second itself may still be limited
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * (2 ** max(0, consecutive)))


class ContentLimiter:
    """A sliding one-minute window of content-creating requests per installation.

    `reserve()` either records the request and returns 0, or returns how many seconds until a slot frees
    up (nothing recorded). In Redis (shared by every worker process) when a client is given, else
    in-process.
    """

    KEY = "reviewops:github:content:{installation_id}"

    def __init__(
        self, limit: int, client: redis.Redis | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.client = client
        self.clock = clock
        self._local: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, installation_id: int) -> float:
        now = self.clock()
        if self.client is not None:
            return self._reserve_redis(installation_id, now)
        with self._lock:
            window = self._local.setdefault(installation_id, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= self.limit:
                return max(0.001, window[0] + WINDOW_SECONDS - now)
            window.append(now)
            return 0.0

    # One round trip, atomic: trim the window, count, and add only when under the limit.
    _SCRIPT = """
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
    local count = redis.call('ZCARD', KEYS[1])
    if count >= tonumber(ARGV[3]) then
        local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return tostring(oldest[2] + ARGV[2] - ARGV[1])
    end
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2]) + 1)
    return '0'
    """

    def _reserve_redis(self, installation_id: int, now: float) -> float:
        assert self.client is not None
        key = self.KEY.format(installation_id=installation_id)
        raw = self.client.eval(
            self._SCRIPT, 1, key, repr(now), repr(WINDOW_SECONDS), str(self.limit), uuid.uuid4().hex
        )
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return max(0.001, wait) if wait > 0 else 0.0
