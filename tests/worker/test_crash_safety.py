"""SIGKILL a worker process in the middle of a review: the message is redelivered, the review stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import dramatiq
import redis
from sqlalchemy import func, select

from reviewops.db.models import Review, WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import routing
from reviewops.settings import Settings
from tests.support.faults import running_worker
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request
from tests.worker.blocking_worker import STARTED_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_sigkilled_worker_loses_nothing(
    client: Any, broker: dramatiq.Broker, settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    env = {
        **os.environ,
        "REVIEWOPS_DATABASE_URL": settings.database_url,
        "REVIEWOPS_REDIS_URL": settings.redis_url or "",
        "REVIEWOPS_WORKER_HEARTBEAT_TIMEOUT_SECONDS": "2",
        "REVIEWOPS_MAINTENANCE_INTERVAL_SECONDS": "0.5",
        "REVIEWOPS_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "tests.worker.blocking_worker"], cwd=ROOT, env=env)
    try:
        wait_until(lambda: redis_client.get("test:blocking-worker:ready"), timeout=60, what="worker up")
        body, headers = signed_request("pull_request", load_payload("pull_request/opened.payload.json"))
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
        with db.session() as s:
            delivery_id = s.execute(select(WebhookDelivery.id)).scalar_one()
        wait_until(lambda: redis_client.lrange(STARTED_KEY, 0, -1) == [str(delivery_id).encode()],
                   timeout=30, what="actor running in the worker process")  # fmt: skip
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # Nothing acked the message: it is still in the queue's hash, held by the dead worker.
    assert redis_client.hlen("dramatiq:reviews.msgs") == 1
    assert redis_client.llen("dramatiq:reviews") == 0
    fast = settings.model_copy(
        update={"worker_heartbeat_timeout_seconds": 2, "maintenance_interval_seconds": 0.3}
    )
    with running_worker(broker, fast, db, routing.route, threads=2):
        wait_until(lambda: delivery_status(db, delivery_id) == "processed", timeout=30, what="redelivered")
        with db.session() as s:
            assert s.execute(select(func.count()).select_from(Review)).scalar() == 1
            delivery = s.get(WebhookDelivery, delivery_id)
            assert delivery is not None and delivery.attempts == 2  # killed once, then done once
        wait_until(lambda: redis_client.hlen("dramatiq:reviews.msgs") == 0, what="acked")
    assert redis_client.lrange(STARTED_KEY, 0, -1) == [str(delivery_id).encode()]


def delivery_status(db: Database, delivery_id: int) -> str | None:
    with db.session() as s:
        return s.execute(select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id)).scalar()
