"""Redis clients: the one factory every process uses (API, worker, CLI, operator), so timeouts are the same.

Every client fails fast (connect and socket timeouts): a request, a review or an operator pass must never
hang on a dead Redis; callers decide what a RedisError means for them.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from redis import asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from reviewops.settings import Settings

CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 5.0


def connect(url: str, *, socket_timeout: float = SOCKET_TIMEOUT_SECONDS, retries: int = 0) -> redis.Redis:
    """A new client (its own pool) of `url`; `retries` reconnect attempts with a short backoff."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.1), retries) if retries else None
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=socket_timeout, retry=retry
    )


def connect_async(url: str) -> aioredis.Redis:
    """An asyncio client for a long-lived subscription (SSE): a connect timeout, no read timeout (it waits
    for messages as long as the stream lives)."""
    return aioredis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)


@lru_cache(maxsize=8)
def shared(url: str) -> redis.Redis:
    """One client per URL per process (thread-safe, pooled), shared by everything in the process."""
    return connect(url)


def redis_for(settings: Settings) -> redis.Redis | None:
    """The shared client of `settings.redis_url`, or None in the embedded default (no Redis)."""
    return shared(settings.redis_url) if settings.redis_url else None
