"""Queue gauges, read from the broker's hashes when Prometheus scrapes (via reviewops.telemetry.scrape).

- reviewops_queue_depth{queue}: ready + in-flight (`<q>.msgs`) + delayed (`<q>.DQ.msgs`) + parked by
  tenant fairness (`reviewops:fair:parked:<q>`), never LLEN.
- reviewops_queue_oldest_message_age_seconds{queue}: now - the smallest `message_timestamp` among the head
  of the ready list and a bounded HSCAN sample of both hashes (exact for short queues, a lower bound for
  very long ones), leaving out delayed messages whose eta has not come (a review held by its tenant's
  hourly limit is not late work, and counting it fired the oldest-message alert in normal operation);
  0 when the queue is empty.
- reviewops_queue_delayed_messages{queue}: delayed messages not due yet (held reviews, retry backoff,
  apart from the depth, which counts them.
- reviewops_fair_parked_messages{queue}: messages parked by tenant fairness until their tenant has a free
  slot (included in the depth); reviewops_fair_fleet_capacity: reviews in flight of all live workers
  (what the default per-tenant cap is a share of); reviewops_fair_active_tenants: tenants with running or
  parked reviews (the share's divisor).

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

from reviewops.queue.backlog import read_backlog
from reviewops.queue.fairslots import ACTIVE_KEY, FLEET_KEY
from reviewops.queue.names import (
    NAMESPACE,
    delayed_messages_key,
    messages_key,
    parked_messages_key,
    ready_key,
)
from reviewops.telemetry.scrape import register_source

SCAN_LIMIT = 1000


def _timestamp(body: bytes | str | None, not_after_ms: float | None = None) -> int | None:
    """The body's message_timestamp; None for garbage, or when its eta is after `not_after_ms`."""
    if not body:
        return None
    try:
        data = json.loads(body)
        value = data.get("message_timestamp")
        eta = (data.get("options") or {}).get("eta")
    except (ValueError, AttributeError):
        return None
    if not_after_ms is not None and isinstance(eta, int | float) and eta > not_after_ms:
        return None  # delayed and not due: not waiting for a worker
    return int(value) if isinstance(value, int | float) else None


def oldest_message_timestamp(
    client: redis.Redis, queue: str, namespace: str = NAMESPACE, limit: int = SCAN_LIMIT,
    now_ms: float | None = None,
) -> int | None:  # fmt: skip
    """Smallest message_timestamp (ms) found in the queue's hashes, scanning at most `limit` entries each;
    delayed messages due after `now_ms` (when given) are left out."""
    stamps: list[int] = []
    head = client.lindex(ready_key(queue, namespace), 0)
    if head is not None:
        stamp = _timestamp(client.hget(messages_key(queue, namespace), head))
        if stamp is not None:
            stamps.append(stamp)
    hashes = ((messages_key(queue, namespace), None), (delayed_messages_key(queue, namespace), now_ms),
              (parked_messages_key(queue), None))  # fmt: skip
    for key, not_after in hashes:
        for seen, (_id, body) in enumerate(client.hscan_iter(key, count=200)):
            if seen >= limit:
                break
            stamp = _timestamp(body, not_after)
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
    delayed = GaugeMetricFamily(
        "reviewops_queue_delayed_messages",
        "Delayed messages not due yet (held reviews, retries in backoff, deferrals); included in the depth.",
        labels=["queue"],
    )
    parked = GaugeMetricFamily(
        "reviewops_fair_parked_messages",
        "Messages parked until their tenant has a free slot (tenant fairness); included in the depth.",
        labels=["queue"],
    )
    fleet = GaugeMetricFamily(
        "reviewops_fair_fleet_capacity", "Reviews in flight of all live workers (default caps share it)."
    )
    active = GaugeMetricFamily("reviewops_fair_active_tenants", "Tenants with running or parked reviews.")
    if not isinstance(broker, RedisBroker):
        return [depth, age, delayed]
    now = time.time() * 1000
    for queue in declared_queues(broker):
        found = read_backlog(broker.client, queue, now_ms=now, horizon_seconds=0, namespace=broker.namespace)
        depth.add_metric([queue], found.total)
        delayed.add_metric([queue], found.delayed_later)
        parked.add_metric([queue], found.parked)
        oldest = oldest_message_timestamp(broker.client, queue, broker.namespace, now_ms=now)
        age.add_metric([queue], max(0.0, (now - oldest) / 1000) if oldest else 0.0)
    fleet.add_metric([], float(broker.client.get(FLEET_KEY) or 0))
    active.add_metric([], float(broker.client.scard(ACTIVE_KEY)))
    return [depth, age, delayed, parked, fleet, active]


def register_queue_gauges(broker: dramatiq.Broker) -> None:
    register_source("queue", lambda: queue_families(broker))
