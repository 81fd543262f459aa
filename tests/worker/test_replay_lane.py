"""Live work is not queued behind a replay: measured by order of completion, not by time; and a replay
takes at most `replay_in_flight` of a worker's threads."""

from __future__ import annotations

import threading

import dramatiq
import redis

from reviewops.db.session import Database
from reviewops.deliveries.processing import Context, Handler
from reviewops.dlq import replay as service
from reviewops.dlq.store import Filters
from reviewops.queue.broker import enqueue_delivery
from reviewops.settings import Settings
from tests.support.faults import (
    FAULT_EVENT,
    ORDER_KEY,
    bulk_dead_letters,
    fault_router,
    make_delivery,
    running_worker,
)
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


def test_a_replay_takes_at_most_replay_in_flight_threads(
    broker: dramatiq.Broker, settings: Settings, db: Database
) -> None:
    """Replayed handlers block until released: with 6 threads and replay_in_flight=2, two run and the
    other four threads stay free, so a live delivery runs while the replay is stuck (before the cap all
    six threads took replayed messages and the live one waited for the replay)."""
    release, lock = threading.Event(), threading.Lock()
    running: list[int] = []
    peak = [0]
    live_ran = threading.Event()

    def replayed(ctx: Context) -> str:
        with lock:
            running.append(ctx.delivery.id)
            peak[0] = max(peak[0], len(running))
        release.wait(30)
        with lock:
            running.remove(ctx.delivery.id)
        return "processed"

    def live(ctx: Context) -> str:
        live_ran.set()
        return "processed"

    def route(event: str, action: str | None) -> Handler | None:
        return live if action == "live" else replayed if event == FAULT_EVENT else None

    bulk_dead_letters(db, 12)
    assert service.replay(db, broker, Filters()).replayed == 12
    capped = settings.model_copy(update={"replay_in_flight": 2})
    try:
        with running_worker(broker, capped, db, route, threads=6):
            wait_until(lambda: peak[0] >= 2, timeout=30, what="replayed messages running")
            enqueue_delivery(broker, make_delivery(db, "live"))
            assert live_ran.wait(15), "the live delivery found no free thread"
            assert peak[0] == 2, f"{peak[0]} replayed messages ran at once, the cap is 2"
            release.set()
            wait_until(lambda: not running, timeout=30, what="replay finished")
    finally:
        release.set()
