"""The fairness scripts on real Redis, without a worker: the sweep (fleet size, dead workers' slots, lapsed
reservations), the FIFO's lanes, and the gauges an operator reads."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis

from reviewops.queue.broker import LIVE_QUEUE, REPLAY_QUEUE, build_broker, delivery_message
from reviewops.queue.fairslots import (
    ACTIVE_KEY,
    ALIVE_PREFIX,
    CAPACITY_KEY,
    FLEET_KEY,
    FairSlots,
    SlotConfig,
    parked_count,
)
from reviewops.queue.gauges import queue_families
from reviewops.queue.names import ready_key

T, OTHER = 8101, 8102


def slots(client: redis.Redis, *, cap: int | None = None, reserve_ms: int = 60_000) -> FairSlots:
    return FairSlots(client, SlotConfig(cap_setting=cap, capacity=1, reserve_ms=reserve_ms))


def park(fair: FairSlots, delivery: int, queue: str = LIVE_QUEUE, priority: int = 0) -> str:
    message = delivery_message(delivery, queue=queue, tenant=T)
    rid = f"rid-{delivery}"
    assert not fair.acquire(T, "w", message.message_id)
    fair.park(T, queue, rid, message.message_id, message.copy(options={"redis_message_id": rid}).encode(),
              priority)  # fmt: skip
    return rid


@pytest.fixture
def broker(redis_client: redis.Redis, redis_url: str) -> Iterator[dramatiq.Broker]:
    built = build_broker(redis_url)
    yield built
    built.close()


def test_the_sweep_sums_live_workers_and_frees_dead_workers_slots(redis_client: redis.Redis) -> None:
    redis_client.set(ALIVE_PREFIX + "alive", 1, px=5000)
    redis_client.hset(CAPACITY_KEY, mapping={"alive": 6, "dead": 32})
    redis_client.set(FLEET_KEY, 38)  # summed while both lived
    fair = slots(redis_client)
    assert fair.acquire(T, "alive", "m1") and fair.acquire(T, "dead", "m2")
    assert fair.sweep(900, 5000) == 0
    assert int(redis_client.get(FLEET_KEY) or 0) == 6 and not redis_client.hexists(CAPACITY_KEY, "dead")
    assert redis_client.zrange(f"reviewops:fair:running:{T}", 0, -1) == [b"alive|m1"]
    assert fair.sweep(900, 5000) == -1  # one sweep per interval across the fleet
    # The fleet share: 6 reviews in flight, two busy tenants -> 3 each.
    assert [fair.acquire(OTHER, "alive", f"o{i}") for i in range(4)] == [True, True, True, False]


def test_a_lapsed_reservation_is_swept_and_the_next_waiter_woken(redis_client: redis.Redis) -> None:
    fair = slots(redis_client, cap=1, reserve_ms=50)
    redis_client.set(ALIVE_PREFIX + "holder", 1, px=5000)
    assert fair.acquire(T, "holder", "running")
    park(fair, 1)
    park(fair, 2)
    assert fair.release(T, "holder|running") == 1
    redis_client.delete(ready_key(LIVE_QUEUE))  # the woken message never comes (a Redis failover, say)
    time.sleep(0.1)
    assert fair.sweep(900, 5000) == 1
    assert (
        redis_client.lrange(ready_key(LIVE_QUEUE), 0, -1) == [b"rid-2"] and parked_count(redis_client, T) == 0
    )


def test_a_tenants_live_messages_are_woken_before_its_replayed_ones(redis_client: redis.Redis) -> None:
    fair = slots(redis_client, cap=1)
    assert fair.acquire(T, "holder", "running")
    park(fair, 1, REPLAY_QUEUE, priority=100)  # parked first, but on the low-priority replay lane
    park(fair, 2)
    assert fair.release(T, "holder|running") == 1
    assert redis_client.lrange(ready_key(LIVE_QUEUE), 0, -1) == [b"rid-2"]
    assert redis_client.llen(ready_key(REPLAY_QUEUE)) == 0


def test_the_gauges_show_parked_messages_fleet_and_tenants(
    redis_client: redis.Redis, broker: dramatiq.Broker
) -> None:
    fair = slots(redis_client, cap=1)
    assert fair.acquire(T, "holder", "running")
    park(fair, 1)
    park(fair, 2)
    redis_client.set(FLEET_KEY, 12)
    time.sleep(0.01)
    samples = {
        (s.name, s.labels.get("queue")): s.value for family in queue_families(broker) for s in family.samples
    }
    assert samples[("reviewops_fair_parked_messages", LIVE_QUEUE)] == 2
    assert samples[("reviewops_queue_depth", LIVE_QUEUE)] == 2  # parked messages are part of the depth
    assert samples[("reviewops_queue_oldest_message_age_seconds", LIVE_QUEUE)] > 0  # and they are waiting
    assert samples[("reviewops_fair_fleet_capacity", None)] == 12
    assert samples[("reviewops_fair_active_tenants", None)] == redis_client.scard(ACTIVE_KEY) == 1
