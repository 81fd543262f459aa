"""Deterministic requeue of a dead worker's messages with the broker's own Lua maintenance."""

from __future__ import annotations

import redis

from reviewops.queue.broker import LIVE_QUEUE, build_broker, enqueue_delivery
from reviewops.queue.maintenance import requeue_dead_workers


def test_dead_workers_messages_go_back_to_the_queue(redis_url: str, redis_client: redis.Redis) -> None:
    alive = build_broker(redis_url, heartbeat_timeout=2000)
    dead = build_broker(redis_url)
    try:
        enqueue_delivery(alive, 42)
        fetched = dead.do_fetch(LIVE_QUEUE, 1)
        assert len(fetched) == 1 and redis_client.llen(f"dramatiq:{LIVE_QUEUE}") == 0
        acks = f"dramatiq:__acks__.{dead.broker_id}.{LIVE_QUEUE}"
        assert redis_client.scard(acks) == 1

        requeue_dead_workers(alive)  # the fetching worker is still fresh: nothing moves
        assert redis_client.llen(f"dramatiq:{LIVE_QUEUE}") == 0

        redis_client.zadd("dramatiq:__heartbeats__", {dead.broker_id: 0})  # silent since 1970
        requeue_dead_workers(alive)
        assert redis_client.llen(f"dramatiq:{LIVE_QUEUE}") == 1
        assert redis_client.exists(acks) == 0
        assert redis_client.zscore("dramatiq:__heartbeats__", dead.broker_id) is None
        assert redis_client.zscore("dramatiq:__heartbeats__", alive.broker_id) is not None
    finally:
        alive.close()
        dead.close()
