"""Nothing is lost when Redis goes away: stored deliveries are swept onto the broker when it is back,
and messages a restarted (empty) Redis forgot are found from the database and re-enqueued."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries.outbox import sweep
from reviewops.queue.broker import build_broker
from reviewops.settings import Settings
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping it does not disturb other tests."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


def statuses(db: Database) -> dict[str, tuple[str, int]]:
    with db.session() as s:
        return {r.delivery_guid: (r.status, r.attempts) for r in s.execute(select(WebhookDelivery)).scalars()}


def post(client: Any, guid: str) -> Any:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid=guid)
    return client.post("/webhooks/github", content=body, headers=headers)


def test_redis_down_then_back_loses_nothing(own_redis: RedisServer, settings: Settings, db: Database) -> None:
    from worker.main import start_worker

    cfg = settings.model_copy(update={"redis_url": own_redis.url, "outbox_sweep_interval_seconds": 0})
    broker = build_broker(own_redis.url)
    worker = start_worker(broker, cfg, db, threads=2)
    try:
        with TestClient(create_app(cfg, db=db, broker=broker)) as client:
            assert post(client, "before").json()["status"] == "queued"
            wait_until(lambda: statuses(db)["before"][0] == "processed")

            own_redis.stop()
            answers = [post(client, f"during-{i}") for i in range(5)]
            assert [a.status_code for a in answers] == [202] * 5
            assert {a.json()["status"] for a in answers} == {"stored"}
            assert sweep(db, broker, received_after=0).broker_down

            own_redis.start()  # same port, empty
            result = sweep(db, broker, received_after=0)
            assert (result.enqueued, result.pending) == (5, 0)
            wait_until(lambda: all(s == ("processed", 1) for s in statuses(db).values()), timeout=30)
    finally:
        worker.stop(timeout=5000)
        broker.close()
    assert len(statuses(db)) == 6


def test_messages_forgotten_by_a_restarted_redis_are_recovered(
    own_redis: RedisServer, settings: Settings, db: Database
) -> None:
    from worker.main import start_worker

    cfg = settings.model_copy(update={"redis_url": own_redis.url, "outbox_sweep_interval_seconds": 0})
    broker = build_broker(own_redis.url)
    with TestClient(create_app(cfg, db=db, broker=broker)) as client:
        for i in range(3):
            assert post(client, f"queued-{i}").json()["status"] == "queued"
    assert sweep(db, broker, received_after=0, stale_after=0).recovered == 0  # still held: nothing to do
    own_redis.stop()
    own_redis.start()  # no persistence: the three queued messages are gone
    result = sweep(db, broker, received_after=0, stale_after=0)
    assert result.recovered == 3
    worker = start_worker(broker, cfg, db, threads=2)
    try:
        wait_until(lambda: all(s == ("processed", 1) for s in statuses(db).values()), timeout=30)
        assert sweep(db, broker, received_after=0, stale_after=0).recovered == 0
    finally:
        worker.stop(timeout=5000)
        broker.close()


def test_an_embedded_restart_requeues_what_the_last_process_had_in_flight(tmp_path: Any) -> None:
    """The in-process queue dies with the process: at start-up every in-flight delivery is enqueued again
    (they stayed `queued` for good before), finished ones are left alone, and Redis brokers are untouched."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker
    from sqlalchemy import update

    from reviewops.db.migrate import upgrade
    from reviewops.deliveries import intake
    from reviewops.deliveries.outbox import requeue_in_flight
    from reviewops.queue.broker import LIVE_QUEUE

    url = f"sqlite:///{tmp_path / 'reviewops.db'}"
    upgrade(url)
    db = Database(url)
    payload = load_payload("ping/payload.json")
    ids = {g: intake.store(db, intake.IncomingDelivery(1, g, "ping", None, payload)).delivery_id
           for g in ("queued", "processing", "received", "processed")}  # fmt: skip
    with db.session() as s:
        for status in ("processing", "received", "processed"):
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == ids[status]).values(status=status))
    restarted = build_broker(None)
    try:
        assert isinstance(restarted, StubBroker)
        assert requeue_in_flight(db, restarted) == 3
        raw = [restarted.queues[LIVE_QUEUE].get_nowait() for _ in range(3)]
        queued = [dramatiq.Message.decode(m).args[0] for m in raw]
        assert sorted(queued) == sorted(ids[g] for g in ("queued", "processing", "received"))
        assert restarted.queues[LIVE_QUEUE].empty()
        assert statuses(db)["processed"][0] == "processed"
        assert {statuses(db)[g][0] for g in ("queued", "processing", "received")} == {"queued"}
    finally:
        restarted.close()
        db.dispose()


def test_requeue_in_flight_leaves_a_redis_broker_alone(db: Database, broker: Any) -> None:
    from reviewops.deliveries import intake
    from reviewops.deliveries.outbox import requeue_in_flight

    intake.store(db, intake.IncomingDelivery(1, "r-1", "ping", None, load_payload("ping/payload.json")))
    assert requeue_in_flight(db, broker) == 0


def test_the_lost_message_check_runs_at_once_when_the_broker_comes_back(
    db: Database, own_redis: RedisServer
) -> None:
    """Before issue 18 a delivery whose message a restarted Redis lost waited `stale_after` (120 s: 114 s
    measured) for the check; now the first sweep after the restart checks with the short grace."""
    from datetime import timedelta

    from sqlalchemy import update

    from reviewops.db.types import utcnow
    from reviewops.deliveries import intake
    from reviewops.deliveries.outbox import Sweeper
    from reviewops.queue.broker import LIVE_QUEUE, broker_holds

    broker = build_broker(own_redis.url)
    try:
        sweeper = Sweeper(db, broker, received_after=10, stale_after=120)
        stored = intake.accept(
            db, broker, intake.IncomingDelivery(1, "lost-1", "ping", None, {"zen": "z"}), LIVE_QUEUE
        )
        assert sweeper.tick().recovered == 0
        own_redis.stop()  # the message dies with the server's memory
        own_redis.start()
        with db.session() as s:  # queued 30 s ago: older than the grace, far younger than stale_after
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == stored.delivery_id)
                .values(updated_at=utcnow() - timedelta(seconds=30))
            )
        assert not broker_holds(broker, stored.delivery_id)
        assert sweeper.tick().recovered == 1
        assert broker_holds(broker, stored.delivery_id)
        assert sweeper.tick().recovered == 0  # back to the normal cadence
    finally:
        broker.close()
