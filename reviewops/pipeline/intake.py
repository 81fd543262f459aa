"""Durable intake: a delivery row is committed before it is acknowledged, then handed to the broker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import dramatiq
from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reviewops.db.models import DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.pipeline.tenants import installation_id_of
from reviewops.queue.broker import enqueue_delivery

log = logging.getLogger(__name__)

IntakeStatus = Literal["queued", "stored", "duplicate"]
# A redelivery of one of these is work that did not finish: it is put back on the queue.
REQUEUE_ON_REDELIVERY = frozenset({DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value})


@dataclass(frozen=True)
class IncomingDelivery:
    app_id: int
    guid: str
    event: str
    action: str | None
    payload: dict[str, Any]

    @property
    def installation_id(self) -> int | None:
        return installation_id_of(self.payload)

    @property
    def repository(self) -> str | None:
        repo = self.payload.get("repository")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        return name[:255] if isinstance(name, str) else None


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: int
    status: IntakeStatus
    requeued: bool = False
    previous_status: str | None = None


# The intake is the hot path: plain Core statements on the table, not the ORM's bulk-persistence layer,
# cost markedly less CPU per webhook for the same SQL (see bench/ingest.py).
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]


def _insert_ignore(conn: Connection, values: dict[str, Any]) -> int | None:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id: concurrent duplicates make one row, no error."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(DELIVERIES)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["app_id", "delivery_guid"])
        .returning(DELIVERIES.c.id)
    )
    return conn.execute(stmt).scalar_one_or_none()


def store(db: Database, incoming: IncomingDelivery) -> IntakeResult:
    """Commit the delivery (or find the earlier copy). Returns before anything is enqueued."""
    now = utcnow()
    with db.engine.begin() as conn:
        new_id = _insert_ignore(
            conn,
            {
                "app_id": incoming.app_id,
                "delivery_guid": incoming.guid,
                "event": incoming.event,
                "action": incoming.action,
                "installation_id": incoming.installation_id,
                "repository": incoming.repository,
                "payload": incoming.payload,
                "status": DeliveryStatus.RECEIVED.value,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        if new_id is not None:
            return IntakeResult(new_id, "stored")
        existing = conn.execute(
            select(DELIVERIES.c.id, DELIVERIES.c.status).where(
                DELIVERIES.c.app_id == incoming.app_id, DELIVERIES.c.delivery_guid == incoming.guid
            )
        ).one()
        if existing.status in REQUEUE_ON_REDELIVERY:
            # Claim the requeue with a conditional update so two racing redeliveries requeue once.
            claimed = conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == existing.id, DELIVERIES.c.status == existing.status)
                .values(status=DeliveryStatus.RECEIVED.value, error=None, updated_at=now)
                .returning(DELIVERIES.c.id)
            ).first()
            return IntakeResult(
                existing.id, "duplicate", requeued=claimed is not None, previous_status=existing.status
            )
        return IntakeResult(existing.id, "duplicate", previous_status=existing.status)


def hand_to_broker(
    db: Database, broker: dramatiq.Broker, delivery_id: int, queue: str, *, tenant: int | None = None
) -> bool:
    """Enqueue a stored delivery and mark it queued. False (row left `received`) if the broker is down.

    A row left `received` is picked up by the outbox sweeper, so a broker outage loses nothing.
    """
    try:
        enqueue_delivery(broker, delivery_id, queue=queue, tenant=tenant)
    except Exception as exc:  # the broker raises connection errors of several kinds
        log.warning("broker unavailable, delivery %s left in outbox: %s", delivery_id, type(exc).__name__)
        return False
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == DeliveryStatus.RECEIVED.value)
            .values(status=DeliveryStatus.QUEUED.value, queued_at=now, updated_at=now)
        )
    return True
