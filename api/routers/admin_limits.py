"""Admin API: a tenant's effective limits, and overrides set live in Redis (the policy store's keys).

Precedence, highest first: the tenant override (`reviewops:limits:tenant:<installation_id>`), the
ReviewPolicy default (`reviewops:limits:default`), the REVIEWOPS_DEFAULT_* settings. The concurrency cap
without any of them (REVIEWOPS_TENANT_MAX_CONCURRENT_REVIEWS unset, the default) follows the fleet: the
effective value reported is the tenant's share now (`settings_default` shows null for it). The operator owns
the override keys too: its next policy generation replaces an override set here, so a lasting change
belongs in the ReviewPolicy; these calls are the immediate lever. Every change takes effect on the
tenant's next request, and is written to the audit log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import redis
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.admin import tenant_or_404
from api.deps import AdminDep, DbDep, RedisDep, SettingsDep
from api.filters import STRICT, IdPath
from api.problems import ProblemError
from reviewops import audit
from reviewops.db.session import Database
from reviewops.policy.store import read_generation, read_limits
from reviewops.queue.fairslots import fair_share
from reviewops.ratelimit import default_limits
from reviewops.ratelimit.overrides import (
    clear_overrides,
    effective_concurrency,
    read_overrides,
    set_overrides,
)
from reviewops.settings import Settings

router = APIRouter(prefix="/api/v1/admin/tenants", tags=["admin: limits"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such tenant"},
    503: {"description": "Redis not configured"},
}
PRECEDENCE = "tenant override > ReviewPolicy default > settings default"
MAX_LIMIT = 10**12


class LimitValues(BaseModel):
    requests_per_minute: int
    burst: int
    reviews_per_hour: int
    llm_tokens_per_day: int
    max_concurrent_reviews: int | None = Field(
        description="null in `settings_default` only: the cap follows the fleet (a fair share of the "
        "reviews in flight of all live workers)"
    )


class LimitOverrides(BaseModel):
    """Only the fields to override; omitted fields keep their current override (or none)."""

    model_config = STRICT

    requests_per_minute: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    burst: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    reviews_per_hour: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    llm_tokens_per_day: int | None = Field(default=None, ge=0, le=MAX_LIMIT)
    max_concurrent_reviews: int | None = Field(default=None, ge=1, le=10_000)


class LimitsOut(BaseModel):
    tenant_id: int
    installation_id: int
    effective: LimitValues
    overrides: dict[str, int]
    settings_default: LimitValues
    policy_generation: int | None
    precedence: str = PRECEDENCE


def _installation(db: Database, tenant_id: int) -> int:
    with db.session() as session:
        return tenant_or_404(session, tenant_id).installation_id


def _read(settings: Settings, client: redis.Redis | None, tenant_id: int, installation_id: int) -> LimitsOut:
    fallback = default_limits(settings)
    cap = settings.tenant_max_concurrent_reviews
    if client is None:
        effective, overrides, generation, concurrency = fallback, {}, None, cap
    else:
        effective = read_limits(client, installation_id, fallback)
        overrides = read_overrides(client, installation_id)
        generation = read_generation(client)
        concurrency = effective_concurrency(client, installation_id, cap) or fair_share(
            client, installation_id
        )
    return LimitsOut(
        tenant_id=tenant_id, installation_id=installation_id,
        effective=LimitValues(**asdict(effective), max_concurrent_reviews=concurrency),
        overrides=overrides, settings_default=LimitValues(**asdict(fallback), max_concurrent_reviews=cap),
        policy_generation=generation,
    )  # fmt: skip


@router.get("/{tenant_id}/limits", response_model=LimitsOut, responses=RESPONSES)
async def get_limits(
    tenant_id: IdPath, _admin: AdminDep, db: DbDep, client: RedisDep, settings: SettingsDep
) -> LimitsOut:
    installation_id = await run_in_threadpool(_installation, db, tenant_id)
    return await run_in_threadpool(_read, settings, client, tenant_id, installation_id)


def _audit(db: Database, actor: str, action: str, tenant_id: int, details: dict[str, object]) -> None:
    with db.session() as session:
        audit.record(session, actor, action, f"tenant:{tenant_id}", tenant_id=tenant_id, details=details)


@router.patch("/{tenant_id}/limits", response_model=LimitsOut, responses=RESPONSES)
async def set_limits(
    tenant_id: IdPath,
    body: LimitOverrides,
    admin: AdminDep,
    db: DbDep,
    client: RedisDep,
    settings: SettingsDep,
) -> LimitsOut:
    """Override some of a tenant's limits now (until the operator's next policy generation)."""
    if client is None:
        raise ProblemError(503, "limits live in Redis: set REVIEWOPS_REDIS_URL", code="redis-required")
    installation_id = await run_in_threadpool(_installation, db, tenant_id)
    values = body.model_dump(exclude_none=True)
    await run_in_threadpool(set_overrides, client, installation_id, values)
    await run_in_threadpool(_audit, db, admin, "limits.set", tenant_id, {"overrides": values})
    return await run_in_threadpool(_read, settings, client, tenant_id, installation_id)


@router.delete("/{tenant_id}/limits", response_model=LimitsOut, responses=RESPONSES)
async def clear_limits(
    tenant_id: IdPath, admin: AdminDep, db: DbDep, client: RedisDep, settings: SettingsDep
) -> LimitsOut:
    """Drop the tenant's overrides: the policy default applies again."""
    if client is None:
        raise ProblemError(503, "limits live in Redis: set REVIEWOPS_REDIS_URL", code="redis-required")
    installation_id = await run_in_threadpool(_installation, db, tenant_id)
    await run_in_threadpool(clear_overrides, client, installation_id)
    await run_in_threadpool(_audit, db, admin, "limits.clear", tenant_id, {})
    return await run_in_threadpool(_read, settings, client, tenant_id, installation_id)
