"""Live work is not queued behind a replay: measured by order of completion, not by time."""

from __future__ import annotations

import dramatiq
import redis

from reviewops.db.session import Database
from reviewops.dlq import replay as service
from reviewops.dlq.store import Filters
from reviewops.queue.broker import enqueue_delivery
from reviewops.settings import Settings
from tests.support.faults import ORDER_KEY, bulk_dead_letters, fault_router, make_delivery, running_worker
from tests.support.waiting import wait_until

REPLAYED = 2000
LIVE = 20


def test_live_work_overtakes_a_replay_of_thousands(
    broker: dramatiq.Broker, settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    bulk_dead_letters(db, REPLAYED)
    assert service.replay(db, broker, Filters()).replayed == REPLAYED
    with running_worker(broker, settings, db, fault_router(redis_client), threads=2):
        wait_until(lambda: redis_client.llen(ORDER_KEY) >= 50, timeout=60, what="replay under way")
        done_before_live = redis_client.llen(ORDER_KEY)
        live = [make_delivery(db, "transient") for _ in range(LIVE)]
        for delivery_id in live:
            enqueue_delivery(broker, delivery_id)
        wanted = {str(i).encode() for i in live}
        wait_until(
            lambda: wanted <= set(redis_client.lrange(ORDER_KEY, 0, -1)), timeout=60, what="live work done"
        )
        order = redis_client.lrange(ORDER_KEY, 0, -1)
    last_live = max(order.index(i) for i in wanted)
    replays_overtaking = last_live + 1 - LIVE - done_before_live
    waiting_ahead = REPLAYED - done_before_live
    # FIFO would make the live work wait for all ~1950 replayed messages queued before it; the replay
    # lane lets through at most what was already prefetched or polled before the live queue was seen.
    assert replays_overtaking < 200 < waiting_ahead, (replays_overtaking, waiting_ahead)
