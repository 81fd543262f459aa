"""GCRA math: the Python reference, and the Lua script agreeing with it on real Redis."""

from __future__ import annotations

import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewops.policy.store import DEFAULT_LIMITS_KEY, tenant_limits_key
from reviewops.ratelimit.gcra import MICROS, LocalGcra, RedisGcra, gcra_step

MINUTE = 60 * MICROS


def run(rate: int, burst: int, times: list[int], period: int = MINUTE) -> list[tuple[int, int, int, int]]:
    state: tuple[int, int] | None = None
    out = []
    for now in times:
        new_state, allowed, remaining, retry, reset = gcra_step(state, now, rate, burst, period)
        if new_state is not None:
            state = new_state
        out.append((allowed, remaining, retry, reset))
    return out


def test_a_full_burst_is_allowed_at_once_then_denied() -> None:
    results = run(rate=60, burst=5, times=[0] * 6)
    assert [r[0] for r in results] == [1, 1, 1, 1, 1, 0]
    assert [r[1] for r in results[:5]] == [4, 3, 2, 1, 0]
    allowed, remaining, retry_after, reset = results[5]
    assert (allowed, remaining) == (0, 0)
    assert retry_after == MICROS  # one emission interval (60/min -> 1 s) until the next slot
    assert reset == 5 * MICROS  # the whole burst is back after 5 intervals


def test_steady_rate_at_the_emission_interval_is_never_denied() -> None:
    times = [i * MICROS for i in range(200)]  # exactly 60 per minute
    assert all(r[0] for r in run(rate=60, burst=1, times=times))


def test_faster_than_the_rate_is_denied_after_the_burst() -> None:
    times = [i * MICROS // 2 for i in range(20)]  # 120 per minute against 60
    allowed = [r[0] for r in run(rate=60, burst=3, times=times)]
    assert allowed[:4] == [1, 1, 1, 1]  # burst of 3, plus one interval regained by t=1.5 s
    assert sum(allowed) < len(allowed)
    # Over any window, allowed <= burst + elapsed/interval.
    assert sum(allowed) <= 3 + (times[-1] // MICROS) + 1


def test_a_denied_request_does_not_consume_capacity() -> None:
    state, *_ = gcra_step(None, 0, rate=60, burst=1, period_us=MINUTE)
    assert gcra_step(state, 0, 60, 1, MINUTE)[0] is None  # denied: nothing to store
    assert gcra_step(state, MICROS, 60, 1, MINUTE)[1] == 1  # allowed exactly one interval later


def test_a_limit_change_rescales_the_debt_in_requests() -> None:
    state = None
    for _ in range(3):  # 3 of a burst of 10 used at 60/min
        state, *_ = gcra_step(state, 0, rate=60, burst=10, period_us=MINUTE)
    # Raised to 6000/min with the same burst: still 3 used, so 6 remain after this one.
    _, allowed, remaining, _, _ = gcra_step(state, 0, rate=6000, burst=10, period_us=MINUTE)
    assert (allowed, remaining) == (1, 6)
    # Exhausted at 1/min, then raised: one interval of the new rate later it is allowed again.
    state, *_ = gcra_step(None, 0, rate=1, burst=1, period_us=MINUTE)
    assert gcra_step(state, 0, 1, 1, MINUTE)[1] == 0
    assert gcra_step(state, 10_000, rate=6000, burst=50, period_us=MINUTE)[1] == 1


def test_lowering_the_burst_never_locks_out_longer_than_the_new_limit() -> None:
    state = None
    for _ in range(100):
        state, *_ = gcra_step(state, 0, rate=6000, burst=100, period_us=MINUTE)
    _, allowed, _, retry, _ = gcra_step(state, 0, rate=6000, burst=5, period_us=MINUTE)
    assert allowed == 0 and retry <= 10_000  # one new interval, not the 100 the old debt held


def test_reserve_mode_books_slots_in_the_future() -> None:
    state = None
    delays = []
    for _ in range(5):
        state, allowed, _, delay, _ = gcra_step(
            state, 0, rate=3600, burst=2, period_us=3600 * MICROS, mode="reserve"
        )
        assert allowed == 1
        delays.append(delay // MICROS)
    assert delays == [0, 0, 1, 2, 3]


def test_zero_rate_denies_everything() -> None:
    assert gcra_step(None, 0, rate=0, burst=10, period_us=MINUTE)[1] == 0


def test_local_limiter_uses_the_same_math() -> None:
    limiter = LocalGcra()
    decisions = [limiter.check("k", rate=6, burst=2, period=60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].retry_after > 0 and decisions[0].remaining == 1


STATE, TENANT = "reviewops:rl:test", tenant_limits_key(1)


def lua(limiter: RedisGcra, now: int, fallback_rate: int, fallback_burst: int, mode: str = "check") -> tuple:
    d = limiter.check(
        state_key=STATE,
        default_key=DEFAULT_LIMITS_KEY,
        tenant_key=TENANT,
        rate_field="requests_per_minute",
        burst_field="burst",
        fallback_rate=fallback_rate,
        fallback_burst=fallback_burst,
        period=60,
        mode=mode,
        now_us=now,  # type: ignore[arg-type]
    )
    return d


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 5 * MICROS), st.integers(1, 5000), st.integers(1, 50)),
        min_size=1,
        max_size=40,
    ),
)
def test_lua_script_agrees_with_the_reference(redis_url: str, steps: list[tuple[int, int, int]]) -> None:
    """Random gaps and limits that change between requests: the same decisions, to the microsecond."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(STATE, DEFAULT_LIMITS_KEY, TENANT)
        limiter = RedisGcra(client)
        now, state = 1_700_000_000 * MICROS, None
        for gap, rate, burst in steps:
            now += gap
            new_state, allowed, remaining, retry, reset = gcra_step(state, now, rate, burst, MINUTE)
            state = new_state if new_state is not None else state
            d = lua(limiter, now, rate, burst)
            assert (d.allowed, d.remaining) == (bool(allowed), remaining)
            assert (round(d.retry_after * MICROS), round(d.reset * MICROS)) == (retry, reset)
            assert (d.rate, d.burst) == (rate, burst)
    finally:
        client.close()


def test_lua_reads_limits_from_the_policy_hashes(redis_client: redis.Redis) -> None:
    limiter = RedisGcra(redis_client)
    assert lua(limiter, 10**15, 60, 5).rate == 60  # nothing in Redis: the fallback
    redis_client.hset(DEFAULT_LIMITS_KEY, mapping={"requests_per_minute": 120, "burst": 7})
    d = lua(limiter, 10**15, 60, 5)
    assert (d.rate, d.burst) == (120, 7)
    redis_client.hset(TENANT, mapping={"burst": 9})
    d = lua(limiter, 10**15, 60, 5)
    assert (d.rate, d.burst) == (120, 9)  # tenant override over the policy default, field by field


def test_the_script_is_loaded_again_after_redis_forgot_it(redis_client: redis.Redis) -> None:
    """A restarted Redis has an empty script cache: the first check loads the script and still decides."""
    limiter = RedisGcra(redis_client)
    assert lua(limiter, 10**15, 60, 5).allowed
    redis_client.script_flush()
    assert not redis_client.script_exists(limiter.sha)[0]
    assert lua(limiter, 10**15 + MICROS, 60, 5).allowed
    assert redis_client.script_exists(limiter.sha)[0]
