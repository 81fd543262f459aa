"""Tenant fairness for the review queues, as a dramatiq middleware (the Redis side: reviewops.queue.fairslots).

- Concurrency cap: a tenant holds at most its cap of slots across all workers (a Redis sorted set per
  tenant: member = "<worker owner>|<message id>", score = lease expiry). The cap is read live: field
  `max_concurrent_reviews` of the tenant's limits hash, else of the policy default hash, else
  REVIEWOPS_TENANT_MAX_CONCURRENT_REVIEWS; unset (the default), it follows the fleet: ceil(reviews in
  flight of all live workers / tenants with running or parked reviews). One tenant alone uses the whole
  fleet; two busy tenants get half each.
- Park, don't back off: a message whose tenant is at its cap, or already has parked messages (arrival
  order), is parked in the tenant's FIFO in Redis (live reviews ahead of replayed ones, then arrival order)
  and its delivery acknowledged; it holds no worker thread and is not re-queued blindly. Every parking
  counts in `reviewops_fair_deferrals_total` (at most one per message and wait).
- Wake on release: freeing a slot wakes the tenant's oldest parked message into it in the same Lua script
  (a slot reserved for it, the message written at the head of its dramatiq queue), so it runs as soon as a
  worker polls the queue (an idle worker polls at least every 100 ms, its worker_timeout).
- Dead workers: each worker process keeps a heartbeat key alive (`reviewops:fair:alive:<owner>`, 5 s TTL,
  refreshed every second) with its capacity; every second one worker's heartbeat thread sweeps: slots of
  workers whose heartbeat is gone are freed and handed to waiters, so a SIGKILLed worker's tenants resume
  within about 6 s (issue 18). A reservation not taken up within its lease (60 s) lapses the same way.
- Headroom: a worker runs one dramatiq thread more than its capacity (`HEADROOM_THREADS`), so while one
  tenant fills the fleet a thread still takes messages off the queue, parks that tenant's surplus and
  reaches other tenants' work behind it.
- Deferral on request: a handler that must run later (a review over its tenant's reviews_per_hour)
  calls `defer_current_message(seconds)`; after the actor returns, and only if it succeeded, the
  message is enqueued again with that delay. That is a timed wait, not contention: it does not park.

Parked messages stay visible: the operator's backlog (reviewops.queue.backlog), the queue-depth gauge and
`reviewops_fair_parked_messages` count them. Messages name their tenant in `options["tenant"]` (the
installation id, see `enqueue_delivery`); messages without one are never capped.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware, SkipMessage

from reviewops.queue.fairslots import (
    ALIVE_PREFIX,
    CAPACITY_KEY,
    FairSlots,
    SlotConfig,
    parked_count,
    slots_key,
)
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

__all__ = ["ALIVE_PREFIX", "TenantFairness", "defer_current_message", "parked_count", "running_count"]

HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_MS = 5000
HEADROOM_THREADS = 1
RESERVE_SECONDS = 60.0
TENANT_OPTION = "tenant"
LEGACY_DEFERRALS_OPTION = "fair_deferrals"  # written by the backoff this module replaced
_MS = 1000

_local = threading.local()


class Heartbeat:
    """Keeps `reviewops:fair:alive:<owner>` and the worker's capacity alive while this process lives, and
    runs `tick` (the sweep) after each beat; deleted at shutdown."""

    def __init__(
        self, client: redis.Redis, owner: str, capacity: Callable[[], int], tick: Callable[[], object]
    ) -> None:
        self.client, self.owner, self.capacity, self.tick = client, owner, capacity, tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reviewops-fair-heartbeat", daemon=True)

    @property
    def key(self) -> str:
        return ALIVE_PREFIX + self.owner

    def beat(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key, "1", px=HEARTBEAT_TTL_MS)
        pipe.hset(CAPACITY_KEY, self.owner, self.capacity())
        pipe.execute()
        self.tick()

    def start(self) -> None:
        with contextlib.suppress(redis.RedisError):  # the thread retries every second
            self.beat()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("fairness heartbeat failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * HEARTBEAT_SECONDS)
        with contextlib.suppress(redis.RedisError):  # both expire or are swept by themselves
            self.client.delete(self.key)
            self.client.hdel(CAPACITY_KEY, self.owner)


def running_count(client: redis.Redis, tenant: object) -> int:
    """Slots a tenant holds now (expired leases excluded); for the usage API and tests."""
    return int(client.zcount(slots_key(tenant), int(time.time() * _MS), "+inf"))


def defer_current_message(seconds: float) -> bool:
    """Ask the fairness middleware to enqueue the current message again after `seconds`.

    Returns False outside a worker's message (nothing will re-enqueue it; the caller decides).
    """
    if not getattr(_local, "in_message", False):
        return False
    _local.deferral = max(float(seconds), 0.001)
    return True


class TenantFairness(Middleware):
    """Per-tenant concurrency caps with parking and wake-ups; see the module docstring.

    `on_park(client, message)` is called with the parked copy before it is parked (the broker records
    where a delivery's message now lives, see reviewops.queue.broker.MessageLocator).
    """

    def __init__(
        self,
        *,
        queues: frozenset[str],
        max_concurrent: int | None = None,
        lease_seconds: float = 900.0,
        capacity: int | None = None,
        on_park: Callable[[redis.Redis, Any], None] | None = None,
    ) -> None:
        self.queues, self.on_park = queues, on_park
        self.capacity: int | None = None
        self._slots: dict[int, FairSlots] = {}
        self.configure(max_concurrent, lease_seconds, capacity)
        self.owner = uuid.uuid4().hex
        self._heartbeat: Heartbeat | None = None
        self._shut_down = False  # a message finishing after the worker's shutdown must not restart it
        self._heartbeat_lock = threading.Lock()  # boot hook and first message race to start it

    def configure(
        self, max_concurrent: int | None, lease_seconds: float, capacity: int | None = None
    ) -> None:
        """Set from the worker's settings at start-up (the broker is built before settings reach it).

        `max_concurrent` None: the cap follows the fleet. `capacity`: this worker's reviews in flight (None:
        its dramatiq threads, known at boot)."""
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.max_concurrent = max_concurrent
        self.lease_ms = int(lease_seconds * _MS)
        if capacity is not None:
            self.capacity = capacity
        self._slots.clear()

    def slots(self, client: redis.Redis, namespace: str = "dramatiq") -> FairSlots:
        found = self._slots.get(id(client))
        if found is None:
            config = SlotConfig(namespace, self.max_concurrent, self.capacity or 1, self.lease_ms,
                                int(RESERVE_SECONDS * _MS))  # fmt: skip
            found = self._slots[id(client)] = FairSlots(client, config)
        return found

    def start_heartbeat(self, client: redis.Redis, namespace: str = "dramatiq") -> None:
        with self._heartbeat_lock:
            if self._heartbeat is None:
                slots = self.slots(client, namespace)
                tick = lambda: slots.sweep(int(HEARTBEAT_SECONDS * _MS) - 100, HEARTBEAT_TTL_MS)  # noqa: E731
                self._heartbeat = Heartbeat(client, self.owner, lambda: self.capacity or 1, tick)
                self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        with self._heartbeat_lock:
            heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.stop()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        client = getattr(broker, "client", None)
        if client is not None:
            if self.capacity is None:
                self.capacity = max(1, int(worker.worker_threads))
                self._slots.clear()
            self._shut_down = False
            self.start_heartbeat(client, getattr(broker, "namespace", "dramatiq"))

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self._shut_down = True
        self.stop_heartbeat()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        _local.in_message, _local.deferral, _local.held = True, None, None
        tenant = message.options.get(TENANT_OPTION)
        client = getattr(broker, "client", None)
        if tenant is None or client is None or message.queue_name not in self.queues:
            return
        namespace = getattr(broker, "namespace", "dramatiq")
        if self._heartbeat is None and not self._shut_down:  # consuming without a Worker's boot hook
            self.start_heartbeat(client, namespace)
        slots = self.slots(client, namespace)
        if slots.acquire(tenant, self.owner, message.message_id):
            _local.held = (slots, tenant, f"{self.owner}|{message.message_id}")
            return
        redis_id = str(uuid.uuid4())  # the id its next enqueue (the wake-up) gives it
        parked = message.copy(options={"redis_message_id": redis_id})
        parked.options.pop(LEGACY_DEFERRALS_OPTION, None)
        if self.on_park is not None:
            self.on_park(client, parked)
        priority = getattr(broker.actors.get(message.actor_name), "priority", 0)
        slots.park(tenant, message.queue_name, redis_id, message.message_id, parked.encode(), priority)
        metrics.FAIR_DEFERRALS.inc()
        _local.in_message = False
        raise SkipMessage("tenant at its concurrency cap; parked until one of its slots is free")

    def _release(self) -> None:
        held = getattr(_local, "held", None)
        _local.held = None
        _local.in_message = False
        if held is not None:
            slots, tenant, member = held
            try:
                slots.release(tenant, member)
            except redis.RedisError as exc:  # the lease expires, and the sweep wakes the waiters
                log.warning("could not release tenant slot: %s", type(exc).__name__)

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        deferral = getattr(_local, "deferral", None)
        _local.deferral = None
        self._release()
        if deferral is not None and exception is None:
            broker.enqueue(message.copy(), delay=max(int(deferral * _MS), 1))

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        _local.deferral = None
        self._release()


def configure_fairness(broker: dramatiq.Broker, settings: Any, *, capacity: int | None = None) -> None:
    """Apply the worker's settings to the broker's fairness middleware (no-op when absent).

    `capacity`: the worker's reviews in flight (default: REVIEWOPS_REVIEWS_IN_FLIGHT's thread count)."""
    for middleware in broker.middleware:
        if isinstance(middleware, TenantFairness):
            middleware.configure(
                settings.tenant_max_concurrent_reviews,
                settings.review_lease_seconds,
                capacity or settings.worker_thread_count,
            )
