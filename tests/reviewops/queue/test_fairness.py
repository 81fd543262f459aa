"""Fair scheduling on real Redis with a real dramatiq worker: a tenant's backlog cannot starve others, and its
capped messages are parked, not re-queued blindly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis

from reviewops.queue.backlog import queue_backlog, read_backlog
from reviewops.queue.broker import LIVE_QUEUE, build_broker
from reviewops.queue.fairness import TENANT_OPTION, configure_fairness, defer_current_message, running_count
from reviewops.settings import Settings
from tests.support.waiting import wait_until

BIG, SMALL = 9001, 9002


@pytest.fixture
def fair_broker(redis_client: redis.Redis, settings: Settings) -> Iterator[dramatiq.Broker]:
    broker = build_broker(settings.redis_url)
    configure_fairness(broker, settings.model_copy(update={"tenant_max_concurrent_reviews": 1}), capacity=2)
    yield broker
    broker.close()


def send(actor: dramatiq.Actor[Any, Any], tenant: int, *args: Any) -> None:
    actor.send_with_options(args=(tenant, *args), **{TENANT_OPTION: tenant})


def test_small_tenant_finishes_while_a_large_backlog_is_parked(
    fair_broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    release = threading.Event()
    finished: list[tuple[int, int]] = []
    lock = threading.Lock()
    seen_at_small: dict[str, Any] = {}

    def job(tenant: int, n: int) -> None:
        if tenant == BIG:
            release.wait(30)  # the large tenant's reviews are slow: they hold their slot
        with lock:
            if tenant == SMALL:
                seen_at_small["backlog"] = queue_backlog(redis_client, LIVE_QUEUE)
                seen_at_small["read"] = read_backlog(redis_client, LIVE_QUEUE, now_ms=0, horizon_seconds=0)
                seen_at_small["big_running"] = running_count(redis_client, BIG)
            finished.append((tenant, n))
        if tenant == SMALL:
            release.set()

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(job, broker=fair_broker, actor_name="fair_job",
                                                     queue_name=LIVE_QUEUE)  # fmt: skip
    for n in range(300):
        send(actor, BIG, n)
    send(actor, SMALL, 0)  # enqueued last, behind hundreds of the large tenant's
    assert queue_backlog(redis_client, LIVE_QUEUE) == 301

    worker = dramatiq.Worker(fair_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        wait_until(lambda: (SMALL, 0) in finished, timeout=60, what="the small tenant's job")
        with lock:
            order = list(finished)
        # Completion order: the small tenant's job came first, while the large one still had all
        # its work pending (one running at its cap, the rest parked and still counted as backlog).
        assert order[0] == (SMALL, 0)
        assert seen_at_small["big_running"] == 1
        assert seen_at_small["backlog"] >= 299  # parked messages stay visible to the autoscaler
        assert seen_at_small["read"].parked >= 298 and seen_at_small["read"].runnable >= 299
        wait_until(lambda: len(finished) >= 5, timeout=30, what="the large tenant resumes")
    finally:
        release.set()
        worker.stop(timeout=10_000)


def test_deferral_on_request_runs_the_message_again_later(
    fair_broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    runs: list[int] = []

    def once_later(tenant: int) -> None:
        runs.append(tenant)
        if len(runs) == 1:
            assert defer_current_message(0.05)

    actor: dramatiq.Actor[Any, Any] = dramatiq.actor(once_later, broker=fair_broker, actor_name="later",
                                                     queue_name=LIVE_QUEUE)  # fmt: skip
    send(actor, SMALL)
    worker = dramatiq.Worker(fair_broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        wait_until(lambda: len(runs) == 2, what="the deferred message ran again")
        wait_until(lambda: queue_backlog(redis_client, LIVE_QUEUE) == 0, what="queue drained")
        assert running_count(redis_client, SMALL) == 0  # the slot was released both times
    finally:
        worker.stop(timeout=10_000)


def test_defer_outside_a_worker_is_refused() -> None:
    assert defer_current_message(1) is False


def test_caps_are_weighted_per_tenant_and_read_live(
    fair_broker: dramatiq.Broker, redis_client: redis.Redis
) -> None:
    from reviewops.policy.store import DEFAULT_LIMITS_KEY, tenant_limits_key
    from reviewops.queue.fairness import ALIVE_PREFIX, TenantFairness

    fairness = next(m for m in fair_broker.middleware if isinstance(m, TenantFairness))
    slots = fairness.slots(redis_client)
    redis_client.set(ALIVE_PREFIX + "owner", 1)  # a live worker holds these slots

    def acquire(tenant: int, message_id: str) -> bool:
        return slots.acquire(tenant, "owner", message_id)

    assert [acquire(BIG, f"m{i}") for i in range(2)] == [True, False]  # the setting: 1
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"max_concurrent_reviews": 2})
    assert acquire(BIG, "m1") and not acquire(BIG, "m2")
    redis_client.hset(tenant_limits_key(BIG), mapping={"max_concurrent_reviews": 4})  # a heavier tenant
    assert [acquire(BIG, f"m{i}") for i in range(2, 5)] == [True, True, False]
    assert running_count(redis_client, BIG) == 4
    assert acquire(SMALL, "s0") and acquire(SMALL, "s1")
    assert not acquire(SMALL, "s2")
