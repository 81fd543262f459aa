"""GitHub rate limits: how long to wait after a 403/429, and the cap on content-creating requests.

GitHub's rules (docs: "Rate limits for the REST API"): honour `Retry-After` when present; else, when
`x-ratelimit-remaining` is 0, wait until `x-ratelimit-reset`; else (a secondary limit without headers)
wait at least one minute and back off exponentially. Content creation is capped at 80 requests per minute
and 500 per hour per installation; the pacer below keeps under both, and shares a pause after a refusal.
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
    """The per-installation pacer of GitHub requests, shared by every worker process through Redis.

    Two things, checked in one atomic Lua call per request:

    * a pause (`pause()`): after a secondary-limit answer (403/429 with `retry-after`) or when the primary
      limit is spent (`x-ratelimit-remaining: 0`), *every* request of that installation, from every
      worker, waits until the pause ends, instead of each worker finding the limit again on its own;
    * content-creating requests (POST/PATCH/PUT/DELETE): at most `limit` in any `WINDOW_SECONDS` and
      `per_hour` in any hour (GitHub: 80 per minute, 500 per hour). A sliding log (one sorted set of
      timestamps per installation, at most `per_hour` entries) rather than a GCRA: it gives exactly "no
      more than N in any window" for both windows at once, which is how GitHub states the limits, and
      lets a burst use the whole minute budget without spending the hour's.

    `reserve()` either takes a slot (returns 0) or returns the seconds until one frees up (nothing taken),
    so a caller waits and asks again: writes are delayed, never refused. In-process when no client is
    given (one process: the embedded mode and the tests of the arithmetic).
    """

    KEY = "reviewops:github:content:{installation_id}"
    PAUSE_KEY = "reviewops:github:pause:{installation_id}"

    def __init__(
        self,
        limit: int,
        client: redis.Redis | None = None,
        clock: Callable[[], float] = time.time,
        *,
        per_hour: int = 500,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.limit = limit
        self.per_hour = max(per_hour, limit)
        self.window = window
        self.hour = window * 60
        self.client = client
        self.clock = clock
        self._local: dict[int, deque[float]] = {}
        self._paused: dict[int, float] = {}
        self._lock = threading.Lock()

    def reserve(self, installation_id: int, content: bool = True) -> float:
        """0 when the request may go now (a content slot is taken); else seconds to wait, nothing taken."""
        now = self.clock()
        if self.client is not None:
            return self._redis(installation_id, now, content)
        with self._lock:
            paused = self._paused.get(installation_id, 0.0)
            if paused > now:
                return paused - now
            if not content:
                return 0.0
            log = self._local.setdefault(installation_id, deque())
            while log and log[0] <= now - self.hour:
                log.popleft()
            wait = 0.0
            if len(log) >= self.per_hour:
                wait = log[len(log) - self.per_hour] + self.hour - now
            recent = [t for t in log if t > now - self.window]
            if len(recent) >= self.limit:
                wait = max(wait, recent[len(recent) - self.limit] + self.window - now)
            if wait > 0:
                return max(0.001, wait)
            log.append(now)
            return 0.0

    def pause(self, installation_id: int, seconds: float) -> None:
        """Hold every request of the installation for `seconds` (never shortens a longer pause)."""
        now = self.clock()
        if self.client is not None:
            key = self.PAUSE_KEY.format(installation_id=installation_id)
            self.client.eval(self._PAUSE, 1, key, repr(now), repr(seconds))
            return
        with self._lock:
            self._paused[installation_id] = max(self._paused.get(installation_id, 0.0), now + seconds)

    # KEYS: 1 log (sorted set of timestamps), 2 pause-until. ARGV: 1 now, 2 minute limit, 3 window,
    # 4 hour limit, 5 hour window, 6 unique member, 7 content (1/0). Returns the wait as a string
    # (Lua numbers would be truncated to integers on the way back).
    _SCRIPT = """
    local now = tonumber(ARGV[1])
    local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
    if paused > now then return tostring(paused - now) end
    if ARGV[7] == '0' then return '0' end
    local window, hour = tonumber(ARGV[3]), tonumber(ARGV[5])
    local per_minute, per_hour = tonumber(ARGV[2]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - hour)
    local wait = 0
    local in_hour = redis.call('ZCARD', KEYS[1])
    if in_hour >= per_hour then
        local nth = redis.call('ZRANGE', KEYS[1], in_hour - per_hour, in_hour - per_hour, 'WITHSCORES')
        wait = tonumber(nth[2]) + hour - now
    end
    local since = '(' .. string.format('%.6f', now - window)
    local in_minute = redis.call('ZCOUNT', KEYS[1], since, '+inf')
    if in_minute >= per_minute then
        local nth = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT',
                               in_minute - per_minute, 1)
        wait = math.max(wait, tonumber(nth[2]) + window - now)
    end
    if wait > 0 then return string.format('%.6f', wait) end
    redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[6])
    redis.call('EXPIRE', KEYS[1], math.ceil(hour) + 1)
    return '0'
    """

    _PAUSE = """
    local now, seconds = tonumber(ARGV[1]), tonumber(ARGV[2])
    local current = tonumber(redis.call('GET', KEYS[1]) or '0')
    if now + seconds > current then
        redis.call('SET', KEYS[1], string.format('%.6f', now + seconds), 'PX', math.ceil(seconds * 1000) + 1000)
    end
    return 1
    """

    def _redis(self, installation_id: int, now: float, content: bool) -> float:
        assert self.client is not None
        keys = (self.KEY.format(installation_id=installation_id),
                self.PAUSE_KEY.format(installation_id=installation_id))  # fmt: skip
        raw = self.client.eval(
            self._SCRIPT, 2, *keys, repr(now), str(self.limit), repr(self.window), str(self.per_hour),
            repr(self.hour), uuid.uuid4().hex, "1" if content else "0",
        )  # fmt: skip
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return max(0.001, wait) if wait > 0 else 0.0
