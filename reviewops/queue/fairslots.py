"""The Redis side of tenant fairness (reviewops.queue.fairness): slots, parked messages, wake-ups, sweep.

Every step is one Lua script, so what a crash can leave behind is always a consistent state:

- `acquire`: take a slot for a message (or the slot a wake-up reserved for it). Refused when the tenant
  is at its cap or already has parked messages (arrival order: a newcomer never overtakes a waiter).
- `park`: store a refused message (its body, re-keyed for its next enqueue) in the tenant's FIFO.
- `release`: free a slot and, in the same script, wake the tenant's oldest parked messages while it is
  under its cap: each gets a reserved slot (member `reserved|<message id>`, a short lease) and is written
  into its dramatiq queue at the head (it arrived before anything still queued; dramatiq fetches with
  LPOP). Popping and enqueueing being one script, no crash can lose a popped message.
- `sweep` (one worker per second, from the heartbeat): sums the live workers' capacities into the fleet
  size, frees the slots of workers whose heartbeat key is gone (a SIGKILLed worker), drops lapsed leases
  and reservations, and wakes the tenants' waiters into the slots so freed.

The cap of a tenant, read live: `max_concurrent_reviews` of its limits hash, else of the policy default
hash, else REVIEWOPS_TENANT_MAX_CONCURRENT_REVIEWS, else a fair share of the fleet:
ceil(fleet capacity / tenants with running or parked reviews), at least 1.

Keys are built inside the scripts (per tenant, per queue): this needs a single Redis, not a cluster, as
dramatiq's own broker scripts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from reviewops.policy.store import DEFAULT_LIMITS_KEY, PREFIX
from reviewops.queue.names import FAIR_PREFIX, parked_messages_key

ALIVE_PREFIX = FAIR_PREFIX + "alive:"
SLOTS_PREFIX = FAIR_PREFIX + "running:"
WAITING_PREFIX = FAIR_PREFIX + "waiting:"
ACTIVE_KEY = FAIR_PREFIX + "active"
CAPACITY_KEY = FAIR_PREFIX + "capacity"
FLEET_KEY = FAIR_PREFIX + "fleet"
RESERVED_OWNER = "reserved"

_COMMON = """
local P, NS, LIMITS_T, LIMITS_D = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local SETTING, OWN, RESERVE_MS = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ACTIVE = P .. 'active'

local function cap_of(tenant)
  local cap = tonumber(redis.call('HGET', LIMITS_T .. tenant, 'max_concurrent_reviews'))
    or tonumber(redis.call('HGET', LIMITS_D, 'max_concurrent_reviews'))
  if cap then return cap end
  if SETTING > 0 then return SETTING end
  local fleet = tonumber(redis.call('GET', P .. 'fleet')) or OWN
  return math.max(1, math.ceil(fleet / math.max(1, redis.call('SCARD', ACTIVE))))
end

local function wake(tenant)
  local running, waiting = P .. 'running:' .. tenant, P .. 'waiting:' .. tenant
  local cap = cap_of(tenant)
  local woken = {}
  while redis.call('ZCARD', running) < cap do
    local first = redis.call('ZRANGE', waiting, 0, 0)
    if #first == 0 then break end
    redis.call('ZREM', waiting, first[1])
    local queue, rid, mid = string.match(first[1], '^(.*)|([^|]*)|([^|]*)$')
    local body = queue and redis.call('HGET', P .. 'parked:' .. queue, rid)
    if body then
      redis.call('HDEL', P .. 'parked:' .. queue, rid)
      redis.call('ZADD', running, now + RESERVE_MS, 'reserved|' .. mid)
      redis.call('HSET', NS .. ':' .. queue .. '.msgs', rid, body)
      table.insert(woken, {queue, rid})
    end
  end
  for i = #woken, 1, -1 do  -- the oldest ends up first in line
    redis.call('LPUSH', NS .. ':' .. woken[i][1], woken[i][2])
  end
  if redis.call('EXISTS', waiting) == 0 and redis.call('EXISTS', running) == 0 then
    redis.call('SREM', ACTIVE, tenant)
  end
  return #woken
end
"""

# ARGV 8 tenant, 9 owner, 10 message id, 11 lease (ms). 1: a slot is held; 0: refused.
ACQUIRE_LUA = (
    _COMMON
    + """
local tenant, mid, lease = ARGV[8], ARGV[10], tonumber(ARGV[11])
local member = ARGV[9] .. '|' .. mid
local running = P .. 'running:' .. tenant
redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
redis.call('SADD', ACTIVE, tenant)
local mine = redis.call('ZSCORE', running, member) or redis.call('ZREM', running, 'reserved|' .. mid) == 1
if not mine then
  if redis.call('EXISTS', P .. 'waiting:' .. tenant) == 1 or redis.call('ZCARD', running) >= cap_of(tenant) then
    return 0  -- the caller parks it (`park`)
  end
end
redis.call('ZADD', running, now + lease, member)
redis.call('PEXPIRE', running, lease)
return 1
"""
)

# ARGV 8 tenant, 9 queue, 10 redis message id of the parked copy, 11 message id, 12 body, 13 the actor's
# priority (dramatiq: lower runs first), which orders the FIFO before arrival does: a tenant's live reviews
# are woken before its replayed ones. Returns the number woken (the tenant may be under its cap by now: a
# slot freed since `acquire`, a raised cap).
PARK_LUA = (
    _COMMON
    + """
