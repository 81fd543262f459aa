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
from reviewops.pipeline.outbox import sweep
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
