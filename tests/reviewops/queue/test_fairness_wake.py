"""Parking and wake-ups on real Redis with a real dramatiq worker (issue 20 item 3): a capped tenant's
messages wait parked and run in arrival order as its slots free, re-queued at most once; the default cap
follows the fleet; the wake-up is one script, so nothing popped can be lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis

from reviewops.queue.broker import (
    LIVE_QUEUE,
    PROCESS_DELIVERY,
    broker_holds,
    build_broker,
    delivery_message,
    enqueue_delivery,
)
from reviewops.queue.fairness import TENANT_OPTION, TenantFairness, configure_fairness, running_count
from reviewops.queue.fairslots import parked_count
from reviewops.queue.names import messages_key, parked_messages_key, ready_key
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from tests.support.waiting import wait_until

A, B = 7001, 7002


class Recorder:
    """Start and end times of every job, and the most jobs of one tenant seen running at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: list[tuple[int, int, float]] = []
        self.ended: list[tuple[int, int, float]] = []
        self.running: dict[int, int] = {}
        self.peak: dict[int, int] = {}

    def job(self, seconds: float) -> Callable[[int, int], None]:
        def run(tenant: int, n: int) -> None:
            with self.lock:
                self.started.append((tenant, n, time.monotonic()))
                self.running[tenant] = self.running.get(tenant, 0) + 1
                self.peak[tenant] = max(self.peak.get(tenant, 0), self.running[tenant])
            time.sleep(seconds)
            with self.lock:
                self.running[tenant] -= 1
                self.ended.append((tenant, n, time.monotonic()))

        return run


@pytest.fixture
def make_broker(redis_client: redis.Redis, settings: Settings) -> Iterator[Callable[..., dramatiq.Broker]]:
    brokers: list[dramatiq.Broker] = []

    def make(cap: int | None, capacity: int) -> dramatiq.Broker:
        broker = build_broker(settings.redis_url)
        configure_fairness(broker, settings.model_copy(update={"tenant_max_concurrent_reviews": cap}),
                           capacity=capacity)  # fmt: skip
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.close()


def run_burst(broker: dramatiq.Broker, rec: Recorder, sends: list[tuple[int, int]], threads: int,
              seconds: float) -> float:  # fmt: skip
    """Send the messages, run a worker with `threads` threads until all ended; the wall time."""
    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(rec.job(seconds), broker=broker, actor_name="burst",
                                                     queue_name=LIVE_QUEUE)  # fmt: skip
    for tenant, n in sends:
        actor.send_with_options(args=(tenant, n), **{TENANT_OPTION: tenant})
        time.sleep(0.002)  # distinct arrival times
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    began = time.monotonic()
    worker.start()
    try:
        wait_until(lambda: len(rec.ended) == len(sends), timeout=120, what="the burst drained")
        return time.monotonic() - began
    finally:
        worker.stop(timeout=10_000)


def deferrals() -> float:
    return float(metrics.FAIR_DEFERRALS._value.get())


def test_parked_messages_run_in_arrival_order_with_at_most_one_requeue(
    make_broker: Callable[..., dramatiq.Broker], redis_client: redis.Redis
) -> None:
    rec, before = Recorder(), deferrals()
    sends = [(A, n) for n in range(40)]
    wall = run_burst(make_broker(cap=2, capacity=2), rec, sends, threads=3, seconds=0.1)
    parks = deferrals() - before
    order = [n for _, n, _ in rec.started]
    assert sorted(order) == list(range(40))  # every message once
    # Arrival order, up to the race of the messages that threads take at the same instant (the first
    # three, then the two a release pair wakes): a blind backoff scattered them by seconds.
    assert max(abs(position - n) for position, n in enumerate(order)) <= 3, order
    assert rec.peak[A] == 2  # the cap, used to the full
    assert parks <= 40 - 2  # at most one re-queue per message (the first two never wait)
    # Each parked message was woken by a slot freed: it starts shortly after some job of A ended.
    ends = sorted(t for _, _, t in rec.ended)
    gaps = [min(s - e for e in ends if e <= s) for _, _, s in rec.started[2:]]
    assert max(gaps) < 0.5, gaps
    assert redis_client.hlen(parked_messages_key(LIVE_QUEUE)) == 0 and parked_count(redis_client, A) == 0
    assert running_count(redis_client, A) == 0
    ideal = 40 / 2 * 0.1
    print(
        f"\nburst 40 / cap 2 / 0.1 s jobs: {parks:.0f} parks, wall {wall:.2f} s = {wall / ideal:.2f}x the"
        f" cap's {ideal:.1f} s; wake gap median {sorted(gaps)[len(gaps) // 2] * 1000:.1f} ms"
    )


