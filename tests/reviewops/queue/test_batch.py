"""One-round-trip enqueue of a batch: every message as dramatiq's own enqueue would leave it, the locator
written first, each message traced in its own request's context, all or nothing."""

from __future__ import annotations

import contextvars
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from opentelemetry import trace

from reviewops.queue.batch import enqueue_deliveries, supports
from reviewops.queue.broker import LIVE_QUEUE, MessageLocator, broker_holds, build_broker
from reviewops.telemetry.tracing import tracer
from tests.support.servers import free_port


def test_a_batch_is_on_the_queue_as_dramatiq_would_put_it(
    broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    assert supports(broker)
    enqueue_deliveries(broker, [(101, 1), (102, 2), (103, None)], LIVE_QUEUE)
    assert redis_client.llen("dramatiq:reviews") == 3
    stored = {
        dramatiq.Message.decode(body).args[0]: (rid.decode(), dramatiq.Message.decode(body))
        for rid, body in redis_client.hgetall("dramatiq:reviews.msgs").items()
    }
    assert set(stored) == {101, 102, 103}
    for delivery_id, (redis_id, message) in stored.items():
        assert message.options["redis_message_id"] == redis_id
        assert message.actor_name == "process_delivery" and message.queue_name == LIVE_QUEUE
        # The locator names exactly the message on the queue, so the outbox can tell it is held.
        assert redis_client.hget(MessageLocator.KEY, str(delivery_id)) == f"reviews|{redis_id}".encode()
        assert broker_holds(broker, delivery_id)
    assert stored[101][1].options["tenant"] == 1 and "tenant" not in stored[103][1].options


def test_each_message_is_traced_in_its_own_requests_context(broker: dramatiq.Broker, spans: Any) -> None:
    contexts = []
    for name in ("request-a", "request-b"):
        with tracer().start_as_current_span(name):
            contexts.append(contextvars.copy_context())
    enqueue_deliveries(broker, [(201, None), (202, None)], LIVE_QUEUE, contexts)
    finished = {s.name: s for s in spans.get_finished_spans()}
    producers = [s for s in spans.get_finished_spans() if s.name == "enqueue process_delivery"]
    assert len(producers) == 2
    parents = {s.parent.span_id for s in producers}  # type: ignore[union-attr]
    assert parents == {finished["request-a"].context.span_id, finished["request-b"].context.span_id}
    assert all(s.kind == trace.SpanKind.PRODUCER for s in producers)


def test_a_broker_that_cannot_be_reached_raises() -> None:
    down = build_broker(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(Exception):  # noqa: B017 - redis raises connection errors of several kinds
            enqueue_deliveries(down, [(301, None), (302, None)], LIVE_QUEUE)
    finally:
        down.close()


def test_an_in_process_broker_gets_them_one_by_one() -> None:
    stub = build_broker(None)
    try:
        assert isinstance(stub, StubBroker) and not supports(stub)
        enqueue_deliveries(stub, [(401, None), (402, 7)], LIVE_QUEUE)
        assert stub.queues[LIVE_QUEUE].qsize() == 2
    finally:
        stub.close()


def test_a_batch_is_one_round_trip_without_asking_for_the_script(
    broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    enqueue_deliveries(broker, [(501, None)], LIVE_QUEUE)  # the script is loaded by now
    redis_client.config_resetstat()
    enqueue_deliveries(broker, [(502, None), (503, None)], LIVE_QUEUE)
    stats = redis_client.info("commandstats")
    assert "cmdstat_script|exists" not in stats  # redis-py's Script on a pipeline asks every time
    assert stats["cmdstat_evalsha"]["calls"] == 2 and stats["cmdstat_exec"]["calls"] == 1


def test_a_redis_that_forgot_the_script_gets_it_again(
    broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    redis_client.script_flush()  # as after a Redis restart
    enqueue_deliveries(broker, [(601, None), (602, 3)], LIVE_QUEUE)
    queued = {dramatiq.Message.decode(b).args[0] for b in redis_client.hvals("dramatiq:reviews.msgs")}
    assert {601, 602} <= queued
    assert redis_client.llen("dramatiq:reviews") == len(queued)


def test_without_a_listener_a_message_carries_its_requests_context_and_no_producer_span(
    broker: dramatiq.Broker, redis_client: redis.Redis, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing would record a producer span: the request's own context travels with the message."""
    from reviewops.queue import tracing as queue_tracing

    with tracer().start_as_current_span("request-c") as request_span:
        context = contextvars.copy_context()
    monkeypatch.setattr(queue_tracing, "listening", lambda: False)
    enqueue_deliveries(broker, [(701, None)], LIVE_QUEUE, [context])
    message = dramatiq.Message.decode(redis_client.hvals("dramatiq:reviews.msgs")[0])
    ids = request_span.get_span_context()
    assert message.options["traceparent"].startswith(f"00-{ids.trace_id:032x}-{ids.span_id:016x}-")
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("enqueue")]


def test_enqueue_spans_of_refused_messages_do_not_pile_up(spans: Any) -> None:
    """dramatiq has no hook for a refused enqueue: past the cap the oldest open span is ended, not kept."""
    from reviewops.queue.broker import delivery_message
    from reviewops.queue.tracing import MAX_OPEN_ENQUEUES, TracingMiddleware

    middleware = TracingMiddleware()
    stub = build_broker(None)
    try:
        for delivery_id in range(MAX_OPEN_ENQUEUES + 5):  # before_enqueue, then Redis refuses: no after
            middleware.before_enqueue(stub, delivery_message(delivery_id), None)
    finally:
        stub.close()
    assert len(middleware._enqueues()) == MAX_OPEN_ENQUEUES
    ended = [s for s in spans.get_finished_spans() if s.name == "enqueue process_delivery"]
    assert len(ended) == 5 and all(s.status.status_code.name == "ERROR" for s in ended)
