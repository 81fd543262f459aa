"""Run a worker process: broker, actors, dramatiq threads, and a metrics endpoint on its own port."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from reviewops.db.session import Database
from reviewops.deliveries.redelivery import scheduled_recovery
from reviewops.dlq.gauges import register_dead_letter_gauges
from reviewops.dlq.middleware import DeadLetters
from reviewops.dlq.store import apply_retention, publish_pending_count
from reviewops.queue.broker import build_broker
from reviewops.queue.fairness import HEADROOM_THREADS, configure_fairness
from reviewops.queue.gauges import register_queue_gauges
from reviewops.queue.lanes import ReplayLaneCap
from reviewops.queue.maintenance import Maintenance
from reviewops.queue.retries import ClassifiedRetries
from reviewops.reviews.engine import ReviewDeps
from reviewops.reviews.work import build_review_work
from reviewops.runtime import tune_gc
from reviewops.settings import Settings
from reviewops.telemetry.tracing import setup_tracing
from worker.actors import Router, WorkerRuntime, register_actors

log = logging.getLogger(__name__)


def install_worker_middleware(broker: dramatiq.Broker, settings: Settings, db: Database) -> None:
    """Dead-letter recording (needs the database, so it is added here, not in build_broker) and maintenance.

    DeadLetters goes before ClassifiedRetries in the list because dramatiq runs `after_*` hooks in reverse:
    the retry verdict must exist before the dead letter is written.
    """
    if isinstance(broker, RedisBroker):
        broker.heartbeat_timeout = int(settings.worker_heartbeat_timeout_seconds * 1000)
    client = broker.client if isinstance(broker, RedisBroker) else None
    has_retries = any(isinstance(m, ClassifiedRetries) for m in broker.middleware)
    broker.add_middleware(DeadLetters(db), before=ClassifiedRetries if has_retries else None)
    tasks: list[Callable[[], object]] = [
        lambda: apply_retention(db, settings.dead_letter_retention_days, client),
        lambda: publish_pending_count(db, client),
    ]
    recovery = scheduled_recovery(settings, db, client)
    if recovery is not None:  # every tick asks; the Redis lock lets one worker run it per interval
        tasks.append(recovery)
    broker.add_middleware(Maintenance(settings.maintenance_interval_seconds, tasks=tasks))
    broker.add_middleware(ReplayLaneCap(settings.replay_in_flight))


def worker_pool(threads: int) -> dict[str, int]:
    """The database pool of a worker process, sized to its reviews in flight.

    Each review holds a connection only for a few short transactions (claim, ids saved, history, record),
    so 10 stay open and bursts may open up to one per thread: a thread never waits `pool_timeout` for a
    connection (which would fail the review), and idle connections above 10 are closed again."""
    return {"pool_size": min(10, threads), "max_overflow": max(0, threads - 10)}


def start_worker(
    broker: dramatiq.Broker,
    settings: Settings,
    db: Database,
    *,
    threads: int | None = None,
    router: Router | None = None,
    review_deps: ReviewDeps | None = None,
) -> dramatiq.Worker:
    """Register the actors on `broker` and start consuming; the caller stops the returned worker.

    `router` and `review_deps` swap the event routing and the review engine (tests inject failing,
    blocking or deterministic ones)."""
    setup_tracing("reviewops-worker")
    threads = threads or settings.worker_thread_count
    configure_fairness(broker, settings, capacity=threads)
    install_worker_middleware(broker, settings, db)
    runtime = WorkerRuntime(settings=settings, db=db, reviews=build_review_work(settings, db, review_deps))
    if router is not None:
        runtime.router = router
    register_actors(broker, runtime)
    register_queue_gauges(broker)
    register_dead_letter_gauges(db, broker)
    # One thread more than the reviews in flight: while one tenant fills the fleet, it still takes
    # messages off the queue, parks that tenant's surplus and reaches the other tenants' work.
    worker = dramatiq.Worker(broker, worker_threads=threads + HEADROOM_THREADS, worker_timeout=100)
    tune_gc(settings.gc_gen0_threshold)
    worker.start()
    return worker


def run(settings: Settings) -> None:
    """Blocking entry point of `reviewops worker`; stops cleanly on SIGTERM/SIGINT."""
    if settings.redis_url is None:
        raise SystemExit(
            "reviewops worker needs REVIEWOPS_REDIS_URL (the embedded broker lives in `reviewops serve`)"
        )
    from prometheus_client import start_http_server

    from reviewops.telemetry.exposition import prepare_multiprocess_dir, registry

    prepare_multiprocess_dir()
    start_http_server(settings.worker_metrics_port, addr=settings.host, registry=registry())
    broker = build_broker(settings.redis_url)
    db = Database(settings.database_url, **worker_pool(settings.worker_thread_count + HEADROOM_THREADS))
    worker = start_worker(broker, settings, db)
    log.info(
        "worker started: %s threads, metrics on :%s",
        settings.worker_thread_count,
        settings.worker_metrics_port,
    )
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing in-flight work", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    worker.stop(timeout=int(settings.worker_shutdown_timeout_seconds * 1000))
    broker.close()
    db.dispose()
