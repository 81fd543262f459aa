"""Tenant fairness for the review queues, as a dramatiq middleware.

- Concurrency cap: a tenant holds at most `max_concurrent_reviews` slots across all workers (a Redis
  sorted set per tenant: member = "<worker owner>|<message id>", score = lease expiry). Each worker
  process keeps a heartbeat key alive (`reviewops:fair:alive:<owner>`, a few seconds' TTL refreshed every
  second); a slot whose owner's heartbeat is gone is freed by the next acquire, so a SIGKILLed worker's
  tenants resume within seconds instead of waiting for dramatiq's 60 s heartbeat timeout (issue 18).
  The cap is read live per tenant (a weight): field `max_concurrent_reviews` of the tenant's
  limits hash, else of the policy default hash, else REVIEWOPS_TENANT_MAX_CONCURRENT_REVIEWS.
- A message whose tenant is at its cap is not run: it is put back on its queue's delay queue with a
  short, growing delay and skipped, so it never occupies a worker thread while other tenants wait.
  The deferred copies live in dramatiq's own `<queue>.DQ.msgs` hash, so the operator's backlog count
  (reviewops.queue.backlog) still sees every pending message; no per-tenant lists are needed.
- Deferral on request: a handler that must run later (a review over its tenant's reviews_per_hour)
  calls `defer_current_message(seconds)`; after the actor returns, and only if it succeeded, the
  message is enqueued again with that delay.

Messages name their tenant in `options["tenant"]` (the installation id, see `enqueue_delivery`);
messages without one are never capped.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware, SkipMessage

from reviewops.policy.store import DEFAULT_LIMITS_KEY, PREFIX
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

SLOTS_PREFIX = "reviewops:fair:running:"
ALIVE_PREFIX = "reviewops:fair:alive:"
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_MS = 5000
TENANT_OPTION = "tenant"
DEFERRALS_OPTION = "fair_deferrals"
_MS = 1000

# KEYS: 1 slots zset, 2 tenant limits hash, 3 default limits hash. ARGV: 1 member, 2 cap, 3 lease (ms),
# 4 the heartbeat key prefix. The cap is read live like the other limits: tenant override, policy
# default, then the setting. Slots whose owner's heartbeat key is gone are freed first (a cap is a
# handful of members: one EXISTS each).
ACQUIRE_LUA = """
local cap = tonumber(redis.call('HGET', KEYS[2], 'max_concurrent_reviews'))
  or tonumber(redis.call('HGET', KEYS[3], 'max_concurrent_reviews'))
  or tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = string.match(member, '^([^|]+)|')
  if owner and redis.call('EXISTS', ARGV[4] .. owner) == 0 then
    redis.call('ZREM', KEYS[1], member)
  end
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= cap then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

_local = threading.local()


def slots_key(tenant: object) -> str:
    return f"{SLOTS_PREFIX}{tenant}"


class Heartbeat:
    """Keeps `reviewops:fair:alive:<owner>` alive while this worker process lives; deleted at shutdown."""

    def __init__(self, client: redis.Redis, owner: str) -> None:
        self.client, self.owner = client, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reviewops-fair-heartbeat", daemon=True)

    @property
    def key(self) -> str:
        return ALIVE_PREFIX + self.owner

    def beat(self) -> None:
        self.client.set(self.key, "1", px=HEARTBEAT_TTL_MS)

    def start(self) -> None:
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
        with contextlib.suppress(redis.RedisError):  # it expires by itself
            self.client.delete(self.key)


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
    """Per-tenant concurrency caps with deferral; see the module docstring."""

    def __init__(
        self,
        *,
        queues: frozenset[str],
        max_concurrent: int = 2,
        defer_seconds: float = 1.0,
        defer_max_seconds: float = 15.0,
        lease_seconds: float = 900.0,
    ) -> None:
        self.queues = queues
        self.configure(max_concurrent, defer_seconds, defer_max_seconds, lease_seconds)
        self._scripts: dict[int, Any] = {}
        self.owner = uuid.uuid4().hex
        self._heartbeat: Heartbeat | None = None

    def configure(
        self, max_concurrent: int, defer_seconds: float, defer_max_seconds: float, lease_seconds: float
    ) -> None:
        """Set from the worker's settings at start-up (the broker is built before settings reach it)."""
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        self.max_concurrent = max_concurrent
        self.defer_seconds = defer_seconds
        self.defer_max_seconds = defer_max_seconds
        self.lease_ms = int(lease_seconds * _MS)

    def _acquire(self, client: redis.Redis, tenant: object, member: str) -> bool:
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(ACQUIRE_LUA)
        keys = [slots_key(tenant), f"{PREFIX}limits:tenant:{tenant}", DEFAULT_LIMITS_KEY]
        return bool(script(keys=keys, args=[member, self.max_concurrent, self.lease_ms, ALIVE_PREFIX]))

    def start_heartbeat(self, client: redis.Redis) -> None:
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(client, self.owner)
            self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        client = getattr(broker, "client", None)
        if client is not None:
            self.start_heartbeat(client)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self.stop_heartbeat()

    def _requeue(self, broker: dramatiq.Broker, message: Any, delay_seconds: float, **options: Any) -> None:
        delay_ms = max(int(delay_seconds * _MS), 1)
        broker.enqueue(message.copy(options=options), delay=delay_ms)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        _local.in_message, _local.deferral, _local.held = True, None, None
        tenant = message.options.get(TENANT_OPTION)
        client = getattr(broker, "client", None)
        if tenant is None or client is None or message.queue_name not in self.queues:
            return
        if self._heartbeat is None:  # a process that consumes without a dramatiq Worker's boot hook
            self.start_heartbeat(client)
        member = f"{self.owner}|{message.message_id}"
        if self._acquire(client, tenant, member):
            _local.held = (client, tenant, member)
            return
        deferrals = int(message.options.get(DEFERRALS_OPTION, 0))
        delay = min(self.defer_seconds * 2 ** min(deferrals, 16), self.defer_max_seconds)
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        self._requeue(broker, message, delay, **{DEFERRALS_OPTION: deferrals + 1})
        metrics.FAIR_DEFERRALS.inc()
        _local.in_message = False
        raise SkipMessage("tenant at its concurrency cap; deferred")

    def _release(self) -> None:
        held = getattr(_local, "held", None)
        _local.held = None
        _local.in_message = False
        if held is not None:
            client, tenant, member = held
            try:
                client.zrem(slots_key(tenant), member)
            except redis.RedisError as exc:  # the lease expires on its own
                log.warning("could not release tenant slot: %s", type(exc).__name__)

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        deferral = getattr(_local, "deferral", None)
        _local.deferral = None
        self._release()
        if deferral is not None and exception is None:
            # A fresh deferral count: this wait is the tenant's review budget, not contention.
            self._requeue(broker, message, deferral, **{DEFERRALS_OPTION: 0})

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        _local.deferral = None
        self._release()


def configure_fairness(broker: dramatiq.Broker, settings: Any) -> None:
    """Apply the worker's settings to the broker's fairness middleware (no-op when absent)."""
    for middleware in broker.middleware:
        if isinstance(middleware, TenantFairness):
            middleware.configure(
                settings.tenant_max_concurrent_reviews,
                settings.fair_defer_seconds,
                settings.fair_defer_max_seconds,
                settings.review_lease_seconds,
            )
