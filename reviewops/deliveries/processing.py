"""Worker-side processing of one stored delivery: claim it, route it by event, record the outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewops.db.models import DELIVERY_DONE, DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.deliveries.payload_facts import facts_of
from reviewops.errors import PermanentError
from reviewops.reviews.work import ReviewWork
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from reviewops.telemetry.tracing import tracer

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a route handler may use: the open session (its writes commit with the outcome) and settings.

    Work that must see the handler's rows committed (running a review) goes in `after_commit`: it runs in
    the same message after the commit, and the delivery is marked done only when it has succeeded.
    """

    session: Session
    settings: Settings
    delivery: WebhookDelivery
    reason: str | None = None  # stored as the delivery's status_reason: why it was ignored or what it did
    command: str | None = None  # a recognised /review or /reviewops command
    # Runs reviews and answers commands after the commit (reviewops.reviews.work); parts None without an App.
    reviews: ReviewWork = field(default_factory=ReviewWork)
    after_commit: list[Callable[[], object]] = field(default_factory=list)

    def ignore(self, reason: str) -> str:
        self.reason = reason
        return DeliveryStatus.IGNORED


Handler = Callable[[Context], str]


def pr_number(payload: dict[str, object]) -> int | None:
    """The PR (or issue) a delivery is about, for logs; None for repository-wide events."""
    return facts_of(payload).pr_number


def process_delivery(
    db: Database,
    settings: Settings,
    delivery_id: int,
    router: Callable[[str, str | None], Handler | None],
    reviews: ReviewWork | None = None,
) -> str:
    """Process a delivery exactly once; a second call for a finished delivery does nothing.

    The handler's writes and the final status commit in one transaction, so a crash in between
    leaves the delivery retryable and creates nothing twice. With follow-up work (`after_commit`), the
    handler's writes commit first, the work runs, and only then is the delivery marked done; a failure
    leaves it `failed` for the retry, and handlers find their earlier rows again.
    """
    started = time.perf_counter()
    with tracer().start_as_current_span("db.claim_delivery"), db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise PermanentError(f"delivery {delivery_id} does not exist")
        structlog.contextvars.bind_contextvars(
            delivery_guid=delivery.delivery_guid,
            tenant=delivery.installation_id,
            repository=delivery.repository,
            pr=pr_number(delivery.payload),
        )
        if delivery.status in DELIVERY_DONE:
            log.info("delivery %s already %s, nothing to do", delivery_id, delivery.status)
            return delivery.status
        event, action, guid = delivery.event, delivery.action, delivery.delivery_guid
        delivery.status = DeliveryStatus.PROCESSING
        delivery.attempts += 1
    try:
        route_span = tracer().start_as_current_span(
            f"route {event}", attributes={"github.event": event, "github.action": action or ""}
        )
        # Follow-up work (the review, command replies) runs inside the route span: one delivery is one tree.
        with route_span:
            with db.session() as session:
                delivery = session.execute(
                    select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                ).scalar_one()
                handler = router(event, action)
                ctx = Context(session, settings, delivery, reviews=reviews or ReviewWork())
                outcome = handler(ctx) if handler else ctx.ignore(f"event {event!r} is not handled")
                follow_ups = list(ctx.after_commit)
                delivery.status_reason = reason = ctx.reason
                if not follow_ups:
                    _mark_done(delivery, outcome)
            if follow_ups:
                for work in follow_ups:
                    work()
                with tracer().start_as_current_span("db.finish_delivery"), db.session() as session:
                    done = session.get(WebhookDelivery, delivery_id)
                    if done is not None:
                        _mark_done(done, outcome)
    except Exception as exc:
        with db.session() as session:
            failed = session.get(WebhookDelivery, delivery_id)
            if failed is not None:
                failed.status = DeliveryStatus.FAILED
                failed.error = f"{type(exc).__name__}: {exc}"[:2000]
        metrics.DELIVERIES_PROCESSED.labels(metrics.event_label(event), "failed").inc()
        raise
    finally:
        metrics.DELIVERY_PROCESSING_SECONDS.labels(metrics.event_label(event)).observe(
            time.perf_counter() - started
        )
    metrics.DELIVERIES_PROCESSED.labels(metrics.event_label(event), outcome).inc()
    # One human line per delivery: what a newcomer watching `reviewops serve` needs to see.
    log.info("delivery %s %s: %s%s", guid, event + (f".{action}" if action else ""), outcome,
             f" ({reason})" if reason else "")  # fmt: skip
    return outcome


def _mark_done(delivery: WebhookDelivery, outcome: str) -> None:
    delivery.status = DeliveryStatus(outcome)
    delivery.error = None
    delivery.processed_at = utcnow()
