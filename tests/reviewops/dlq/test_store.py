"""The dead-letter store: retention, the pending count contract, and never losing a failure."""

from __future__ import annotations

import json
from datetime import timedelta

import dramatiq
import redis
from sqlalchemy import select

from reviewops.db.models import DeadLetter
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.dlq.middleware import DeadLetters
from reviewops.dlq.store import PENDING_KEY, apply_retention, publish_pending_count
from reviewops.errors import PermanentError
from reviewops.queue.maintenance import Maintenance
from reviewops.queue.retries import ClassifiedRetries
from tests.support.faults import bulk_dead_letters
from tests.support.waiting import wait_until


def remaining(db: Database) -> list[int]:
    with db.session() as s:
        return list(s.execute(select(DeadLetter.id).order_by(DeadLetter.id)).scalars())


def test_retention_zero_keeps_everything_forever(db: Database) -> None:
    ids = bulk_dead_letters(db, 2, failed_at=utcnow() - timedelta(days=3650))
    assert apply_retention(db, 0) == 0
    assert remaining(db) == ids


def test_retention_drops_only_old_dead_letters(db: Database, redis_client: redis.Redis) -> None:
    bulk_dead_letters(db, 2, failed_at=utcnow() - timedelta(days=40))
    recent = bulk_dead_letters(db, 1, failed_at=utcnow() - timedelta(days=2))
    assert apply_retention(db, 30, redis_client) == 2
    assert remaining(db) == recent
    assert redis_client.get(PENDING_KEY) == b"1"


def test_maintenance_pass_runs_its_tasks(
    db: Database, redis_client: redis.Redis, broker: dramatiq.Broker
) -> None:
    bulk_dead_letters(db, 3)
    maintenance = Maintenance(60, tasks=[lambda: publish_pending_count(db, redis_client)])
    maintenance._broker = broker
    maintenance.run_once()
    assert redis_client.get(PENDING_KEY) == b"3"


def test_a_failure_is_not_lost_while_the_database_is_down(
    broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    down = Database("postgresql+psycopg://postgres@127.0.0.1:1/postgres")
    broker.add_middleware(DeadLetters(down, retry_delay_ms=600_000), before=ClassifiedRetries)

    def doomed() -> None:
        raise PermanentError("invalid payload")

    actor = dramatiq.actor(broker=broker, actor_name="doomed", queue_name="reviews")(doomed)
    message = actor.send()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        bodies = wait_until(lambda: redis_client.hvals("dramatiq:reviews.DQ.msgs"), what="parked retry")
    finally:
        worker.stop(timeout=5000)
        down.dispose()
    (body,) = [json.loads(b) for b in bodies]
    assert body["message_id"] == message.message_id
    assert (
        body["options"]["retries"] == 0 and body["options"]["eta"] - body["options"]["requeue_timestamp"] >= 0
    )
    assert redis_client.zcard("dramatiq:reviews.XQ") == 0  # not given up
