"""Map a ReviewPolicy's camelCase spec to the Redis policy snapshot the API and workers read live."""

from __future__ import annotations

from typing import Any

from reviewops.policy.store import PolicySnapshot, RetrySettings, ReviewSettings, TenantLimits

# CRD field -> TenantLimits field. Tenants override only what they name.
LIMIT_FIELDS = {
    "requestsPerMinute": "requests_per_minute",
    "burst": "burst",
    "reviewsPerHour": "reviews_per_hour",
    "llmTokensPerDay": "llm_tokens_per_day",
}
SEVERITIES = ("info", "warning", "error")


class SpecError(ValueError):
    """The spec cannot be applied as it is (the CRD schema should have rejected it)."""


def _limits(raw: dict[str, Any], where: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for camel, snake in LIMIT_FIELDS.items():
        if camel in raw:
            value = raw[camel]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SpecError(f"{where}.{camel}: must be a non-negative integer, got {value!r}")
            out[snake] = value
    return out


def snapshot_from_spec(spec: dict[str, Any], *, generation: int, policy: str) -> PolicySnapshot:
    """The whole live policy of one generation; missing parts fall back to the CRD defaults."""
    rate_limits = spec.get("rateLimits") or {}
    default = TenantLimits().merged(_limits(rate_limits.get("default") or {}, "spec.rateLimits.default"))
    tenants: dict[int, dict[str, int]] = {}
    for index, tenant in enumerate(rate_limits.get("tenants") or []):
        where = f"spec.rateLimits.tenants[{index}]"
        installation_id = tenant.get("installationId")
        if isinstance(installation_id, bool) or not isinstance(installation_id, int) or installation_id < 1:
            raise SpecError(f"{where}.installationId: must be a positive integer, got {installation_id!r}")
        if installation_id in tenants:
            raise SpecError(f"{where}.installationId: {installation_id} is listed twice")
        tenants[installation_id] = _limits(tenant, where)
    review = spec.get("review") or {}
    threshold = review.get("severityThreshold", "warning")
    if threshold not in SEVERITIES:
        raise SpecError(f"spec.review.severityThreshold: must be one of {', '.join(SEVERITIES)}")
    analyzers = {str(k): bool(v) for k, v in (review.get("analyzers") or {}).items()}
    retries = _retries(spec.get("retries") or {})
    return PolicySnapshot(
        generation=generation,
        policy=policy,
        default=default,
        tenants=tenants,
        review=ReviewSettings(
            analyzers=analyzers,
            severity_threshold=threshold,
            skip_drafts=bool(review.get("skipDrafts", True)),
        ),
        retries=retries,
    )


def _retries(raw: dict[str, Any]) -> RetrySettings:
    """spec.retries -> the live retry policy; absent fields stay None (the workers' settings apply)."""
    max_retries = raw.get("maxRetries")
    if max_retries is not None and (isinstance(max_retries, bool) or not isinstance(max_retries, int)
                                    or not 0 <= max_retries <= 100):  # fmt: skip
        raise SpecError(f"spec.retries.maxRetries: must be an integer from 0 to 100, got {max_retries!r}")
    backoff: dict[str, float | None] = {}
    for camel in ("minBackoffSeconds", "maxBackoffSeconds"):
        value = raw.get(camel)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise SpecError(f"spec.retries.{camel}: must be a positive number of seconds, got {value!r}")
        backoff[camel] = None if value is None else float(value)
    low, high = backoff["minBackoffSeconds"], backoff["maxBackoffSeconds"]
    if low is not None and high is not None and high < low:
        raise SpecError("spec.retries.maxBackoffSeconds: must be at least minBackoffSeconds")
    return RetrySettings(max_retries=max_retries, min_backoff_seconds=low, max_backoff_seconds=high)
