"""Queue round trip and throughput: dramatiq on Redis (as ReviewOps configures it) vs raw RPUSH/BLPOP.

- latency: enqueue -> the actor starts, one message at a time, workers idle (median, p99);
- throughput: a batch of no-op messages drained by one worker process's threads.
"""

from __future__ import annotations

import sys
import threading
import time

import dramatiq
import redis

from bench.common import BenchEnv, Row, median, percentile
from reviewops.queue.broker import build_broker


def _dramatiq(env: BenchEnv, samples: int, batch: int) -> tuple[list[float], float]:
    broker = build_broker(env.redis_url, namespace="benchq")
    started_at: list[float] = []
    done = threading.Event()
    count = {"n": 0, "target": 0}
    lock = threading.Lock()

    @dramatiq.actor(broker=broker, queue_name="reviews", actor_name="bench_noop", max_retries=0)
    def noop(sent: float) -> None:
        started_at.append(time.time() - sent)
        with lock:
            count["n"] += 1
            if count["n"] >= count["target"]:
                done.set()

    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        latencies = []
        for _ in range(samples):
            done.clear()
            count["n"], count["target"] = 0, 1
            started_at.clear()
            noop.send(time.time())
            done.wait(10)
            latencies.append(started_at[0] * 1000)
            time.sleep(0.05)  # let the consumer go idle again: this measures the idle path
        done.clear()
        count["n"], count["target"] = 0, batch
        begin = time.perf_counter()
        for _ in range(batch):
            noop.send(0.0)
        done.wait(120)
        throughput = batch / (time.perf_counter() - begin)
    finally:
        worker.stop()
        broker.close()
    return latencies, throughput


def _raw(env: BenchEnv, samples: int, batch: int) -> tuple[list[float], float]:
    client = redis.Redis.from_url(env.redis_url)
    key = "benchraw:q"
    client.delete(key)
    latencies: list[float] = []
    stop = threading.Event()
    received = {"n": 0}
    got = threading.Event()

    def consume() -> None:
        consumer = redis.Redis.from_url(env.redis_url)
        while not stop.is_set():
            item = consumer.blpop([key], timeout=1)
            if item is None:
                continue
            sent = float(item[1])
            if sent:
                latencies.append((time.time() - sent) * 1000)
            received["n"] += 1
            got.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    for _ in range(samples):
        got.clear()
        client.rpush(key, repr(time.time()))
        got.wait(10)
        time.sleep(0.05)
    received["n"] = 0
    begin = time.perf_counter()
    for _ in range(batch):
        client.rpush(key, b"0")
    while received["n"] < batch:
        time.sleep(0.001)
    throughput = batch / (time.perf_counter() - begin)
    stop.set()
    thread.join(timeout=5)
    client.close()
    return latencies, throughput


def run(env: BenchEnv) -> list[Row]:
    samples, batch = (20, 500) if env.quick else (200, 5000)
    d_lat, d_tp = _dramatiq(env, samples, batch)
    r_lat, r_tp = _raw(env, samples, batch)
    return [
        Row("queue", "enqueue->actor start p50 (idle)", median(d_lat), median(r_lat), "ms"),
        Row("queue", "enqueue->actor start p99 (idle)", percentile(d_lat, 99), percentile(r_lat, 99), "ms"),
        Row(
            "queue", "no-op throughput", d_tp, r_tp, "msg/s", notes="dramatiq (4 threads) vs raw RPUSH/BLPOP"
        ),
    ]


if __name__ == "__main__":
    from bench.__main__ import main

    main(["queue", *sys.argv[1:]])
