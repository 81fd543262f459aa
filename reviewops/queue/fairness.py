"""Tenant fairness for the review queues, as a dramatiq middleware.

- Concurrency cap: a tenant holds at most `max_concurrent_reviews` slots across all workers (a Redis
  sorted set per tenant: member = message id, score = lease expiry, so a crashed worker's slot frees
  itself). The cap is read live per tenant (a weight): field `max_concurrent_reviews` of the tenant's
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

import logging
import random
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware, SkipMessage

from reviewops.policy.store import DEFAULT_LIMITS_KEY, PREFIX
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

SLOTS_PREFIX = "reviewops:fair:running:"
TENANT_OPTION = "tenant"
DEFERRALS_OPTION = "fair_deferrals"
_MS = 1000

# KEYS: 1 slots zset, 2 tenant limits hash, 3 default limits hash. ARGV: 1 member, 2 cap, 3 lease (ms).
# The cap is read live like the other limits: tenant override, policy default, then the setting.
ACQUIRE_LUA = """
local cap = tonumber(redis.call('HGET', KEYS[2], 'max_concurrent_reviews'))
  or tonumber(redis.call('HGET', KEYS[3], 'max_concurrent_reviews'))
  or tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
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
        return bool(script(keys=keys, args=[member, self.max_concurrent, self.lease_ms]))

    def _requeue(self, broker: dramatiq.Broker, message: Any, delay_seconds: float, **options: Any) -> None:
        delay_ms = max(int(delay_seconds * _MS), 1)
        broker.enqueue(message.copy(options=options), delay=delay_ms)

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        _local.in_message, _local.deferral, _local.held = True, None, None
        tenant = message.options.get(TENANT_OPTION)
        client = getattr(broker, "client", None)
        if tenant is None or client is None or message.queue_name not in self.queues:
            return
        if self._acquire(client, tenant, message.message_id):
            _local.held = (client, tenant, message.message_id)
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
