"""Per-tenant limits: the settings defaults, the live checks for the REST API and review scheduling.

Limits come from the policy store (`reviewops.policy.store`): a tenant's override hash over the policy
default hash over the settings defaults. The GCRA script reads them itself, so a change written to
Redis is in force on the next check without a restart or a cache to expire.
"""

from __future__ import annotations

from reviewops.policy.store import DEFAULT_LIMITS_KEY, PREFIX, TenantLimits, tenant_limits_key
from reviewops.ratelimit.gcra import Decision, LocalGcra, RedisGcra
from reviewops.settings import Settings

API_PERIOD_SECONDS = 60.0
REVIEW_PERIOD_SECONDS = 3600.0


def default_limits(settings: Settings) -> TenantLimits:
    """The fallback used when neither the policy nor a tenant override names a limit."""
    return TenantLimits(
        requests_per_minute=settings.default_requests_per_minute,
        burst=settings.default_burst,
        reviews_per_hour=settings.default_reviews_per_hour,
        llm_tokens_per_day=settings.default_llm_tokens_per_day,
    )


def api_state_key(installation_id: int) -> str:
    return f"{PREFIX}rl:api:{installation_id}"


def review_state_key(installation_id: int) -> str:
    return f"{PREFIX}rl:reviews:{installation_id}"


def check_api(limiter: RedisGcra | LocalGcra, installation_id: int, fallback: TenantLimits) -> Decision:
    """Count one REST API request of a tenant against requests_per_minute with burst."""
    if isinstance(limiter, LocalGcra):
        return limiter.check(
            api_state_key(installation_id), fallback.requests_per_minute, fallback.burst, API_PERIOD_SECONDS
        )
    return limiter.check(
        state_key=api_state_key(installation_id),
        default_key=DEFAULT_LIMITS_KEY,
        tenant_key=tenant_limits_key(installation_id),
        rate_field="requests_per_minute",
        burst_field="burst",
        fallback_rate=fallback.requests_per_minute,
        fallback_burst=fallback.burst,
        period=API_PERIOD_SECONDS,
    )


def reserve_review(limiter: RedisGcra, installation_id: int, fallback: TenantLimits) -> Decision:
    """Book the tenant's next review slot (reviews_per_hour, burst = one hour's worth); never refuses."""
    return limiter.check(
        state_key=review_state_key(installation_id),
        default_key=DEFAULT_LIMITS_KEY,
        tenant_key=tenant_limits_key(installation_id),
        rate_field="reviews_per_hour",
        burst_field="",
        fallback_rate=fallback.reviews_per_hour,
        fallback_burst=fallback.reviews_per_hour,
        period=REVIEW_PERIOD_SECONDS,
        mode="reserve",
    )
