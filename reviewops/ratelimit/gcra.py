"""GCRA (generic cell rate algorithm): one timestamp per key, no background refill.

A key stores its theoretical arrival time (TAT). With emission interval T = period / rate and burst B,
a request is allowed when the new TAT (max(TAT, now) + T * cost) is at most B * T ahead of now. All
arithmetic is in integer microseconds so the Python reference and the Lua script agree exactly.

The Lua script reads the limits from the policy store's hashes (tenant override over default over the
caller's fallback) and applies GCRA in the same call: one EVALSHA per check, atomic across API replicas,
and a limit changed in Redis is in force on the very next request.

A key stores "<TAT>:<interval>". When the limit changes, the debt (TAT - now) is rescaled from the old
interval to the new one, so a tenant that used 3 requests of its burst has used 3 of the new burst;
in check mode the debt is also clamped to the new tolerance, so lowering the burst never locks a tenant
out for longer than the new limit allows.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

import redis

Mode = Literal["check", "reserve"]
MICROS = 1_000_000


@dataclass(frozen=True)
class Decision:
    """The outcome of one check, with the limits that were in force for it."""

    allowed: bool
    remaining: int  # requests that could be made right now after this one
    retry_after: float  # seconds until a denied request would be allowed (0 when allowed)
    reset: float  # seconds until the full burst is available again
    rate: int  # requests per period in force
    burst: int
    period: float  # seconds

    @property
    def delay(self) -> float:
        """For `reserve` mode: how long the reserved slot lies in the future."""
        return self.retry_after


def gcra_step(
    state: tuple[int, int] | None,
    now: int,
    rate: int,
    burst: int,
    period_us: int,
    cost: int = 1,
    mode: Mode = "check",
) -> tuple[tuple[int, int] | None, int, int, int, int]:
    """Reference GCRA in integer microseconds; `state` is (TAT, interval it was computed with).

    Returns (new state to store or None to leave it, allowed 0/1, remaining, retry_after_us, reset_us).
    `reserve` always admits and books the next free slot: retry_after is then how long to wait for it.
    """
    if rate < 1:
        return None, 0, 0, period_us, period_us
    burst = max(burst, 1)
    interval = max(period_us // rate, 1)
    tolerance = interval * burst
    base = now
    if state is not None and state[0] > now:
        tat, old_interval = state
        debt = tat - now
        if old_interval != interval:  # the same float arithmetic as the Lua script
            debt = math.floor(float(debt) * interval / old_interval)
        base = now + debt
    if mode == "check":
        base = min(base, now + tolerance)
    new_tat = base + interval * cost
    wait = new_tat - tolerance - now
    if mode == "reserve":
        return (new_tat, interval), 1, 0, max(wait, 0), new_tat - now
    if wait > 0:
        return None, 0, 0, wait, base - now
    remaining = (tolerance - (new_tat - now)) // interval
    return (new_tat, interval), 1, remaining, 0, new_tat - now


LUA = """
-- KEYS: 1 default limits hash, 2 tenant limits hash, 3 GCRA state (TAT in microseconds)
-- ARGV: 1 rate field, 2 burst field ('' = burst equals rate), 3 fallback rate, 4 fallback burst,
--       5 period (us), 6 cost, 7 mode (check|reserve), 8 now (us; '' = Redis TIME)
-- One HMGET per hash (tenant override, then policy default), field by field over the fallback.
local fields = {ARGV[1]}
if ARGV[2] ~= '' then fields[2] = ARGV[2] end
local own = redis.call('HMGET', KEYS[2], unpack(fields))
local shared = redis.call('HMGET', KEYS[1], unpack(fields))
local function limit(i, fallback)
  local n = tonumber(own[i] or shared[i])
  if n then return math.floor(n) end
  return fallback
end
local rate = limit(1, tonumber(ARGV[3]))
local burst = rate
if ARGV[2] ~= '' then burst = limit(2, tonumber(ARGV[4])) end
local period = tonumber(ARGV[5])
local cost = tonumber(ARGV[6])
local now
if ARGV[8] ~= '' then
  now = tonumber(ARGV[8])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
if rate < 1 then
  return {0, 0, period, period, rate, burst}
end
if burst < 1 then burst = 1 end
local interval = math.max(math.floor(period / rate), 1)
local tolerance = interval * burst
local base = now
local stored = redis.call('GET', KEYS[3])
if stored then
  local tat_s, old_s = string.match(stored, '^(%d+):(%d+)$')
  local tat, old_interval = tonumber(tat_s), tonumber(old_s)
  if tat and old_interval and tat > now then
    local debt = tat - now
    if old_interval ~= interval then debt = math.floor(debt * interval / old_interval) end
    base = now + debt
  end
end
if ARGV[7] == 'check' and base > now + tolerance then base = now + tolerance end
local new_tat = base + interval * cost
local wait = new_tat - tolerance - now
local ttl = math.floor((new_tat - now) / 1000) + 1000
if ARGV[7] == 'reserve' then
  redis.call('SET', KEYS[3], string.format('%d:%d', new_tat, interval), 'PX', ttl)
  return {1, 0, math.max(wait, 0), new_tat - now, rate, burst}
end
if wait > 0 then
  return {0, 0, wait, base - now, rate, burst}
end
redis.call('SET', KEYS[3], string.format('%d:%d', new_tat, interval), 'PX', ttl)
local remaining = math.floor((tolerance - (new_tat - now)) / interval)
return {1, remaining, 0, new_tat - now, rate, burst}
"""


class RedisGcra:
    """The Lua script, cached server-side: one EVALSHA per check, loaded again after a Redis restart.

    EVALSHA is sent with `execute_command` rather than redis-py's `Script` object: the wrapper alone
    cost about half a PING round trip per call here (bench/ratelimit.py), more than the script itself.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.sha = hashlib.sha1(LUA.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts so

    def _evalsha(self, keys: list[str], args: list[str | int]) -> list[int]:
        try:
            raw: list[int] = self.client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:  # a new or restarted Redis: load it once, then go on
            self.client.script_load(LUA)
            raw = self.client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        return raw

    def check(
        self,
        *,
        state_key: str,
        default_key: str,
        tenant_key: str,
        rate_field: str,
        burst_field: str,
        fallback_rate: int,
        fallback_burst: int,
        period: float,
        cost: int = 1,
        mode: Mode = "check",
        now_us: int | None = None,
    ) -> Decision:
        period_us = int(period * MICROS)
        raw = self._evalsha(
            [default_key, tenant_key, state_key],
            [rate_field, burst_field, fallback_rate, fallback_burst, period_us, cost, mode,
             "" if now_us is None else now_us],
        )  # fmt: skip
        allowed, remaining, retry_us, reset_us, rate, burst = (int(x) for x in raw)
        return Decision(
            allowed=bool(allowed),
            remaining=remaining,
            retry_after=retry_us / MICROS,
            reset=reset_us / MICROS,
            rate=rate,
            burst=burst,
            period=period,
        )


class LocalGcra:
    """In-process GCRA for the embedded default (no Redis): same math, one lock, one process."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def check(
        self, state_key: str, rate: int, burst: int, period: float, cost: int = 1, mode: Mode = "check"
    ) -> Decision:
        now = time.time_ns() // 1000
        with self._lock:
            new_state, allowed, remaining, retry_us, reset_us = gcra_step(
                self._state.get(state_key), now, rate, burst, int(period * MICROS), cost, mode
            )
            if new_state is not None:
                self._state[state_key] = new_state
        return Decision(bool(allowed), remaining, retry_us / MICROS, reset_us / MICROS, rate, burst, period)
