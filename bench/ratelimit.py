"""Rate limiter: one REST API check (`check_api`, one EVALSHA of the GCRA script) vs one Redis PING.

Same client and connection, N sequential calls each, alternated in rounds so drift on a shared machine
hits both sides alike. The tenant has a policy default and an override hash in Redis, so the script
does its full work (two HGETs, GET, SET); the limit is high enough that every check is allowed. Redis'
own per-command time (INFO commandstats) is reported too, to tell script cost from round-trip cost.
"""

from __future__ import annotations

import sys
import time

import redis

from bench.common import BenchEnv, Rounds, Row, median, percentile
from reviewops.policy.store import DEFAULT_LIMITS_KEY, TenantLimits, tenant_limits_key
from reviewops.ratelimit.gcra import RedisGcra
from reviewops.ratelimit.limits import check_api

INSTALLATION = 4242


def _timed(call: object, n: int) -> list[float]:
    """Per-call microseconds of `n` sequential calls."""
    assert callable(call)
    out: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1e6)
    return out


def run(env: BenchEnv) -> list[Row]:
    rounds, per_round = (5, 200) if env.quick else (20, 2_500)
    client = redis.Redis.from_url(env.redis_url)
    client.hset(DEFAULT_LIMITS_KEY, mapping={"requests_per_minute": 10_000_000, "burst": 10_000_000})
    client.hset(tenant_limits_key(INSTALLATION), mapping={"requests_per_minute": 60_000_000})
    limiter = RedisGcra(client)
    fallback = TenantLimits(requests_per_minute=60, burst=10, reviews_per_hour=10, llm_tokens_per_day=1000)

    def check() -> None:
        if not check_api(limiter, INSTALLATION, fallback).allowed:
            raise RuntimeError("the benchmark tenant was rate limited; raise its limit")

    check()  # loads the script (SCRIPT LOAD on the first NOSCRIPT) and the connection
    client.ping()
    client.config_resetstat()
    checks: list[float] = []
    pings: list[float] = []
    p50_ratios: list[float] = []
    mean_ratios: list[float] = []
    try:
        for _ in range(rounds):
            round_checks, round_pings = _timed(check, per_round), _timed(client.ping, per_round)
            checks += round_checks
            pings += round_pings
            p50_ratios.append(median(round_checks) / median(round_pings))
            mean_ratios.append(sum(round_checks) / sum(round_pings))
        stats = client.info("commandstats")
    finally:
        client.close()
    server_check = stats.get("cmdstat_evalsha", {}).get("usec_per_call", float("nan"))
    server_ping = stats.get("cmdstat_ping", {}).get("usec_per_call", float("nan"))
    c50, p50 = median(checks), median(pings)
    c99, p99 = percentile(checks, 99), percentile(pings, 99)
    n = rounds * per_round
    # Targets judged on the median of the rounds' ratios (issue 20: one slow spell must not decide them).
    by_p50, by_mean = Rounds(p50_ratios), Rounds(mean_ratios)
    return [
        Row("ratelimit", "one check, p50", c50, p50, "us", target="< 1.5x", passed=by_p50.median < 1.5,
            notes=f"check_api (EVALSHA) vs PING, {n} sequential calls each, same connection, alternating in "
                  f"{rounds} rounds; median per-round ratio {by_p50.median:.3f} ({by_p50.spread('.2f')})"),
        Row("ratelimit", "one check, mean", sum(checks) / n, sum(pings) / n, "us", target="< 1.5x",
            passed=by_mean.median < 1.5,
            notes=f"median per-round ratio {by_mean.median:.3f} ({by_mean.spread('.2f')})"),
        Row("ratelimit", "one check, p99", c99, p99, "us"),
        Row("ratelimit", "server time per call (INFO commandstats)", float(server_check), float(server_ping),
            "us", notes="EVALSHA of the GCRA script vs PING, inside Redis: the rest is client and loopback"),
    ]  # fmt: skip


if __name__ == "__main__":
    from bench.__main__ import main

    main(["ratelimit", *sys.argv[1:]])
