"""Look up a stored delivery by GitHub's delivery id (admin): what happened to my webhook?"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, DbDep
from api.problems import ProblemError
from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database

router = APIRouter(tags=["deliveries"])


class DeliveryOut(BaseModel):
    delivery_guid: str
    app_id: int
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    processed_at: datetime | None


def _load(db: Database, guid: str) -> list[DeliveryOut]:
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery).where(WebhookDelivery.delivery_guid == guid).order_by(WebhookDelivery.id)
        ).scalars()
        return [
            DeliveryOut(
                delivery_guid=r.delivery_guid, app_id=r.app_id, event=r.event, action=r.action,
                installation_id=r.installation_id, repository=r.repository, status=r.status,
                attempts=r.attempts, error=r.error, created_at=r.created_at, updated_at=r.updated_at,
                queued_at=r.queued_at, processed_at=r.processed_at,
            )
            for r in rows
        ]  # fmt: skip


@router.get("/webhooks/github/deliveries/{delivery_guid}", response_model=DeliveryOut)
async def get_delivery(delivery_guid: str, db: DbDep, _admin: AdminDep) -> DeliveryOut:
    found = await run_in_threadpool(_load, db, delivery_guid)
    if not found:
        raise ProblemError(404, f"no delivery {delivery_guid!r} is stored", code="not-found")
    return found[0]
