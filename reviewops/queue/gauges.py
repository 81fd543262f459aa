"""Queue gauges, read from the broker's hashes when Prometheus scrapes (via reviewops.telemetry.scrape).

- reviewops_queue_depth{queue}: ready + in-flight (`<q>.msgs`) + delayed (`<q>.DQ.msgs`), never LLEN.
- reviewops_queue_oldest_message_age_seconds{queue}: now - the smallest `message_timestamp` among the head
  of the ready list and a bounded HSCAN sample of both hashes (exact for short queues, a lower bound for
  very long ones); 0 when the queue is empty.

Every process that has the broker exports the same values (shared state): dashboards and alerts
aggregate them with `max`, never `sum`.
"""

from __future__ import annotations

import json
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from prometheus_client.core import GaugeMetricFamily, Metric

from reviewops.queue.backlog import queue_backlog
from reviewops.telemetry.scrape import register_source

SCAN_LIMIT = 1000


def _timestamp(body: bytes | str | None) -> int | None:
    if not body:
        return None
    try:
        value = json.loads(body).get("message_timestamp")
    except (ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int | float) else None


def oldest_message_timestamp(
    client: redis.Redis, queue: str, namespace: str = "dramatiq", limit: int = SCAN_LIMIT
) -> int | None:
    """Smallest message_timestamp (ms) found in the queue's hashes, scanning at most `limit` entries each."""
    stamps: list[int] = []
    head = client.lindex(f"{namespace}:{queue}", 0)
    if head is not None:
        stamp = _timestamp(client.hget(f"{namespace}:{queue}.msgs", head))
        if stamp is not None:
            stamps.append(stamp)
    for key in (f"{namespace}:{queue}.msgs", f"{namespace}:{queue}.DQ.msgs"):
        for seen, (_id, body) in enumerate(client.hscan_iter(key, count=200)):
            if seen >= limit:
                break
            stamp = _timestamp(body)
            if stamp is not None:
                stamps.append(stamp)
    return min(stamps) if stamps else None


def declared_queues(broker: dramatiq.Broker) -> list[str]:
    """The broker's work queues, without dramatiq's delay (.DQ) and dead-letter (.XQ) companions."""
    return sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))


def queue_families(broker: dramatiq.Broker) -> list[Metric]:
    depth = GaugeMetricFamily(
        "reviewops_queue_depth", "Messages ready, in flight or delayed, from the broker's hashes.",
        labels=["queue"],
    )  # fmt: skip
    age = GaugeMetricFamily(
        "reviewops_queue_oldest_message_age_seconds", "Age of the oldest message in the queue.",
        labels=["queue"],
    )  # fmt: skip
    if isinstance(broker, RedisBroker):
        now = time.time() * 1000
        for queue in declared_queues(broker):
            depth.add_metric([queue], queue_backlog(broker.client, queue, broker.namespace))
            oldest = oldest_message_timestamp(broker.client, queue, broker.namespace)
            age.add_metric([queue], max(0.0, (now - oldest) / 1000) if oldest else 0.0)
    return [depth, age]


def register_queue_gauges(broker: dramatiq.Broker) -> None:
    register_source("queue", lambda: queue_families(broker))
