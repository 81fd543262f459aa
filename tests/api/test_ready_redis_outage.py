"""A Redis outage keeps the API pod in the Service: /ready 200 (broker named in its body) and webhooks 202.

Real uvicorn, real PostgreSQL, a real Redis that is stopped mid-test; the stored deliveries are enqueued
once Redis is back (the outbox sweeper), so nothing GitHub sent is lost.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import select

from api.main import create_app
from reviewops.db.models import WebhookDelivery
from reviewops.queue.broker import build_broker
from tests.support.http_server import serve
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request

pytestmark = pytest.mark.timeout(90)

PROBE_TIMEOUT_SECONDS = 3  # charts/reviewops/templates/api/deployment.yaml: readinessProbe.timeoutSeconds


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def test_ready_and_webhooks_accepted_while_redis_is_down(
    settings: Any, db: Any, own_redis: RedisServer
) -> None:
    app_settings = settings.model_copy(
        update={"redis_url": own_redis.url, "outbox_sweep_interval_seconds": 0.2,
                "outbox_received_after_seconds": 0.1}
    )  # fmt: skip
    broker = build_broker(own_redis.url)
    app = create_app(app_settings, db=db, broker=broker)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=15) as http:
            assert http.get("/ready").json()["checks"] == {"database": "ok", "broker": "ok"}
            own_redis.stop()

            ready = http.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "degraded" and ready.json()["down"] == ["broker"]
            assert ready.json()["checks"]["broker"].startswith("down: ")

            body, headers = signed_request("ping", load_payload("ping/payload.json"))
            answer = http.post("/webhooks/github", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            assert answer.json()["status"] == "stored"
            guid = headers["X-GitHub-Delivery"]
            with db.session() as session:
                stored = session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.delivery_guid == guid)
                ).one()
                assert stored.status == "received"
            assert 'reviewops_dependency_up{dependency="broker"} 0.0' in http.get("/metrics").text

            own_redis.start()  # the same port: the sweeper hands the stored delivery to the broker
            wait_until(lambda: http.get("/ready").json()["status"] == "ready", what="broker back")
            client = redis.Redis.from_url(own_redis.url)
            try:
                wait_until(lambda: client.hlen("dramatiq:reviews.msgs") == 1, what="the delivery enqueued")
            finally:
                client.close()
    finally:
        broker.close()


def test_a_broker_that_never_answers_does_not_time_the_probe_out(settings: Any, db: Any) -> None:
    """A partitioned Redis accepts the connection (the kernel's backlog) and never answers a PING: /ready
    must still answer within the kubelet's probe timeout (the chart's 3 s), 200 with the broker named."""
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)  # never accepted, never answered
    url = f"redis://127.0.0.1:{blackhole.getsockname()[1]}/0"
    broker = build_broker(url)
    app = create_app(settings.model_copy(update={"redis_url": url}), db=db, broker=broker)
    try:
        with serve(app) as base, httpx.Client(base_url=base, timeout=PROBE_TIMEOUT_SECONDS) as http:
            for _ in range(3):  # a check still hanging from the last probe is reported, not waited for
                ready = http.get("/ready")
                assert ready.status_code == 200, ready.text
                assert ready.json()["down"] == ["broker"] and ready.json()["status"] == "degraded"
    finally:
        broker.close()
        blackhole.close()
