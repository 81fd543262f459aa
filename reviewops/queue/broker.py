"""Broker construction. The API enqueues by actor name, so it never imports the worker package."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from reviewops.queue.fairness import TENANT_OPTION, TenantFairness

LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
PROCESS_DELIVERY = "process_delivery"


def build_broker(
    redis_url: str | None, *, namespace: str = "dramatiq", **redis_kwargs: Any
) -> dramatiq.Broker:
    """A Redis broker when a URL is given, else an in-process one (the embedded default)."""
    broker: dramatiq.Broker
    if redis_url:
        redis_kwargs.setdefault("socket_connect_timeout", 2)
        redis_kwargs.setdefault("socket_timeout", 5)
        broker = RedisBroker(url=redis_url, namespace=namespace, **redis_kwargs)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(TenantFairness(queues=frozenset({LIVE_QUEUE, REPLAY_QUEUE})))
    for queue in (LIVE_QUEUE, REPLAY_QUEUE):
        broker.declare_queue(queue)
    return broker


def enqueue_delivery(
    broker: dramatiq.Broker,
    delivery_id: int,
    *,
    queue: str = LIVE_QUEUE,
    options: dict[str, Any] | None = None,
    tenant: int | None = None,
) -> dramatiq.Message[Any]:
    """Send `process_delivery(delivery_id)`: messages carry ids, never payloads.

    `tenant` (the installation id) lets the fairness middleware cap the tenant's concurrent work.
    """
    options = dict(options or {})
    if tenant is not None:
        options[TENANT_OPTION] = tenant
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue, actor_name=PROCESS_DELIVERY, args=(delivery_id,), kwargs={}, options=options
    )
    return broker.enqueue(message)
