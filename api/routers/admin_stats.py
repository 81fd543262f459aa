"""Admin API: counts for dashboards and smoke tests (deliveries by status, queue depth, tenants)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, BrokerDep, DbDep, RedisDep
from reviewops.db.models import Review, Tenant, WebhookDelivery
from reviewops.db.session import Database
from reviewops.queue.backlog import total_backlog
from reviewops.queue.names import LIVE_QUEUE, NAMESPACE, REPLAY_QUEUE

router = APIRouter(prefix="/api/v1/admin", tags=["admin: stats"])


class StatsOut(BaseModel):
    deliveries: dict[str, int]
    reviews: dict[str, int]
    tenants: dict[str, int]
    queues: dict[str, int]


def _counts(db: Database) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    out = []
    with db.session() as session:
        for column in (WebhookDelivery.status, Review.status, Tenant.status):
            rows = session.execute(select(column, func.count()).group_by(column)).all()
            out.append({str(status): int(count) for status, count in rows})
    return out[0], out[1], out[2]


def _queues(client: Any, broker: Any) -> dict[str, int]:
    if client is not None:
        return total_backlog(client, (LIVE_QUEUE, REPLAY_QUEUE), getattr(broker, "namespace", NAMESPACE))
    # Embedded default: the in-process broker's own queues.
    queues = getattr(broker, "queues", {})
    return {name: queues[name].qsize() for name in (LIVE_QUEUE, REPLAY_QUEUE) if name in queues}


@router.get("/stats", response_model=StatsOut)
async def get_stats(_admin: AdminDep, db: DbDep, client: RedisDep, broker: BrokerDep) -> StatsOut:
    deliveries, reviews, tenants = await run_in_threadpool(_counts, db)
    queues = await run_in_threadpool(_queues, client, broker)
    return StatsOut(deliveries=deliveries, reviews=reviews, tenants=tenants, queues=queues)
