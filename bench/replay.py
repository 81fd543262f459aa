"""Dead-letter replay while live traffic continues: replay throughput, and live latency with vs without it.

Seeds 10,000 dead deliveries with their dead letters (quick: 500) as the worker leaves them, starts a
real dramatiq worker (`worker.main.start_worker`, both lanes) and sends live `ping` deliveries at a
fixed rate: a row inserted, then `enqueue_delivery` on the live queue, as the API does. Phase 1 (the
baseline) is live traffic alone; phase 2 runs the replay service function the CLI uses (no `--rate`),
in its own process like the CLI, while the live traffic goes on. Live latency is enqueue -> the
delivery's handler ran, in the worker.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from pydantic import SecretStr
from sqlalchemy import text

from bench.common import BenchEnv, Row, median, percentile
from reviewops.db.models import Base, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.deliveries import routing
from reviewops.deliveries.processing import Context, Handler
from reviewops.dlq.replay import replay
from reviewops.dlq.store import Filters
from reviewops.queue.broker import REPLAY_QUEUE, build_broker, enqueue_delivery
from reviewops.settings import Settings
from tests.support.faults import FAULT_EVENT, bulk_dead_letters


class Recorder:
    """The worker's view: when each live delivery was handled, and how many replayed ones ran."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[int, float] = {}
        self.handled: dict[int, float] = {}
        self.replayed = 0
        self.all_replayed = threading.Event()
        self.expected_replays = 0

    def route(self, event: str, action: str | None) -> Handler | None:
        if event == FAULT_EVENT:
            return self._replayed
        if event == "ping":
            return self._live
        return routing.route(event, action)

    def _live(self, ctx: Context) -> str:
        with self.lock:
            self.handled[ctx.delivery.id] = time.time()
        return "processed"

    def _replayed(self, ctx: Context) -> str:
        with self.lock:
            self.replayed += 1
            if self.replayed >= self.expected_replays:
                self.all_replayed.set()
        return "processed"

    def latencies(self, ids: list[int]) -> list[float]:
        with self.lock:
            return [(self.handled[i] - self.sent[i]) * 1000 for i in ids if i in self.handled]


