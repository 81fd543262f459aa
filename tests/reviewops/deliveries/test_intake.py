"""The intake's hot path: one autocommit INSERT written as `queued`, then the enqueue. Its failure
windows are covered here: a crash between the two, a refused enqueue, a connection the server dropped."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
import redis
from sqlalchemy import select, text

from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import intake
from reviewops.deliveries.outbox import sweep
from reviewops.queue.broker import LIVE_QUEUE, broker_holds, build_broker
from tests.support.servers import free_port
from tests.support.webhooks import load_payload


def incoming(guid: str) -> intake.IncomingDelivery:
    payload: dict[str, Any] = load_payload("pull_request/opened.payload.json")
    return intake.IncomingDelivery(1, guid, "pull_request", "opened", payload)


def row(db: Database, guid: str) -> WebhookDelivery:
    with db.session() as s:
        found = s.execute(select(WebhookDelivery).where(WebhookDelivery.delivery_guid == guid)).scalar_one()
        s.expunge(found)
        return found


def test_accept_stores_queued_and_enqueues(db: Database, broker: dramatiq.Broker) -> None:
    result = intake.accept(db, broker, incoming("ok-1"), LIVE_QUEUE)
    assert result.status == "queued"
    stored = row(db, "ok-1")
    assert stored.status == "queued" and stored.queued_at is not None
    assert broker_holds(broker, result.delivery_id)


def test_a_crash_between_insert_and_enqueue_is_recovered_by_the_sweeper(
    db: Database, broker: dramatiq.Broker
) -> None:
    stored = intake.store(db, incoming("crash-1"))  # the process dies here, before the enqueue
    assert row(db, "crash-1").status == "queued" and not broker_holds(broker, stored.delivery_id)
    result = sweep(db, broker, received_after=0, stale_after=0)
    assert result.recovered == 1
    assert broker_holds(broker, stored.delivery_id)


def test_a_refused_enqueue_returns_the_row_to_the_outbox(db: Database) -> None:
    down = build_broker(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        result = intake.accept(db, down, incoming("refused-1"), LIVE_QUEUE)
    finally:
        down.close()
    assert result.status == "stored"
    stored = row(db, "refused-1")
    assert stored.status == "received" and stored.queued_at is None


def test_a_connection_dropped_by_the_server_is_retried_not_refused(
    db: Database, broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    intake.accept(db, broker, incoming("before-drop"), LIVE_QUEUE)  # the intake pool now holds a connection
    with db.engine.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    assert killed >= 1
    result = intake.accept(db, broker, incoming("after-drop"), LIVE_QUEUE)
    assert result.status == "queued"
    assert row(db, "after-drop").status == "queued"


@pytest.mark.parametrize(
    ("installation", "expected"),
    [({"id": 42}, 42), ({"id": True}, None), ({"id": 2**70}, None), ({"id": -3}, None), ({"id": "42"}, None)],
)
def test_the_installation_id_is_a_positive_bigint_or_none(installation: object, expected: int | None) -> None:
    """A JSON `true` was installation 1 (another tenant's), and an id past 64 bits failed the INSERT."""
    assert (
        intake.IncomingDelivery(1, "g", "ping", None, {"installation": installation}).installation_id
        == expected
    )


def test_a_row_the_database_refuses_fails_alone_not_its_batch(db: Database, broker: dramatiq.Broker) -> None:
    """Group commit puts strangers in one INSERT: one unstorable delivery must not fail the others."""
    unstorable = intake.IncomingDelivery(2**70, "too-big-app", "ping", None, {"zen": "z"})
    results = intake.accept_many(db, broker, [incoming("ok-a"), unstorable, incoming("ok-b")], LIVE_QUEUE)
    assert isinstance(results[1], intake.UnstorableDelivery)
    ok = [r for r in results if isinstance(r, intake.IntakeResult)]
    assert [r.status for r in ok] == ["queued", "queued"]
    assert all(broker_holds(broker, r.delivery_id) for r in ok)
    assert {row(db, "ok-a").status, row(db, "ok-b").status} == {"queued"}


def test_a_delivery_needs_its_payload_or_its_text() -> None:
    with pytest.raises(ValueError, match="payload"):
        intake.IncomingDelivery(1, "g", "ping", None)
    from_text = intake.IncomingDelivery(1, "g", "ping", None, payload_json='{"installation": {"id": 9}}')
    assert from_text.document == {"installation": {"id": 9}} and from_text.installation_id == 9
