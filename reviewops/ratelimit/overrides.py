"""Admin overrides of a tenant's limits, written to the policy store's own keys.

Precedence (highest first): the tenant's override hash `limits:tenant:<installation_id>` (written by
the operator from the ReviewPolicy, or by these admin calls), the policy default `limits:default`,
the settings defaults (REVIEWOPS_DEFAULT_*). An admin override joins `limits:tenants`, so the operator's
next policy generation replaces it: it is an emergency lever, the ReviewPolicy is the lasting source.
"""

from __future__ import annotations

from dataclasses import fields

import redis

from reviewops.policy.store import (
    DEFAULT_LIMITS_KEY,
    TENANT_SET_KEY,
    TenantLimits,
    _decode,
    tenant_limits_key,
)

# The fairness middleware's per-tenant cap lives in the same hash (reviewops.queue.fairness).
CONCURRENCY_FIELD = "max_concurrent_reviews"
LIMIT_FIELDS = (*(f.name for f in fields(TenantLimits)), CONCURRENCY_FIELD)


def read_overrides(client: redis.Redis, installation_id: int) -> dict[str, int]:
    raw = _decode(client.hgetall(tenant_limits_key(installation_id)))
    return {k: int(v) for k, v in raw.items() if k in LIMIT_FIELDS and v.lstrip("-").isdigit()}


def set_overrides(client: redis.Redis, installation_id: int, values: dict[str, int]) -> dict[str, int]:
    """Merge `values` into the tenant's overrides (one transaction); returns the overrides now in force."""
    unknown = set(values) - set(LIMIT_FIELDS)
    if unknown:
        raise ValueError(f"unknown limit field(s): {', '.join(sorted(unknown))}")
    if values:
        pipe = client.pipeline(transaction=True)
        pipe.hset(tenant_limits_key(installation_id), mapping={k: int(v) for k, v in values.items()})
        pipe.sadd(TENANT_SET_KEY, installation_id)
        pipe.execute()
    return read_overrides(client, installation_id)


def clear_overrides(client: redis.Redis, installation_id: int) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.delete(tenant_limits_key(installation_id))
    pipe.srem(TENANT_SET_KEY, installation_id)
    pipe.execute()


def effective_concurrency(client: redis.Redis, installation_id: int, fallback: int | None) -> int | None:
    """The tenant's concurrent-review cap as the fairness middleware reads it: `fallback` is the setting;
    None: the cap follows the fleet (reviewops.queue.fairslots.fair_share says what it is now)."""
    pipe = client.pipeline(transaction=False)
    pipe.hget(tenant_limits_key(installation_id), CONCURRENCY_FIELD)
    pipe.hget(DEFAULT_LIMITS_KEY, CONCURRENCY_FIELD)
    for value in pipe.execute():
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return fallback
