"""Which review settings apply to a tenant: its own flags over the live policy (Redis) over defaults."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import redis

from reviewops.db.models import Tenant
from reviewops.policy.store import ReviewSettings, read_review_settings

log = logging.getLogger(__name__)


_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    # One pooled, thread-safe client per URL for the process, not a connection per event.
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return _clients[url]


def live_policy(redis_url: str | None) -> ReviewSettings:
    """The ReviewPolicy's review settings as the operator last wrote them; defaults if none or unreachable."""
    if not redis_url:
        return ReviewSettings()
    try:
        return read_review_settings(_client(redis_url)) or ReviewSettings()
    except redis.RedisError as exc:
        log.warning("review settings unavailable, using defaults: %s", type(exc).__name__)
        return ReviewSettings()


def for_tenant(policy: ReviewSettings, tenant: Tenant | None) -> ReviewSettings:
    overrides: dict[str, Any] = (tenant.settings or {}) if tenant else {}
    analyzers = {**policy.analyzers, **(overrides.get("analyzers") or {})}
    result = replace(policy, analyzers=analyzers)
    if isinstance(overrides.get("skip_drafts"), bool):
        result = replace(result, skip_drafts=overrides["skip_drafts"])
    if isinstance(overrides.get("severity_threshold"), str):
        result = replace(result, severity_threshold=overrides["severity_threshold"])
    return result
