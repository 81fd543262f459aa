"""Live policy shared through Redis: the operator writes it, the API and workers read it on every use."""

from reviewops.policy.store import (
    PolicySnapshot,
    RetrySettings,
    ReviewSettings,
    TenantLimits,
    read_generation,
    read_limits,
    read_retry_settings,
    read_review_settings,
    write_policy,
)

__all__ = [
    "PolicySnapshot",
    "RetrySettings",
    "ReviewSettings",
    "TenantLimits",
    "read_generation",
    "read_limits",
    "read_retry_settings",
    "read_review_settings",
    "write_policy",
]
