"""Queue and dead-letter gauges, read from Redis and PostgreSQL when Prometheus scrapes (cached briefly).

- reviewops_queue_depth{queue}: ready + in-flight (`<q>.msgs`) + delayed (`<q>.DQ.msgs`), never LLEN.
- reviewops_queue_oldest_message_age_seconds{queue}: now - the smallest `message_timestamp` among the head
  of the ready list and a bounded HSCAN sample of both hashes (exact for short queues, a lower bound for
  very long ones), leaving out delayed messages whose eta has not come (a review held by its tenant's
  hourly limit is not late work, and counting it fired the oldest-message alert in normal operation);
  0 when the queue is empty.
- reviewops_queue_delayed_messages{queue}: delayed messages not due yet (held reviews, retry backoff,
  fairness deferrals), apart from the depth, which counts them.
- reviewops_dead_letters{queue,error_type}: unreplayed rows of `dead_letters`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reviewops.db.session import Database
from reviewops.queue.backlog import read_backlog
from reviewops.queue.keys import NAMESPACE, delayed_messages_key, messages_key, ready_key

log = logging.getLogger(__name__)

SCAN_LIMIT = 1000
CACHE_SECONDS = 5.0


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
    for key, not_after in (
        (messages_key(queue, namespace), None),
        (delayed_messages_key(queue, namespace), now_ms),
    ):
        for seen, (_id, body) in enumerate(client.hscan_iter(key, count=200)):
            if seen >= limit:
                break
            stamp = _timestamp(body, not_after)
            if stamp is not None:
                stamps.append(stamp)
    return min(stamps) if stamps else None


class QueueCollector(Collector):
    """Reads the broker's hashes and the dead-letter table at scrape time; failures yield no samples."""

    def __init__(
        self, broker: dramatiq.Broker, db: Database | None, cache_seconds: float = CACHE_SECONDS
    ) -> None:
        self.broker = broker
        self.db = db
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def _queues(self) -> list[str]:
        return sorted(q for q in self.broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))

    def _families(self) -> list[GaugeMetricFamily]:
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
        dead = GaugeMetricFamily(
            "reviewops_dead_letters", "Unreplayed dead letters, by queue and error kind.",
            labels=["queue", "error_type"],
        )  # fmt: skip
        if isinstance(self.broker, RedisBroker):
            try:
                now = time.time() * 1000
                for queue in self._queues():
                    found = read_backlog(
                        self.broker.client,
                        queue,
                        now_ms=now,
                        horizon_seconds=0,
                        namespace=self.broker.namespace,
                    )
                    depth.add_metric([queue], found.total)
                    delayed.add_metric([queue], found.delayed_later)
                    oldest = oldest_message_timestamp(
                        self.broker.client, queue, self.broker.namespace, now_ms=now
                    )
                    age.add_metric([queue], max(0.0, (now - oldest) / 1000) if oldest else 0.0)
            except Exception as exc:
                log.warning("queue gauges unavailable: %s", type(exc).__name__)
        if self.db is not None:
            try:
                from reviewops.dlq.store import ERROR_TYPES, pending_by_queue

                counts = pending_by_queue(self.db)
                for queue in self._queues():
                    for error_type in ERROR_TYPES:
                        counts.setdefault((queue, error_type), 0)
                for (queue, error_type), count in sorted(counts.items()):
                    dead.add_metric([queue, error_type], count)
            except Exception as exc:
                log.warning("dead-letter gauge unavailable: %s", type(exc).__name__)
        return [depth, age, delayed, dead]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.cache_seconds:
                self._cached = (time.monotonic(), self._families())
            families = self._cached[1]
        yield from families

    def describe(self) -> Iterable[Any]:
        return []  # collected lazily: no Redis/PostgreSQL round trip at registration


_installed: QueueCollector | None = None
_install_lock = threading.Lock()


def install_queue_collector(broker: dramatiq.Broker, db: Database | None) -> QueueCollector:
    """Register (or replace) the process-wide collector on the default registry."""
    global _installed
    with _install_lock:
        if _installed is not None:
            REGISTRY.unregister(_installed)
        _installed = QueueCollector(broker, db)
        REGISTRY.register(_installed)
        return _installed


def installed_collector() -> QueueCollector | None:
    """The process-wide collector, for registries other than the default one (multi-process mode)."""
    return _installed
