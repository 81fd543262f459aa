"""The Redis contract between the ReviewPolicy operator (writer) and the API/workers (readers).

Keys (prefix `reviewops:`):
- `policy:meta` hash: generation, policy (namespace/name), updated_at (epoch seconds)
- `limits:default` hash: requests_per_minute, burst, reviews_per_hour, llm_tokens_per_day
- `limits:tenant:<installation_id>` hash: only the fields that tenant overrides
- `limits:tenants` set: installation ids that have an override (so removed tenants can be deleted)
- `review-settings` hash: analyzers (JSON object), severity_threshold, skip_drafts ("1"/"0")
- `retry-settings` hash: max_retries, min_backoff_seconds, max_backoff_seconds (only the fields the policy sets)

A write is one MULTI/EXEC transaction, so readers never see half of a policy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import redis

PREFIX = "reviewops:"
META_KEY = PREFIX + "policy:meta"
DEFAULT_LIMITS_KEY = PREFIX + "limits:default"
TENANT_SET_KEY = PREFIX + "limits:tenants"
REVIEW_SETTINGS_KEY = PREFIX + "review-settings"
RETRY_SETTINGS_KEY = PREFIX + "retry-settings"


def tenant_limits_key(installation_id: int) -> str:
    return f"{PREFIX}limits:tenant:{installation_id}"


@dataclass(frozen=True)
class TenantLimits:
    requests_per_minute: int = 600
    burst: int = 100
    reviews_per_hour: int = 200
    llm_tokens_per_day: int = 2_000_000

    def merged(self, overrides: dict[str, int]) -> TenantLimits:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: int(v) for k, v in overrides.items() if k in known})


@dataclass(frozen=True)
class ReviewSettings:
    analyzers: dict[str, bool] = field(default_factory=dict)
    severity_threshold: str = "warning"
    skip_drafts: bool = True


@dataclass(frozen=True)
class RetrySettings:
    """Retry policy of failed work; None fields fall back to the worker's settings."""

    max_retries: int | None = None
    min_backoff_seconds: float | None = None
    max_backoff_seconds: float | None = None


@dataclass(frozen=True)
class PolicySnapshot:
    generation: int
    policy: str
    default: TenantLimits
    tenants: dict[int, dict[str, int]]
    review: ReviewSettings
    retries: RetrySettings = field(default_factory=RetrySettings)


def write_policy(client: redis.Redis, snapshot: PolicySnapshot) -> None:
    """Replace the live policy atomically; tenants missing from `snapshot` lose their overrides."""
    old_ids = {int(x) for x in client.smembers(TENANT_SET_KEY)}
    pipe = client.pipeline(transaction=True)
    for gone in old_ids - set(snapshot.tenants):
        pipe.delete(tenant_limits_key(gone))
    pipe.delete(TENANT_SET_KEY, DEFAULT_LIMITS_KEY, REVIEW_SETTINGS_KEY, RETRY_SETTINGS_KEY)
    retry_fields = asdict(snapshot.retries)
    if any(value is not None for value in retry_fields.values()):
        pipe.hset(RETRY_SETTINGS_KEY, mapping={k: v for k, v in retry_fields.items() if v is not None})
    pipe.hset(DEFAULT_LIMITS_KEY, mapping={k: int(v) for k, v in asdict(snapshot.default).items()})
    for installation_id, overrides in snapshot.tenants.items():
        pipe.delete(tenant_limits_key(installation_id))
        if overrides:
            pipe.hset(tenant_limits_key(installation_id), mapping={k: int(v) for k, v in overrides.items()})
        pipe.sadd(TENANT_SET_KEY, installation_id)
    pipe.hset(
        REVIEW_SETTINGS_KEY,
        mapping={
            "analyzers": json.dumps(snapshot.review.analyzers, sort_keys=True),
            "severity_threshold": snapshot.review.severity_threshold,
            "skip_drafts": "1" if snapshot.review.skip_drafts else "0",
        },
    )
    pipe.hset(
        META_KEY,
        mapping={"generation": snapshot.generation, "policy": snapshot.policy, "updated_at": time.time()},
    )
    pipe.execute()


def _decode(raw: dict[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
        for k, v in raw.items()
    }


def read_limits(client: redis.Redis, installation_id: int | None, fallback: TenantLimits) -> TenantLimits:
    """The limits in force for a tenant: its overrides over the policy default over `fallback` (settings)."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(DEFAULT_LIMITS_KEY)
    if installation_id is not None:
        pipe.hgetall(tenant_limits_key(installation_id))
    results = pipe.execute()
    limits = fallback.merged({k: int(v) for k, v in _decode(results[0]).items()})
    if installation_id is not None:
        limits = limits.merged({k: int(v) for k, v in _decode(results[1]).items()})
    return limits


def read_review_settings(client: redis.Redis) -> ReviewSettings | None:
    raw = _decode(client.hgetall(REVIEW_SETTINGS_KEY))
    if not raw:
        return None
    return ReviewSettings(
        analyzers={str(k): bool(v) for k, v in json.loads(raw.get("analyzers", "{}")).items()},
        severity_threshold=raw.get("severity_threshold", "warning"),
        skip_drafts=raw.get("skip_drafts", "1") == "1",
    )


def read_retry_settings(client: redis.Redis) -> RetrySettings:
    raw = _decode(client.hgetall(RETRY_SETTINGS_KEY))
    return RetrySettings(
        max_retries=int(raw["max_retries"]) if "max_retries" in raw else None,
        min_backoff_seconds=float(raw["min_backoff_seconds"]) if "min_backoff_seconds" in raw else None,
        max_backoff_seconds=float(raw["max_backoff_seconds"]) if "max_backoff_seconds" in raw else None,
    )


def read_generation(client: redis.Redis) -> int | None:
    value = client.hget(META_KEY, "generation")
    return int(value) if value is not None else None
