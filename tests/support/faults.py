"""Real processing with failures on demand: a router whose `test_fault` handler fails as told via Redis.

`arm(client, delivery_id, times)` makes the next `times` attempts of that delivery fail; the action of
the delivery picks the error (`transient`, `permanent`, `rate_limited`, `keyerror`). Once disarmed, the
handler records the delivery as processed and counts its successful runs in Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import dramatiq
import redis

from reviewops.db.models import DeadLetter, Tenant, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.deliveries import routing
from reviewops.deliveries.processing import Context, Handler
from reviewops.errors import PermanentError, TransientError
from reviewops.settings import Settings

FAULT_EVENT = "test_fault"


def fail_key(delivery_id: int) -> str:
    return f"test:fail:{delivery_id}"


def done_key(delivery_id: int) -> str:
    return f"test:done:{delivery_id}"


ORDER_KEY = "test:completed"


def arm(client: redis.Redis, delivery_id: int, times: int) -> None:
    client.set(fail_key(delivery_id), times)


def make_delivery(db: Database, action: str = "transient", *, tenant_id: int | None = None) -> int:
    now = utcnow()
    with db.session() as session:
        row = WebhookDelivery(
            app_id=0, delivery_guid=f"fault-{now.timestamp()}-{id(object())}", event=FAULT_EVENT,
            action=action, tenant_id=tenant_id, payload={}, status="queued", attempts=0,
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def fault_router(client: redis.Redis) -> Callable[[str, str | None], Handler | None]:
    def handler(ctx: Context) -> str:
        delivery_id = ctx.delivery.id
        remaining = client.decr(fail_key(delivery_id))
        if remaining >= 0:
            action = ctx.delivery.action
            if action == "permanent":
                raise PermanentError(f"delivery {delivery_id} is invalid")
            if action == "rate_limited":
                raise TransientError("secondary rate limit", retry_after=300)
            if action == "keyerror":
                raise KeyError("pull_request")
            raise TransientError(f"GitHub answered 502 for delivery {delivery_id}")
        client.incr(done_key(delivery_id))
        client.rpush(ORDER_KEY, delivery_id)
        return "processed"

    def route(event: str, action: str | None) -> Handler | None:
        return handler if event == FAULT_EVENT else routing.route(event, action)

    return route


@contextmanager
def running_worker(
    broker: dramatiq.Broker, settings: Settings, db: Database, router: Any, threads: int = 2
) -> Iterator[dramatiq.Worker]:
    from worker.main import start_worker

    w = start_worker(broker, settings, db, threads=threads, router=router)
    try:
        yield w
    finally:
        w.stop(timeout=5000)


def bulk_dead_letters(
    db: Database,
    count: int,
    *,
    tenant_id: int | None = None,
    error_type: str = "transient",
    failed_at: datetime | None = None,
    options: dict[str, Any] | None = None,
) -> list[int]:
    """`count` dead deliveries of the fault event with their dead letters, as the worker would leave them."""
    when = failed_at or utcnow()
    with db.session() as session:
        if tenant_id is not None and session.get(Tenant, tenant_id) is None:
            session.add(
                Tenant(id=tenant_id, installation_id=10_000 + tenant_id, account_login=f"t{tenant_id}")
            )
            session.flush()
        deliveries = [
            WebhookDelivery(
                app_id=0,
                delivery_guid=f"bulk-{uuid.uuid4()}",
                event=FAULT_EVENT,
                action="transient",
                tenant_id=tenant_id,
                payload={},
                status="dead",
                attempts=4,
                created_at=when,
                updated_at=when,
            )
            for _ in range(count)
        ]
        session.add_all(deliveries)
        session.flush()
        letters = [
            DeadLetter(
                message_id=str(uuid.uuid4()),
                actor="process_delivery",
                queue="reviews",
                args=[d.id],
                kwargs={},
                options=dict(options or {}),
                tenant_id=tenant_id,
                delivery_id=d.id,
                error_type=error_type,
                error_class="reviewops.errors.TransientError",
                error_message="boom",
                traceback="Traceback ...",
                attempts=4,
                first_failed_at=when,
                last_failed_at=when,
                replay_state="pending",
                replay_count=0,
                created_at=when,
            )
            for d in deliveries
        ]
        session.add_all(letters)
        session.flush()
        return [letter.id for letter in letters]