def test_one_tenant_alone_uses_the_whole_fleet(
    make_broker: Callable[..., dramatiq.Broker], redis_client: redis.Redis
) -> None:
    rec, before = Recorder(), deferrals()
    run_burst(make_broker(cap=None, capacity=4), rec, [(A, n) for n in range(24)], threads=5, seconds=0.2)
    assert rec.peak[A] == 4  # the worker's whole capacity; the headroom thread only parks
    assert deferrals() - before <= 24 - 4


def test_two_tenants_bursting_together_share_the_fleet_evenly(
    make_broker: Callable[..., dramatiq.Broker], redis_client: redis.Redis
) -> None:
    rec, before = Recorder(), deferrals()
    # The harder order: all of A's burst is queued ahead of B's.
    sends = [(A, n) for n in range(40)] + [(B, n) for n in range(40)]
    run_burst(make_broker(cap=None, capacity=4), rec, sends, threads=5, seconds=0.1)
    first_half = [tenant for tenant, _, _ in sorted(rec.ended, key=lambda e: e[2])[:40]]
    share_a = first_half.count(A) / len(first_half)
    print(
        f"\ntwo tenants, A's 40 queued before B's 40: A {share_a:.0%} of the first 40 completions,"
        f" {deferrals() - before:.0f} parks"
    )
    assert 0.4 <= share_a <= 0.6
    assert deferrals() - before <= 80


def test_a_wake_up_is_one_script_so_a_crash_after_it_loses_nothing(
    make_broker: Callable[..., dramatiq.Broker], redis_client: redis.Redis
) -> None:
    broker = make_broker(cap=1, capacity=1)
    fairness = next(m for m in broker.middleware if isinstance(m, TenantFairness))
    slots = fairness.slots(redis_client)
    assert slots.acquire(A, "holder", "running-one")
    for delivery in (1, 2, 3):
        message = delivery_message(delivery, tenant=A)
        assert not slots.acquire(A, "w", message.message_id)
        parked = message.copy(options={"redis_message_id": f"rid-{delivery}"})
        slots.park(A, LIVE_QUEUE, f"rid-{delivery}", message.message_id, parked.encode())
    assert redis_client.hlen(parked_messages_key(LIVE_QUEUE)) == 3
    # The releasing worker dies right after its release script: nothing else was needed.
    assert slots.release(A, "holder|running-one") == 1
    assert redis_client.lrange(ready_key(LIVE_QUEUE), 0, -1) == [b"rid-1"]  # the oldest, at the head
    assert redis_client.hexists(messages_key(LIVE_QUEUE), "rid-1")
    assert redis_client.hlen(parked_messages_key(LIVE_QUEUE)) == 2 and parked_count(redis_client, A) == 2
    # Its slot is reserved for it: a newcomer does not take it, the woken message does.
    woken = delivery_message(1, tenant=A)
    assert not slots.acquire(A, "w", delivery_message(9, tenant=A).message_id)
    assert slots.acquire(A, "w", woken.message_id) and running_count(redis_client, A) == 1


def test_a_parked_delivery_is_still_held_by_the_broker(
    make_broker: Callable[..., dramatiq.Broker], redis_client: redis.Redis
) -> None:
    """The outbox re-enqueues a delivery its broker no longer holds: a parked one must not look lost."""
    broker = make_broker(cap=1, capacity=1)
    gate, ran = threading.Event(), []

    def process_delivery(delivery_id: int) -> None:
        ran.append(delivery_id)
        gate.wait(20)

    dramatiq.actor(process_delivery, broker=broker, actor_name=PROCESS_DELIVERY, queue_name=LIVE_QUEUE)
    enqueue_delivery(broker, 1, tenant=A)
    enqueue_delivery(broker, 2, tenant=A)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        wait_until(lambda: len(ran) == 1 and parked_count(redis_client, A) == 1, what="one delivery parked")
        waiting = 3 - ran[0]  # the two threads race for the first message
        assert broker_holds(broker, waiting) and redis_client.hlen(parked_messages_key(LIVE_QUEUE)) == 1
        gate.set()
        wait_until(lambda: sorted(ran) == [1, 2], what="the parked delivery woken")
        wait_until(lambda: not broker_holds(broker, waiting), what="the parked delivery acknowledged")
    finally:
        gate.set()
        worker.stop(timeout=10_000)
