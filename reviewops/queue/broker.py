"""Broker construction. The API enqueues by actor name, so it never imports the worker package."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, default_middleware

from reviewops.queue.retries import ClassifiedRetries

LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
PROCESS_DELIVERY = "process_delivery"
# The replay lane's actor: same function, lower priority (dramatiq runs lower numbers first), own queue.
PROCESS_DELIVERY_REPLAY = "process_delivery_replay"
LIVE_PRIORITY = 0
REPLAY_PRIORITY = 100


def broker_middleware() -> list[Middleware]:
    """dramatiq's defaults with `Retries` swapped for ReviewOps' error-class aware retries."""
    return [m() for m in default_middleware if m is not Retries] + [ClassifiedRetries()]


def build_broker(
    redis_url: str | None, *, namespace: str = "dramatiq", **redis_kwargs: Any
) -> dramatiq.Broker:
    """A Redis broker when a URL is given, else an in-process one (the embedded default).

    `redis_kwargs` may carry `heartbeat_timeout` (ms): how long a silent worker keeps its unacked messages.
    """
    broker: dramatiq.Broker
    if redis_url:
        redis_kwargs.setdefault("socket_connect_timeout", 2)
        redis_kwargs.setdefault("socket_timeout", 5)
        broker = RedisBroker(
            url=redis_url, namespace=namespace, middleware=broker_middleware(), **redis_kwargs
        )
    else:
        broker = StubBroker(middleware=broker_middleware())
        broker.emit_after("process_boot")
    for queue in (LIVE_QUEUE, REPLAY_QUEUE):
        broker.declare_queue(queue)
    return broker


def enqueue_delivery(
    broker: dramatiq.Broker,
    delivery_id: int,
    *,
    queue: str = LIVE_QUEUE,
    options: dict[str, Any] | None = None,
) -> dramatiq.Message[Any]:
    """Send `process_delivery(delivery_id)`: messages carry ids, never payloads."""
    actor = PROCESS_DELIVERY_REPLAY if queue == REPLAY_QUEUE else PROCESS_DELIVERY
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue, actor_name=actor, args=(delivery_id,), kwargs={}, options=options or {}
    )
    return broker.enqueue(message)
