"""Broker construction. The API enqueues by actor name, so it never imports the worker package."""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

LIVE_QUEUE = "reviews"
REPLAY_QUEUE = "reviews.replay"
PROCESS_DELIVERY = "process_delivery"
_MESSAGE_NS = uuid.UUID("5d7f6f3e-8a3b-4a0e-9a57-6f1c2b9d4e21")


def delivery_message_id(delivery_id: int) -> str:
    """Deterministic message id per delivery: the outbox sweeper can ask the broker whether it still holds
    a delivery's message, and a re-enqueue overwrites instead of duplicating the body."""
    return str(uuid.uuid5(_MESSAGE_NS, f"delivery:{delivery_id}"))


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
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue,
        actor_name=PROCESS_DELIVERY,
        args=(delivery_id,),
        kwargs={},
        options=options or {},
        message_id=delivery_message_id(delivery_id),
    )
    return broker.enqueue(message)


def broker_holds(
    broker: dramatiq.Broker, message_id: str, queues: tuple[str, ...] = (LIVE_QUEUE, REPLAY_QUEUE)
) -> bool:
    """Whether a Redis broker still has the message: ready, in flight, delayed or in its own dead-letter set.

    An in-process broker lives and dies with the process, so it is taken to hold everything.
    """
    client = getattr(broker, "client", None)
    namespace = getattr(broker, "namespace", "dramatiq")
    if client is None:
        return True
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        for suffix in (".msgs", ".DQ.msgs", ".XQ.msgs"):
            pipe.hexists(f"{namespace}:{queue}{suffix}", message_id)
    return any(pipe.execute())
