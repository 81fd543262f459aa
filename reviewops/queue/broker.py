"""Broker construction. The API enqueues by actor name, so it never imports the worker package."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, default_middleware

from reviewops.queue import encoding
from reviewops.queue.fairness import TENANT_OPTION, TenantFairness
from reviewops.queue.names import LIVE_QUEUE, NAMESPACE, REPLAY_QUEUE, parked_messages_key
from reviewops.queue.retries import ClassifiedRetries

encoding.install()

PROCESS_DELIVERY = "process_delivery"
_MESSAGE_NS = uuid.UUID("5d7f6f3e-8a3b-4a0e-9a57-6f1c2b9d4e21")


def delivery_message_id(delivery_id: int) -> str:
    """Deterministic message id per delivery: the outbox sweeper can ask the broker whether it still holds
    a delivery's message, and a re-enqueue overwrites instead of duplicating the body."""
    return str(uuid.uuid5(_MESSAGE_NS, f"delivery:{delivery_id}"))


# The replay lane's actor: same function, lower priority (dramatiq runs lower numbers first), own queue.
PROCESS_DELIVERY_REPLAY = "process_delivery_replay"
LIVE_PRIORITY = 0
REPLAY_PRIORITY = 100


def broker_middleware() -> list[Middleware]:
    """dramatiq's defaults with `Retries` swapped for ReviewOps' error-class aware retries."""
    return [m() for m in default_middleware if m is not Retries] + [ClassifiedRetries()]


def build_broker(
    redis_url: str | None, *, namespace: str = NAMESPACE, **redis_kwargs: Any
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
        broker.add_middleware(MessageLocator())
    else:
        broker = StubBroker(middleware=broker_middleware())
        broker.emit_after("process_boot")
    from reviewops.queue.logcontext import LogContextMiddleware
    from reviewops.queue.tracing import TracingMiddleware

    broker.add_middleware(TracingMiddleware())
    broker.add_middleware(LogContextMiddleware())
    on_park = MessageLocator.record if redis_url else None
    broker.add_middleware(TenantFairness(queues=frozenset({LIVE_QUEUE, REPLAY_QUEUE}), on_park=on_park))
    for queue in (LIVE_QUEUE, REPLAY_QUEUE):
        broker.declare_queue(queue)
    return broker


def delivery_message(
    delivery_id: int,
    *,
    queue: str = LIVE_QUEUE,
    options: dict[str, Any] | None = None,
    tenant: int | None = None,
) -> dramatiq.Message[Any]:
    """The `process_delivery(delivery_id)` message: messages carry ids, never payloads.

    `tenant` (the installation id) lets the fairness middleware cap the tenant's concurrent work; the
    replay queue gets the low-priority replay actor so replays never run ahead of live work.
    """
    actor = PROCESS_DELIVERY_REPLAY if queue == REPLAY_QUEUE else PROCESS_DELIVERY
    options = dict(options or {})
    if tenant is not None:
        options[TENANT_OPTION] = tenant
    return dramatiq.Message(
        queue_name=queue,
        actor_name=actor,
        args=(delivery_id,),
        kwargs={},
        options=options,
        message_id=delivery_message_id(delivery_id),
    )


def enqueue_delivery(
    broker: dramatiq.Broker,
    delivery_id: int,
    *,
    queue: str = LIVE_QUEUE,
    options: dict[str, Any] | None = None,
    tenant: int | None = None,
) -> dramatiq.Message[Any]:
    """Send `process_delivery(delivery_id)` (batches of them: reviewops.queue.batch)."""
    return broker.enqueue(delivery_message(delivery_id, queue=queue, options=options, tenant=tenant))


def broker_holds(broker: dramatiq.Broker, delivery_id: int) -> bool:
    """Whether a Redis broker still holds the delivery's current message: ready, in flight, delayed, in
    dramatiq's own dead-letter set, or parked by tenant fairness until its tenant has a free slot. An
    in-process broker lives and dies with the process: always True."""
    client = getattr(broker, "client", None)
    if client is None:
        return True
    located = client.hget(MessageLocator.KEY, str(delivery_id))
    if located is None:
        return False
    queue, _, redis_id = located.decode().partition("|")
    namespace = getattr(broker, "namespace", "dramatiq")
    base = queue.removesuffix(".DQ")
    pipe = client.pipeline(transaction=False)
    for key in (f"{queue}.msgs", f"{base}.XQ.msgs"):
        pipe.hexists(f"{namespace}:{key}", redis_id)
    pipe.hexists(parked_messages_key(base), redis_id)
    return any(pipe.execute())


class MessageLocator(dramatiq.Middleware):
    """Remembers which Redis message currently carries each delivery (dramatiq keys messages by a random
    `redis_message_id`, new on every retry), so the outbox sweeper can tell a message the broker lost."""

    KEY = "reviewops:delivery-messages"
    _FORGET = (
        "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
        "return redis.call('HDEL', KEYS[1], ARGV[1]) end"
    )

    _local = threading.local()

    @staticmethod
    def _delivery_of(message: Any) -> str | None:
        if message.actor_name.startswith(PROCESS_DELIVERY) and message.args:
            return str(message.args[0])
        return None

    @classmethod
    def entry(cls, message: Any) -> tuple[str, str] | None:
        """The (field, value) this message's enqueue records, if it carries a delivery."""
        delivery, redis_id = cls._delivery_of(message), message.options.get("redis_message_id")
        return (delivery, f"{message.queue_name}|{redis_id}") if delivery and redis_id else None

    @classmethod
    @contextmanager
    def recorded(cls) -> Iterator[None]:
        """Enqueues in this block had their entries written already (reviewops.queue.batch)."""
        cls._local.recorded = True
        try:
            yield
        finally:
            cls._local.recorded = False

    @classmethod
    def record(cls, client: Any, message: Any) -> None:
        """Record where `message` (with its redis_message_id) will live: fairness parks a copy under a new
        id, which its wake-up writes into the queue (see reviewops.queue.fairness)."""
        entry = cls.entry(message)
        if entry is not None:
            client.hset(cls.KEY, *entry)

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        client, entry = getattr(broker, "client", None), self.entry(message)
        if client is not None and entry is not None and not getattr(self._local, "recorded", False):
            client.hset(self.KEY, *entry)

    def after_ack(self, broker: dramatiq.Broker, message: Any) -> None:
        client, delivery = getattr(broker, "client", None), self._delivery_of(message)
        redis_id = message.options.get("redis_message_id")
        if client is not None and delivery and redis_id:
            # Only forget it if no retry has replaced it in the meantime.
            client.eval(self._FORGET, 1, self.KEY, delivery, f"{message.queue_name}|{redis_id}")