def live_traffic(db: Database, send: Callable[[int], object], recorder: Recorder, rate: float,
                 stop: threading.Event, ids: list[int]) -> threading.Thread:  # fmt: skip
    """A thread sending one ping delivery every 1/rate seconds until `stop` is set."""

    def loop() -> None:
        started = time.monotonic()
        n = 0
        while not stop.is_set():
            now = utcnow()
            with db.session() as session:
                row = WebhookDelivery(
                    app_id=0, delivery_guid=f"bench-live-{time.time_ns()}-{n}", event="ping", action=None,
                    payload={}, status="queued", attempts=0, created_at=now, updated_at=now,
                )  # fmt: skip
                session.add(row)
                session.flush()
                delivery_id = row.id
            with recorder.lock:
                recorder.sent[delivery_id] = time.time()
            send(delivery_id)
            ids.append(delivery_id)
            n += 1
            wait = started + n / rate - time.monotonic()
            if wait > 0:
                stop.wait(wait)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def _drain(recorder: Recorder, ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with recorder.lock:
            if all(i in recorder.handled for i in ids):
                return
        time.sleep(0.05)


def raw_enqueue_rate(redis_url: str, count: int) -> float:
    """Baseline: the same number of messages put straight on the replay lane, no dead-letter bookkeeping.

    A scratch namespace nobody consumes, deleted afterwards."""
    broker = build_broker(redis_url, namespace="benchreplay")
    try:
        started = time.perf_counter()
        for i in range(count):
            enqueue_delivery(broker, i + 1, queue=REPLAY_QUEUE)
        rate = count / (time.perf_counter() - started)
    finally:
        broker.close()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter("benchreplay:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    return rate


def replay_process(database_url: str, redis_url: str, ready: Any, go: Any, out: Any) -> None:
    """The replay as `reviewops dlq replay` runs it: its own process, database pool and broker."""
    db = Database(database_url)
    broker = build_broker(redis_url)
    try:
        ready.set()
        go.wait()
        started = time.perf_counter()
        result = replay(db, broker, Filters())
        out.put((result.replayed, time.perf_counter() - started))
    finally:
        broker.close()
        db.dispose()


def _result(child: Any, out: Any) -> tuple[int, float]:
    """The child's (replayed, seconds); fails fast if it died instead of waiting out the timeout."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            replayed, seconds = out.get(timeout=1)
            return int(replayed), float(seconds)
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the replay process exited with code {child.exitcode}") from None
    raise RuntimeError("the replay did not finish in 600 s")


def run(env: BenchEnv) -> list[Row]:
    from worker.main import start_worker

    letters, rate, baseline_seconds = (500, 10.0, 4.0) if env.quick else (10_000, 20.0, 20.0)
    client = redis.Redis.from_url(env.redis_url)
    client.flushdb()  # nothing left over from other benchmarks on the queues
    db = Database(env.database_url, pool_size=20)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))
    settings = Settings(database_url=env.database_url, redis_url=env.redis_url,
                        webhook_secrets=[SecretStr("bench-secret")])  # fmt: skip
    bulk_dead_letters(db, letters)
    raw_rate = raw_enqueue_rate(env.redis_url, letters)
    recorder = Recorder()
    recorder.expected_replays = letters
    worker_broker = build_broker(env.redis_url)
    producer = build_broker(env.redis_url)  # the API's broker
    spawn = multiprocessing.get_context("spawn")
    ready, go, out = spawn.Event(), spawn.Event(), spawn.Queue()
    child = spawn.Process(target=replay_process, args=(env.database_url, env.redis_url, ready, go, out))
    child.start()
    worker = start_worker(worker_broker, settings, db, router=recorder.route)
    try:
        # Phase 1: live traffic alone.
        stop, before = threading.Event(), []
        thread = live_traffic(db, lambda i: enqueue_delivery(producer, i), recorder, rate, stop, before)
        time.sleep(baseline_seconds)
        stop.set()
        thread.join()
        _drain(recorder, before, 30)
        # Phase 2: the same live traffic while the whole dead-letter queue is replayed and worked off.
        stop, during = threading.Event(), []
        thread = live_traffic(db, lambda i: enqueue_delivery(producer, i), recorder, rate, stop, during)
        if not ready.wait(60):
            raise RuntimeError("the replay process did not start")
        started = time.perf_counter()
        go.set()
        replayed, enqueued_in = _result(child, out)
        finished = recorder.all_replayed.wait(600)
        processed_in = time.perf_counter() - started
        stop.set()
        thread.join()
        _drain(recorder, during, 30)
    finally:
        worker.stop(timeout=5000)
        child.join(timeout=30)
        for b in (worker_broker, producer):
            b.close()
        client.close()
        db.dispose()
    if replayed != letters or not finished:
        raise RuntimeError(f"replayed {replayed}/{letters}, all processed: {finished}")
    base, load = recorder.latencies(before), recorder.latencies(during)
    lost = len(during) - len(load)
    return [
        Row("replay", f"replay enqueue rate ({letters} dead letters)", letters / enqueued_in, raw_rate,
            "msg/s", notes="replay() as the CLI runs it, no --rate, under live traffic; baseline: the same "
                           "count enqueued straight onto the replay lane (no claim/settle), no traffic"),
        Row("replay", "replayed and processed by the worker", letters / processed_in, None, "msg/s",
            notes=f"{settings.worker_thread_count} worker threads, at most {settings.replay_in_flight} on "
                  f"the replay lane; live traffic {rate:.0f}/s alongside"),
        Row("replay", "live latency p50 (during replay vs without)", median(load), median(base), "ms",
            notes=f"enqueue -> handler ran; {len(load)} vs {len(base)} live deliveries"),
        Row("replay", "live latency p99 (during replay vs without)", percentile(load, 99),
            percentile(base, 99), "ms", notes=f"{lost} live deliveries unprocessed after the drain"),
    ]  # fmt: skip


if __name__ == "__main__":
    from bench.__main__ import main

    main(["replay", *sys.argv[1:]])
