"""Enqueue a group-committed batch of deliveries in one Redis round trip.

dramatiq's `RedisBroker.enqueue` costs two round trips per message here (its dispatch script, then the
MessageLocator's HSET) plus redis-py's per-call overhead. For the intake's batches this module does what
`enqueue` does, message by message (a fresh `redis_message_id`, the `before_enqueue` middleware in the
request's context, the dispatch script with the same arguments), but sends the locator entries first and
then every dispatch in one MULTI/EXEC pipeline: a broker that cannot be reached takes none of the batch
(were a script to fail inside the transaction, the caller would send the batch back to the outbox and
processing, idempotent per delivery, absorbs the repeats), and as the locator entries go in before the
messages, a message acked at once cannot leave a stale entry behind (the ack's conditional delete always
comes after). Brokers other than Redis (the embedded in-process one) enqueue one by one.

The dispatch arguments are dramatiq's private layout (unchanged from 1.17 to 2.x); `supports` checks the
attributes it needs and anything else falls back to `broker.enqueue`.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from redis.exceptions import NoScriptError

from reviewops.queue.broker import MessageLocator, delivery_message
from reviewops.queue.tracing import TracingMiddleware

log = logging.getLogger(__name__)
_NEEDED = ("scripts", "client", "namespace", "broker_id", "heartbeat_timeout", "dead_message_ttl",
           "_should_do_maintenance", "_max_unpack_size")  # fmt: skip


def supports(broker: dramatiq.Broker) -> bool:
    return isinstance(broker, RedisBroker) and all(hasattr(broker, a) for a in _NEEDED)


def _in(context: contextvars.Context | None, call: Callable[[], object]) -> None:
    if context is None:
        call()
    else:
        context.run(call)


def enqueue_deliveries(
    broker: dramatiq.Broker,
    deliveries: Sequence[tuple[int, int | None]],
    queue: str,
    contexts: Sequence[contextvars.Context | None] | None = None,
) -> None:
    """Enqueue `process_delivery` for each (delivery id, tenant). Raises if the broker refused (the caller
    sends the batch back to the outbox)."""
    contexts = contexts or [None] * len(deliveries)
    if not supports(broker):
        for (delivery_id, tenant), ctx in zip(deliveries, contexts, strict=True):
            _in(
                ctx,
                functools.partial(broker.enqueue, delivery_message(delivery_id, queue=queue, tenant=tenant)),
            )
        return
    redis: Any = broker
    # The id RedisBroker.enqueue would give each message, set at creation (a copy per message cost more).
    messages = [
        delivery_message(d, queue=queue, tenant=t, options={"redis_message_id": str(uuid.uuid4())})
        for d, t in deliveries
    ]
    for message, ctx in zip(messages, contexts, strict=True):
        _in(ctx, functools.partial(broker.emit_before, "enqueue", message, None))
    try:
        _dispatch_all(redis, messages)
    except BaseException:
        for message in messages:  # end the enqueue spans; nothing else runs for a refused batch
            for middleware in broker.middleware:
                if isinstance(middleware, TracingMiddleware):
                    middleware.after_enqueue(broker, message, None)
        raise
    with MessageLocator.recorded():
        for message, ctx in zip(messages, contexts, strict=True):
            _in(ctx, functools.partial(_enqueued, broker, message))


def _dispatch_all(redis: Any, messages: Sequence[dramatiq.Message[Any]]) -> None:
    """The locator entries, then dramatiq's dispatch script per message, in one MULTI/EXEC.

    EVALSHA directly: redis-py's `Script` on a pipeline first asks `SCRIPT EXISTS`, a second round trip
    per batch. A Redis that forgot the script (restarted, `SCRIPT FLUSH`) fails every EVALSHA of the
    transaction with NOSCRIPT while the locator HSET (idempotent) goes through; the script is loaded and
    the whole transaction sent once more."""
    dispatch = redis.scripts["dispatch"]
    for attempt in (1, 2):
        pipe = redis.client.pipeline(transaction=True)
        entries = dict(e for e in map(MessageLocator.entry, messages) if e is not None)
        if entries:
            pipe.hset(MessageLocator.KEY, mapping=entries)
        for message in messages:
            pipe.evalsha(
                dispatch.sha, 1, redis.namespace,
                "enqueue", current_millis(), message.queue_name, redis.broker_id, redis.heartbeat_timeout,
                redis.dead_message_ttl, redis._should_do_maintenance("enqueue"), redis._max_unpack_size(),
                message.options["redis_message_id"], message.encode(),
            )  # fmt: skip
        try:
            pipe.execute()
            return
        except NoScriptError:
            if attempt == 2:
                raise
            log.info("redis had no dispatch script (restarted or flushed); loading it again")
            redis.client.script_load(dispatch.script)


def _enqueued(broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
    # In the request's context, like dramatiq's own enqueue line: it carries the delivery and the trace.
    log.debug("Enqueued message %r on queue %r.", message.message_id, message.queue_name)
    broker.emit_after("enqueue", message, None)
