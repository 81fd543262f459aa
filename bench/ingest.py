"""Webhook ingest: the real API under uvicorn vs a bare endpoint on the same server that reads the body
and checks its HMAC, as any real receiver must, then answers 202 (bench/ingest_app.py).

Targets (issue 10): ReviewOps' throughput >= 50 % of the bare endpoint's; p99 acknowledgement < 50 ms
at 500 requests/s on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, Rounds, Row, median, median_round, percentile, tree_cpu_seconds
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BODY = ROOT / "tests/fixtures/github-webhooks/pull_request/opened.payload.json"
SECRET = "bench-secret"
WARMUP = 32  # the load generator's warm-up: one request per connection


def _loadgen(url: str, mode: str, seconds: float, rate: float = 500, concurrency: int = 32) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--url", url, "--mode", mode, "--seconds", str(seconds),
         "--rate", str(rate), "--concurrency", str(concurrency), "--body", str(BODY), "--secret", SECRET],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


ROUNDS = 5  # max-throughput windows per endpoint, alternating (odd: the median is one of them)
RATE_ROUNDS = 3  # fixed-rate windows per endpoint, alternating
RATE_WINDOW = 4.0  # seconds of each fixed-rate window
ENDPOINTS = (("real", "/webhooks/github"), ("bare", "/bare"))


def _alternating_max(base: str, server_pid: int, seconds: float, rounds: int) -> dict[str, Any]:
    """Max throughput of both endpoints in alternating short windows (real, bare, real, bare, ...).

    This shared machine's speed drifts by tens of percent within a minute; one long window per endpoint
    let a slow spell land on one side only. Alternating gives both the same conditions; the per-round
    figures give the median the target is judged on and the spread that remains."""
    totals = {p: {"count": 0, "elapsed": 0.0, "cpu": 0.0, "statuses": {}} for p in ("real", "bare")}
    per_round: dict[str, list[float]] = {"real": [], "bare": [], "ratio": []}
    for _ in range(rounds):
        round_tp = {}
        for name, path in ENDPOINTS:
            before = tree_cpu_seconds(server_pid)
            result = _loadgen(f"{base}{path}", "max", seconds / rounds)
            total = totals[name]
            total["cpu"] += tree_cpu_seconds(server_pid) - before
            total["count"] += result["count"]
            total["elapsed"] += result["elapsed"]
            for status, n in result["statuses"].items():
                total["statuses"][status] = total["statuses"].get(status, 0) + n
            round_tp[name] = result["count"] / result["elapsed"]
            per_round[name].append(round_tp[name])
        per_round["ratio"].append(round_tp["real"] / round_tp["bare"])
    return {**totals, "rounds": per_round}


def _alternating_rate(base: str, seconds: float, rounds: int) -> dict[str, Any]:
    """The fixed offered rate, in alternating windows as above: per-round latencies (ms) of each endpoint,
    and all answers pooled (count, elapsed, statuses)."""
    out: dict[str, Any] = {}
    for name, _ in ENDPOINTS:
        out[name] = {"count": 0, "elapsed": 0.0, "statuses": {}, "rounds": []}
    for _ in range(rounds):
        for name, path in ENDPOINTS:
            result = _loadgen(f"{base}{path}", "rate", seconds)
            total = out[name]
            total["count"] += result["count"]
            total["elapsed"] += result["elapsed"]
            for status, n in result["statuses"].items():
                total["statuses"][status] = total["statuses"].get(status, 0) + n
            total["rounds"].append([x * 1000 for x in result["latencies"]])
    return out


def _measure(env: BenchEnv, workers: int) -> list[Row]:
    """Both endpoints on one uvicorn server with `workers` processes: fixed rate, then max throughput."""
    port = free_port()
    server_env = {
        **os.environ,
        "REVIEWOPS_DATABASE_URL": env.database_url,
        "REVIEWOPS_REDIS_URL": env.redis_url,
        "REVIEWOPS_WEBHOOK_SECRETS": SECRET,
        "REVIEWOPS_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.ingest_app:create", "--factory", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = 3.0 if env.quick else 10.0
    rounds, rate_rounds = (1, 1) if env.quick else (ROUNDS, RATE_ROUNDS)
    try:
        wait_for_port(port, timeout=30)
        base = f"http://127.0.0.1:{port}"
        fixed = _alternating_rate(base, seconds if env.quick else RATE_WINDOW, rate_rounds)
        real_rate, bare_rate = fixed["real"], fixed["bare"]
        both = _alternating_max(base, server.pid, seconds, rounds)
        real_max, bare_max = both["real"], both["bare"]
        real_cpu, bare_cpu = real_max["cpu"], bare_max["cpu"]
    finally:
        server.terminate()
        server.wait(timeout=20)
    checked = (("real", real_rate), ("real max", real_max), ("bare", bare_rate), ("bare max", bare_max))
    for name, result in checked:  # the bare endpoint verifies the signature too: a 401 there is a bug
        bad = {k: v for k, v in result["statuses"].items() if k != "202"}
        if bad:
            raise RuntimeError(f"ingest benchmark ({name}) saw non-202 answers: {bad}")
    ratio = Rounds(both["rounds"]["ratio"])
    real_tp, bare_tp = median_round(list(zip(both["rounds"]["real"], both["rounds"]["bare"], strict=True)))
    spread = f"the round with the median ratio; ratios {ratio.spread('.2f')}"
    p50 = {k: Rounds([median(r) for r in v["rounds"]]) for k, v in fixed.items()}
    p99 = {k: Rounds([percentile(r, 99) for r in v["rounds"]]) for k, v in fixed.items()}
    rate_note = f"rounds of {seconds if env.quick else RATE_WINDOW:.0f} s"
    bench = "webhook ingest" if workers == 1 else f"webhook ingest, {workers} API processes"
    return [
        # The target is the issue's: one API process serving both endpoints. With two, the two cores are
        # shared with PostgreSQL, Redis and the load generator, which the bare endpoint never touches:
        # that row shows what the machine gives, not a second target.
        Row(bench, "max throughput", real_tp, bare_tp, "req/s", "ratio >= 0.5", real_tp / bare_tp >= 0.5,
            notes=spread)
        if workers == 1
        else Row(bench, "max throughput", real_tp, bare_tp, "req/s",
                 notes=f"2 cores shared with PostgreSQL, Redis and the load generator; {spread}"),
        Row(bench, "p50 ack @500 rps", p50["real"].median, p50["bare"].median, "ms",
            notes=p50["real"].spread(".3g", rate_note)),
        Row(bench, "p99 ack @500 rps", p99["real"].median, p99["bare"].median, "ms", "< 50 ms",
            p99["real"].median < 50, notes=p99["real"].spread(".3g", rate_note)),
        Row(bench, "achieved rate @500 rps", real_rate["count"] / real_rate["elapsed"],
            bare_rate["count"] / bare_rate["elapsed"], "req/s"),
        Row(bench, "server CPU per request (max throughput run)",
            real_cpu / (real_max["count"] + WARMUP * rounds) * 1000,
            bare_cpu / (bare_max["count"] + WARMUP * rounds) * 1000, "ms",
            notes="uvicorn processes' user+system time / requests (incl. warm-up); steadier than req/s"),
    ]  # fmt: skip


def run(env: BenchEnv) -> list[Row]:
    """One API process (the figure per process), then two (one per core, as `reviewops api --workers 2`
    or two replicas would run here); the bare endpoint gets the same processes each time."""
    return [*_measure(env, 1), *_measure(env, 2)]


if __name__ == "__main__":
    from bench.__main__ import main

    main(["ingest", *sys.argv[1:]])
