"""Daily LLM token budget per tenant: one Redis counter per tenant and UTC day (INCRBY with expiry).

`llm_allowed` is asked before a review calls the LLM; over budget the review runs without it and says
so. `record_tokens` is called after each LLM call with the usage the endpoint reported.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import redis

from reviewops.policy.store import PREFIX, TenantLimits, read_limits
from reviewops.telemetry import metrics

# Kept two days so "yesterday" is still readable around midnight; the database has the history.
COUNTER_TTL_SECONDS = 2 * 24 * 3600


def today() -> date:
    return datetime.now(UTC).date()


def tokens_key(installation_id: int, day: date | None = None) -> str:
    return f"{PREFIX}tokens:{installation_id}:{(day or today()).isoformat()}"


def tokens_used(client: redis.Redis, installation_id: int, day: date | None = None) -> int:
    value = client.get(tokens_key(installation_id, day))
    return int(value) if value is not None else 0


def llm_allowed(client: redis.Redis, installation_id: int, fallback: TenantLimits | None = None) -> bool:
    """True while the tenant's tokens today are under its llm_tokens_per_day (read live)."""
    limits = read_limits(client, installation_id, fallback or TenantLimits())
    allowed = tokens_used(client, installation_id) < limits.llm_tokens_per_day
    if not allowed:
        metrics.RATE_LIMITED.labels("llm_tokens").inc()
    return allowed


def record_tokens(client: redis.Redis, installation_id: int, prompt: int, completion: int) -> int:
    """Add one LLM call's usage to today's counter; returns the tenant's total for today."""
    if prompt < 0 or completion < 0:
        raise ValueError(f"token counts must be >= 0, got prompt={prompt} completion={completion}")
    key = tokens_key(installation_id)
    pipe = client.pipeline(transaction=True)
    pipe.incrby(key, prompt + completion)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    total, _ = pipe.execute()
    # reviewops_llm_tokens_total is counted where tokens are spent (reviewops.analysis.llm.client), once.
    return int(total)
