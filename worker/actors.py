"""Actor declarations. Actors take ids, never objects, and are bound to an explicit broker (no global)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq
import structlog

from reviewops.db.session import Database
from reviewops.errors import PermanentError
from reviewops.pipeline import processing, routing
from reviewops.queue.broker import LIVE_QUEUE, PROCESS_DELIVERY
from reviewops.settings import Settings


@dataclass
class WorkerRuntime:
    """What actors need from the process: built once at start-up, shared by all worker threads."""

    settings: Settings
    db: Database


def register_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> dict[str, dramatiq.Actor[Any, Any]]:
    def process_delivery(delivery_id: int) -> None:
        # Worker threads are reused: each message starts with a clean log context.
        structlog.contextvars.clear_contextvars()
        try:
            processing.process_delivery(runtime.db, runtime.settings, delivery_id, routing.route)
        finally:
            structlog.contextvars.clear_contextvars()

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
        broker=broker,
        actor_name=PROCESS_DELIVERY,
        queue_name=LIVE_QUEUE,
        max_retries=runtime.settings.retry_max,
        min_backoff=int(runtime.settings.retry_min_backoff_seconds * 1000),
        max_backoff=int(runtime.settings.retry_max_backoff_seconds * 1000),
        throws=(PermanentError,),
    )(process_delivery)
    return {PROCESS_DELIVERY: actor}
