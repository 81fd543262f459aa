"""Tenant API: usage per day (reviews, LLM tokens), today's token budget and the rate-limit state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import DbDep, RedisDep, SettingsDep, TenantDep
from reviewops.db.models import UsageDaily
from reviewops.db.session import Database
from reviewops.policy.store import read_limits
from reviewops.queue.fairness import running_count
from reviewops.ratelimit import default_limits, tokens_used

router = APIRouter(prefix="/api/v1", tags=["usage"])


class DayUsage(BaseModel):
    day: date
    reviews: int
    llm_prompt_tokens: int
    llm_completion_tokens: int


class Limits(BaseModel):
    requests_per_minute: int
    burst: int
    reviews_per_hour: int
    llm_tokens_per_day: int


class RateLimitState(BaseModel):
    limit: int  # requests per window
    window_seconds: int
    burst: int
    remaining: int
    reset_seconds: float


class UsageOut(BaseModel):
    tenant_id: int
    installation_id: int
    days: list[DayUsage]
    limits: Limits
    llm_tokens_today: int
    llm_allowed: bool
    running_reviews: int
    rate_limit: RateLimitState


def _days(db: Database, tenant_id: int, since: date) -> list[DayUsage]:
    with db.session() as session:
        rows = session.execute(
            select(UsageDaily)
            .where(UsageDaily.tenant_id == tenant_id, UsageDaily.day >= since)
            .order_by(UsageDaily.day.desc())
        ).scalars()
        return [
            DayUsage(day=r.day, reviews=r.reviews, llm_prompt_tokens=r.llm_prompt_tokens,
                     llm_completion_tokens=r.llm_completion_tokens)
            for r in rows
        ]  # fmt: skip


@router.get("/usage", response_model=UsageOut)
async def get_usage(
    tenant: TenantDep,
    db: DbDep,
    client: RedisDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many days back, today included.")] = 30,
) -> UsageOut:
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    history = await run_in_threadpool(_days, db, tenant.tenant_id, since)
    fallback = default_limits(settings)
    if client is not None:
        limits = await run_in_threadpool(read_limits, client, tenant.installation_id, fallback)
        used = await run_in_threadpool(tokens_used, client, tenant.installation_id)
        running = await run_in_threadpool(running_count, client, tenant.installation_id)
    else:
        limits, used, running = fallback, 0, 0
    decision = tenant.decision
    return UsageOut(
        tenant_id=tenant.tenant_id,
        installation_id=tenant.installation_id,
        days=history,
        limits=Limits(**limits.__dict__),
        llm_tokens_today=used,
        llm_allowed=used < limits.llm_tokens_per_day,
        running_reviews=running,
        rate_limit=RateLimitState(
            limit=decision.rate, window_seconds=int(decision.period), burst=decision.burst,
            remaining=decision.remaining, reset_seconds=round(decision.reset, 3),
        ),
    )  # fmt: skip
