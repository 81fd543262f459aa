"""The one place that resolves a tenant's effective review settings: tenant over policy over defaults.

- the tenant's own switches (`tenants.settings`: `analyzers`, set by the admin API, and optionally
  `skip_drafts` / `severity_threshold`),
- over the ReviewPolicy's review settings as the operator last wrote them to Redis (reviewops.policy.store),
- over the defaults (`ReviewSettings()`, with the threshold from `REVIEWOPS_REVIEW_SEVERITY_THRESHOLD`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import redis

from reviewops.policy.store import ReviewSettings, read_review_settings

log = logging.getLogger(__name__)


def read_policy(client: redis.Redis | None) -> ReviewSettings | None:
    """The ReviewPolicy's review settings as the operator last wrote them; None if none or unreachable."""
    if client is None:
        return None
    try:
        return read_review_settings(client)
    except redis.RedisError as exc:
        log.warning("review settings unavailable, using defaults: %s", type(exc).__name__)
        return None


def tenant_analyzer_flags(tenant_settings: Mapping[str, Any] | None) -> dict[str, bool]:
    raw = (tenant_settings or {}).get("analyzers") or {}
    return {str(k): bool(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def effective_analyzers(
    policy: ReviewSettings | None, tenant_settings: Mapping[str, Any] | None
) -> dict[str, bool]:
    """Analyzer name -> enabled, for every analyzer the policy or the tenant names."""
    return {**(policy.analyzers if policy else {}), **tenant_analyzer_flags(tenant_settings)}


def analyzer_enabled(
    name: str, policy: ReviewSettings | None, tenant_settings: Mapping[str, Any] | None, default: bool = True
) -> bool:
    return effective_analyzers(policy, tenant_settings).get(name, default)


def for_tenant(
    policy: ReviewSettings | None,
    tenant_settings: Mapping[str, Any] | None,
    *,
    default_threshold: str = ReviewSettings.severity_threshold,
) -> ReviewSettings:
    """Everything that decides how a tenant's review runs, resolved once per use."""
    overrides: Mapping[str, Any] = tenant_settings or {}
    base = policy or ReviewSettings(severity_threshold=default_threshold)
    result = replace(base, analyzers=effective_analyzers(policy, overrides))
    if isinstance(overrides.get("skip_drafts"), bool):
        result = replace(result, skip_drafts=overrides["skip_drafts"])
    if isinstance(overrides.get("severity_threshold"), str):
        result = replace(result, severity_threshold=overrides["severity_threshold"])
    return result
