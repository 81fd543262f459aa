"""Actor declarations. Actors take ids, never objects, and are bound to an explicit broker (no global)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq

from reviewops.db.session import Database
from reviewops.deliveries import processing, routing
from reviewops.errors import PermanentError
from reviewops.queue.broker import (
    LIVE_PRIORITY,
    LIVE_QUEUE,
    PROCESS_DELIVERY,
    PROCESS_DELIVERY_REPLAY,
    REPLAY_PRIORITY,
    REPLAY_QUEUE,
)
from reviewops.reviews.work import ReviewWork
from reviewops.settings import Settings

Router = Callable[[str, str | None], processing.Handler | None]


@dataclass
class WorkerRuntime:
    """What actors need from the process: built once at start-up, shared by all worker threads."""

    settings: Settings
    db: Database
    # Which handler takes which event; tests inject routers that fail or block on purpose.
    router: Router = field(default=routing.route)
    # Runs reviews and answers PR commands after a delivery commits (parts None without a GitHub App).
    reviews: ReviewWork = field(default_factory=ReviewWork)


def register_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> dict[str, dramatiq.Actor[Any, Any]]:
    """`process_delivery` on the live lane and `process_delivery_replay` (same work) on the replay lane.

    Every worker consumes both queues; dramatiq hands prefetched work to threads by actor priority
    (lower first), so a replayed message never starts while live work is waiting in the process.
    """

    def process_delivery(delivery_id: int) -> None:
        # The log context is set and cleared per message by reviewops.queue.logcontext.LogContextMiddleware.
        processing.process_delivery(
            runtime.db, runtime.settings, delivery_id, runtime.router, runtime.reviews
        )

    retry_options: dict[str, Any] = {
        "max_retries": runtime.settings.retry_max,
        "min_backoff": int(runtime.settings.retry_min_backoff_seconds * 1000),
        "max_backoff": int(runtime.settings.retry_max_backoff_seconds * 1000),
        "throws": (PermanentError,),
    }
    actors: dict[str, dramatiq.Actor[Any, Any]] = {}
    for name, queue, priority in (
        (PROCESS_DELIVERY, LIVE_QUEUE, LIVE_PRIORITY),
        (PROCESS_DELIVERY_REPLAY, REPLAY_QUEUE, REPLAY_PRIORITY),
    ):
        actors[name] = dramatiq.actor(
            broker=broker, actor_name=name, queue_name=queue, priority=priority, **retry_options
        )(process_delivery)
    return actors
