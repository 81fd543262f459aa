"""The transactional outbox: deliveries committed but not (or no longer) on the broker are put back.

Two cases, both found from the database, never from the broker's memory of itself:
- `received` rows: the broker was down when the webhook arrived (the API still answered 202);
- `queued`/`processing`/`failed` rows whose message the broker no longer holds (e.g. Redis restarted
  without persistence). The broker's current message per delivery is tracked (MessageLocator), so
  this is a cheap HGET + HEXISTS per row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
from sqlalchemy import func, select, update

from reviewops.db.models import DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.queue.broker import LIVE_QUEUE, broker_holds, enqueue_delivery
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)
IN_FLIGHT = (DeliveryStatus.QUEUED, DeliveryStatus.PROCESSING, DeliveryStatus.FAILED)


@dataclass(frozen=True)
class SweepResult:
    enqueued: int
    recovered: int
    pending: int
    broker_down: bool = False


def _claim_received(db: Database, cutoff_seconds: float, limit: int) -> list[tuple[int, int | None]]:
    cutoff = utcnow() - timedelta(seconds=cutoff_seconds)
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.installation_id)
            .where(WebhookDelivery.status == DeliveryStatus.RECEIVED, WebhookDelivery.updated_at <= cutoff)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    return [(row.id, row.installation_id) for row in rows]


def _enqueue_claimed(db: Database, broker: dramatiq.Broker, delivery_id: int, tenant: int | None) -> bool:
    """Claim a `received` row (so concurrent sweepers enqueue it once), then enqueue; undo on failure."""
    with db.session() as session:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.RECEIVED)
            .values(status=DeliveryStatus.QUEUED, queued_at=utcnow(), updated_at=utcnow())
            .returning(WebhookDelivery.id)
        ).first()
    if claimed is None:
        return True
    try:
        enqueue_delivery(broker, delivery_id, queue=LIVE_QUEUE, tenant=tenant)
        return True
    except Exception as exc:
        log.warning("outbox: broker still unavailable (%s)", type(exc).__name__)
        with db.session() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.QUEUED)
                .values(status=DeliveryStatus.RECEIVED, queued_at=None)
            )
        return False


def _recover_lost(db: Database, broker: dramatiq.Broker, stale_seconds: float, limit: int) -> int:
    if getattr(broker, "client", None) is None:
        return 0
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.installation_id)
            .where(WebhookDelivery.status.in_(IN_FLIGHT), WebhookDelivery.updated_at <= cutoff)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    recovered = 0
    for delivery_id, tenant in rows:
        if broker_holds(broker, delivery_id):
            continue
        enqueue_delivery(broker, delivery_id, queue=LIVE_QUEUE, tenant=tenant)
        with db.session() as session:
            session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(updated_at=utcnow())
            )
        recovered += 1
        log.warning("outbox: delivery %s was lost by the broker and has been re-enqueued", delivery_id)
    return recovered


def requeue_in_flight(db: Database, broker: dramatiq.Broker) -> int:
    """At start-up with an in-process broker: every delivery the database shows in flight lost its message
    with the previous process (the queue lived in its memory), so all of them are enqueued again.

    Only for the embedded default: with Redis the messages outlive the process and `sweep` finds the few
    that did not. Processing is idempotent per delivery, so a message that did survive costs nothing.
    """
    if getattr(broker, "client", None) is not None:
        return 0
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.installation_id)
            .where(WebhookDelivery.status.in_((*IN_FLIGHT, DeliveryStatus.RECEIVED)))
            .order_by(WebhookDelivery.id)
        ).all()
    for delivery_id, tenant in rows:
        enqueue_delivery(broker, delivery_id, queue=LIVE_QUEUE, tenant=tenant)
    if rows:
        with db.session() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([r.id for r in rows]))
                .values(status=DeliveryStatus.QUEUED, queued_at=utcnow(), updated_at=utcnow())
            )
        log.warning("re-enqueued %s deliveries left in flight by the previous run", len(rows))
    return len(rows)


def sweep(
    db: Database,
    broker: dramatiq.Broker,
    *,
    received_after: float = 10.0,
    stale_after: float = 120.0,
    limit: int = 500,
) -> SweepResult:
    enqueued, broker_down, recovered = 0, False, 0
    for delivery_id, tenant in _claim_received(db, received_after, limit):
        if not _enqueue_claimed(db, broker, delivery_id, tenant):
            broker_down = True
            break
        enqueued += 1
    if not broker_down:
        try:
            recovered = _recover_lost(db, broker, stale_after, limit)
        except Exception as exc:  # broker errors of several kinds; the next sweep tries again
            log.warning("outbox: could not check the broker (%s)", type(exc).__name__)
            broker_down = True
    with db.session() as session:
        pending = session.execute(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.RECEIVED)
        ).scalar_one()
    metrics.OUTBOX_PENDING.set(pending)
    if enqueued or recovered:
        log.info(
            "outbox: enqueued %s stored and %s lost deliveries; %s still pending",
            enqueued,
            recovered,
            pending,
        )
    return SweepResult(enqueued, recovered, pending, broker_down)


def broker_run_id(broker: dramatiq.Broker) -> str | None:
    """The Redis server's run id (a new one after each restart); None if unreachable or not Redis."""
    client = getattr(broker, "client", None)
    if client is None:
        return None
    try:
        return str(client.info("server")["run_id"])
    except Exception:  # redis raises connection errors of several kinds
        return None


class Sweeper:
    """The API's periodic sweep, which also notices the end of a broker outage: a Redis that was down or
    restarted (a new run id) may have lost queued messages, so the lost-message check then runs at once
    with a short grace, not after `stale_after` (a Redis restart left lost deliveries waiting 114 s)."""

    def __init__(
        self, db: Database, broker: dramatiq.Broker, *, received_after: float, stale_after: float
    ) -> None:
        self.db, self.broker = db, broker
        self.received_after, self.stale_after = received_after, stale_after
        self._run_id: str | None = None
        self._was_down = False

    def tick(self) -> SweepResult:
        run_id = broker_run_id(self.broker)
        restarted = self._run_id is not None and run_id is not None and run_id != self._run_id
        outage_over = run_id is not None and (self._was_down or restarted)
        if outage_over:
            log.warning("outbox: the broker is back (%s); checking for lost messages now",
                        "restarted" if restarted else "reachable again")  # fmt: skip
        stale = min(self.received_after, self.stale_after) if outage_over else self.stale_after
        result = sweep(self.db, self.broker, received_after=self.received_after, stale_after=stale)
        self._was_down = result.broker_down or (
            run_id is None and getattr(self.broker, "client", None) is not None
        )
        self._run_id = run_id or self._run_id
        return result