local tenant = ARGV[8]
redis.call('HSET', P .. 'parked:' .. ARGV[9], ARGV[10], ARGV[12])
local entry = ARGV[9] .. '|' .. ARGV[10] .. '|' .. ARGV[11]
local score = tonumber(ARGV[13]) * 1e12 + redis.call('INCR', P .. 'seq')
redis.call('ZADD', P .. 'waiting:' .. tenant, score, entry)
redis.call('SADD', ACTIVE, tenant)
return wake(tenant)
"""
)

# ARGV 8 tenant, 9 member. Returns the number woken.
RELEASE_LUA = (
    _COMMON
    + """
local running = P .. 'running:' .. ARGV[8]
redis.call('ZREM', running, ARGV[9])
redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
return wake(ARGV[8])
"""
)

# ARGV 8 heartbeat key prefix, 9 sweep interval (ms), 10 heartbeat TTL (ms). Returns the number woken, or
# -1 when another worker swept within the interval.
SWEEP_LUA = (
    _COMMON
    + """
if not redis.call('SET', P .. 'sweep', '1', 'NX', 'PX', tonumber(ARGV[9])) then return -1 end
local caps = redis.call('HGETALL', P .. 'capacity')
local fleet = 0
for i = 1, #caps, 2 do
  if redis.call('EXISTS', ARGV[8] .. caps[i]) == 1 then
    fleet = fleet + tonumber(caps[i + 1])
  else
    redis.call('HDEL', P .. 'capacity', caps[i])
  end
end
if fleet > 0 then redis.call('SET', P .. 'fleet', fleet, 'PX', tonumber(ARGV[10])) end
local woken = 0
for _, tenant in ipairs(redis.call('SMEMBERS', ACTIVE)) do
  local running = P .. 'running:' .. tenant
  redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
  for _, member in ipairs(redis.call('ZRANGE', running, 0, -1)) do
    local owner = string.match(member, '^([^|]+)|')
    if owner and owner ~= 'reserved' and redis.call('EXISTS', ARGV[8] .. owner) == 0 then
      redis.call('ZREM', running, member)
    end
  end
  woken = woken + wake(tenant)
end
return woken
"""
)


@dataclass(frozen=True)
class SlotConfig:
    """What the scripts need besides the tenant and message: see `FairSlots`."""

    namespace: str = "dramatiq"
    cap_setting: int | None = None  # None: a fair share of the fleet
    capacity: int = 1  # this worker's reviews in flight (the fleet until a sweep has summed them)
    lease_ms: int = 900_000
    reserve_ms: int = 60_000


class FairSlots:
    """The fairness scripts bound to one Redis client and configuration."""

    def __init__(self, client: redis.Redis, config: SlotConfig) -> None:
        self.client, self.config = client, config
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._park = client.register_script(PARK_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._sweep = client.register_script(SWEEP_LUA)

    def _args(self, *extra: object) -> list[Any]:
        c = self.config
        return [FAIR_PREFIX, c.namespace, f"{PREFIX}limits:tenant:", DEFAULT_LIMITS_KEY,
                c.cap_setting or 0, c.capacity, c.reserve_ms, *extra]  # fmt: skip

    def acquire(self, tenant: object, owner: str, message_id: str) -> bool:
        return bool(self._acquire(args=self._args(tenant, owner, message_id, self.config.lease_ms)))

    def park(
        self,
        tenant: object,
        queue: str,
        redis_message_id: str,
        message_id: str,
        body: bytes,
        priority: int = 0,
    ) -> int:
        args = self._args(tenant, queue, redis_message_id, message_id, body, max(0, min(priority, 1000)))
        return int(self._park(args=args))

    def release(self, tenant: object, member: str) -> int:
        return int(self._release(args=self._args(tenant, member)))

    def sweep(self, interval_ms: int, heartbeat_ttl_ms: int) -> int:
        return int(self._sweep(args=self._args(ALIVE_PREFIX, interval_ms, heartbeat_ttl_ms)))


def fair_share(client: redis.Redis, tenant: object) -> int:
    """The cap a tenant without an explicit one has now (as the scripts compute it): the fleet's reviews in
    flight over the tenants with running or parked reviews, this one included; 1 before any worker beat."""
    pipe = client.pipeline(transaction=False)
    pipe.get(FLEET_KEY)
    pipe.scard(ACTIVE_KEY)
    pipe.sismember(ACTIVE_KEY, str(tenant))
    fleet, active, member = pipe.execute()
    tenants = int(active) + (0 if member else 1)
    return max(1, -(-int(fleet or 1) // tenants))


def slots_key(tenant: object) -> str:
    return f"{SLOTS_PREFIX}{tenant}"


def waiting_key(tenant: object) -> str:
    return f"{WAITING_PREFIX}{tenant}"


def parked_count(client: redis.Redis, tenant: object) -> int:
    """A tenant's parked messages (waiting for one of its slots)."""
    return int(client.zcard(waiting_key(tenant)))


def parked_total(client: redis.Redis, queues: tuple[str, ...]) -> int:
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.hlen(parked_messages_key(queue))
    return sum(int(n) for n in pipe.execute())
