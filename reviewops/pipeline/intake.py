"""Durable intake: a delivery row is committed before it is acknowledged, then handed to the broker.

The hot path is one autocommit INSERT (written as `queued`, the normal outcome) and one enqueue. Only
when the broker refuses is the row turned back to `received`, for the outbox sweeper to hand over. A
crash between the INSERT and the enqueue leaves a `queued` row the broker does not hold: the sweeper's
lost-message check (reviewops.pipeline.outbox) finds and re-enqueues it, so nothing is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import dramatiq
from sqlalchemy import Connection, Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

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


def without_nul(value: Any) -> Any:
    """The payload with every NUL character replaced by U+FFFD: PostgreSQL's jsonb refuses "\\u0000",
    and refusing the delivery over it would lose it for good (GitHub's redelivery carries it too)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


# The intake is the hot path: Core statements built once (building one per call costs more CPU than
# the database round trip; see bench/ingest.py), executed with fresh parameters.
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_INSERT_IGNORE: dict[str, Insert] = {
    name: dialect.insert(DELIVERIES)
    .on_conflict_do_nothing(index_elements=["app_id", "delivery_guid"])
    .returning(DELIVERIES.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _insert_ignore(conn: Connection, values: dict[str, Any]) -> int | None:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id: concurrent duplicates make one row, no error."""
    return conn.execute(_INSERT_IGNORE[conn.dialect.name], values).scalar_one_or_none()


def _insert_new(db: Database, values: dict[str, Any]) -> int | None:
    """One autocommit statement: durable when it returns. The intake engine skips the pool's pre-ping
    round trip, so a connection the server dropped is retried once on a fresh one (the statement is
    idempotent: a retry after an unseen commit finds the row and reports it as a duplicate)."""
    for attempt in (1, 2):
        try:
            with db.intake_engine.connect() as conn:
                return _insert_ignore(conn, values)
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.info("intake: database connection was dropped; retrying on a fresh one")
    raise AssertionError("unreachable")


def store(db: Database, incoming: IncomingDelivery) -> IntakeResult:
    """Commit the delivery as `queued` (or find the earlier copy). Returns before anything is enqueued:
    callers hand it to the broker with `hand_to_broker`, which undoes the mark if the broker refuses."""
    now = utcnow()
    new_id = _insert_new(
        db,
        {
            "app_id": incoming.app_id,
            "delivery_guid": incoming.guid,
            "event": incoming.event,
            "action": incoming.action,
            "installation_id": incoming.installation_id,
            "repository": incoming.repository,
            "payload": incoming.payload,
            "status": DeliveryStatus.QUEUED.value,
            "attempts": 0,
            "queued_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    if new_id is not None:
        return IntakeResult(new_id, "stored")
    with db.engine.begin() as conn:
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
                .values(status=DeliveryStatus.QUEUED.value, error=None, queued_at=now, updated_at=now)
                .returning(DELIVERIES.c.id)
            ).first()
            return IntakeResult(
                existing.id, "duplicate", requeued=claimed is not None, previous_status=existing.status
            )
        return IntakeResult(existing.id, "duplicate", previous_status=existing.status)


def hand_to_broker(
    db: Database, broker: dramatiq.Broker, delivery_id: int, queue: str, *, tenant: int | None = None
) -> bool:
    """Enqueue a stored delivery. False, with the row turned back to `received`, if the broker is down.

    A `received` row is picked up by the outbox sweeper, so a broker outage loses nothing.
    """
    try:
        enqueue_delivery(broker, delivery_id, queue=queue, tenant=tenant)
        return True
    except Exception as exc:  # the broker raises connection errors of several kinds
        log.warning("broker unavailable, delivery %s left in outbox: %s", delivery_id, type(exc).__name__)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status == DeliveryStatus.QUEUED.value)
                .values(status=DeliveryStatus.RECEIVED.value, queued_at=None, updated_at=utcnow())
            )
    except SQLAlchemyError as exc:
        # Stored as `queued` with no message: the outbox's lost-message check re-enqueues it.
        log.warning("delivery %s could not be returned to the outbox: %s", delivery_id, type(exc).__name__)
    return False


def accept(db: Database, broker: dramatiq.Broker, incoming: IncomingDelivery, queue: str) -> IntakeResult:
    """Store, then enqueue when there is something to do: the webhook's whole blocking part, in one call
    so the API spends one thread hop on it."""
    result = store(db, incoming)
    if result.status == "duplicate" and not result.requeued:
        return result
    handed = hand_to_broker(db, broker, result.delivery_id, queue, tenant=incoming.installation_id)
    return IntakeResult(result.delivery_id, "queued") if handed and result.status == "stored" else result
