"""The backlog as the operator counts it, from real dramatiq messages in a real Redis: delayed messages are
split at a horizon by their eta; the keys come from reviewops.queue.names, as the broker writes them."""

from __future__ import annotations

import time

import redis

from reviewops.queue import names as keys
from reviewops.queue.backlog import Backlog, queue_backlog, read_backlog
from reviewops.queue.broker import build_broker, delivery_message, enqueue_delivery


def test_delayed_messages_are_split_by_their_eta(redis_client: redis.Redis, redis_url: str) -> None:
    broker = build_broker(redis_url)
    try:
        for i in range(4):
            enqueue_delivery(broker, i)  # ready
        for i in range(3):
            broker.enqueue(delivery_message(100 + i), delay=2_000)  # a retry in backoff, due in 2 s
        for i in range(5):
            broker.enqueue(delivery_message(200 + i), delay=3_600_000)  # held for an hour
    finally:
        broker.close()
    assert redis_client.hlen(keys.messages_key(keys.LIVE_QUEUE)) == 4
    assert redis_client.hlen(keys.delayed_messages_key(keys.LIVE_QUEUE)) == 8
    now_ms = time.time() * 1000
    found = read_backlog(redis_client, keys.LIVE_QUEUE, now_ms=now_ms, horizon_seconds=10)
    assert found == Backlog(ready_and_in_flight=4, delayed_due=3, delayed_later=5)
    assert (found.runnable, found.delayed, found.total) == (7, 8, 12)
    assert queue_backlog(redis_client, keys.LIVE_QUEUE) == 12  # the queue-depth gauge still counts all
    later = read_backlog(redis_client, keys.LIVE_QUEUE, now_ms=now_ms + 3_600_000, horizon_seconds=10)
    assert later.runnable == 12 and later.delayed_later == 0


def test_a_delayed_body_without_a_readable_eta_counts_as_due(redis_client: redis.Redis) -> None:
    redis_client.hset(keys.delayed_messages_key(keys.REPLAY_QUEUE), mapping={"a": "{}", "b": "not json"})
    found = read_backlog(redis_client, keys.REPLAY_QUEUE, now_ms=0, horizon_seconds=1)
    assert found == Backlog(0, 2, 0)
