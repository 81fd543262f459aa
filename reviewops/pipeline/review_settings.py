"""Which review settings apply to a tenant: its own flags over the live policy (Redis) over defaults."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import redis

from reviewops.db.models import Tenant
from reviewops.policy.store import ReviewSettings, read_review_settings
from reviewops.tenancy.flags import effective_analyzers

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


def for_tenant(policy: ReviewSettings | None, tenant: Tenant | None) -> ReviewSettings:
    overrides: dict[str, Any] = (tenant.settings or {}) if tenant else {}
    result = replace(policy or ReviewSettings(), analyzers=effective_analyzers(policy, overrides))
    if isinstance(overrides.get("skip_drafts"), bool):
        result = replace(result, skip_drafts=overrides["skip_drafts"])
    if isinstance(overrides.get("severity_threshold"), str):
        result = replace(result, severity_threshold=overrides["severity_threshold"])
    return result
