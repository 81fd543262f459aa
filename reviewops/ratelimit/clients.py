"""One Redis client per URL per process (thread-safe, pooled), for code that only has settings."""

from __future__ import annotations

from functools import lru_cache

import redis

from reviewops.settings import Settings


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def redis_for(settings: Settings) -> redis.Redis | None:
    """The shared client of `settings.redis_url`, or None in the embedded default (no Redis)."""
    return _client(settings.redis_url) if settings.redis_url else None
