"""Per-tenant feature flags: which analyzers run for a tenant.

Precedence: the tenant's own switch (tenants.settings["analyzers"], set by the admin API) over the
ReviewPolicy's `analyzers` (policy store `review-settings`) over the analyzer's built-in default.
"""

from __future__ import annotations

from typing import Any

from reviewops.policy.store import ReviewSettings


def tenant_analyzer_flags(tenant_settings: dict[str, Any] | None) -> dict[str, bool]:
    raw = (tenant_settings or {}).get("analyzers") or {}
    return {str(k): bool(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def effective_analyzers(
    policy: ReviewSettings | None, tenant_settings: dict[str, Any] | None
) -> dict[str, bool]:
    """Analyzer name -> enabled, for every analyzer the policy or the tenant names."""
    return {**(policy.analyzers if policy else {}), **tenant_analyzer_flags(tenant_settings)}


def analyzer_enabled(
    name: str, policy: ReviewSettings | None, tenant_settings: dict[str, Any] | None, default: bool = True
) -> bool:
    return effective_analyzers(policy, tenant_settings).get(name, default)
