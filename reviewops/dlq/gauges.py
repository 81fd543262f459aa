"""The dead-letter gauge, read from PostgreSQL when Prometheus scrapes (via reviewops.telemetry.scrape).

reviewops_dead_letters{queue,error_type}: unreplayed rows of `dead_letters`, with a zero for every queue
and error kind so alerts see the series before the first dead letter. Shared state: aggregate with `max`.
"""

from __future__ import annotations

import dramatiq
from prometheus_client.core import GaugeMetricFamily, Metric

from reviewops.db.session import Database
from reviewops.dlq.store import ERROR_TYPES, pending_by_queue
from reviewops.queue.gauges import declared_queues
from reviewops.telemetry.scrape import register_source


def dead_letter_families(db: Database, broker: dramatiq.Broker) -> list[Metric]:
    dead = GaugeMetricFamily(
        "reviewops_dead_letters", "Unreplayed dead letters, by queue and error kind.",
        labels=["queue", "error_type"],
    )  # fmt: skip
    counts = pending_by_queue(db)
    for queue in declared_queues(broker):
        for error_type in ERROR_TYPES:
            counts.setdefault((queue, error_type), 0)
    for (queue, error_type), count in sorted(counts.items()):
        dead.add_metric([queue, error_type], count)
    return [dead]


def register_dead_letter_gauges(db: Database, broker: dramatiq.Broker) -> None:
    register_source("dead-letter", lambda: dead_letter_families(db, broker))
