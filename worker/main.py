"""Run a worker process: broker, actors, dramatiq threads, and a metrics endpoint on its own port."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import dramatiq

from reviewops.db.session import Database
from reviewops.queue.broker import build_broker
from reviewops.queue.fairness import configure_fairness
from reviewops.settings import Settings
from reviewops.telemetry.tracing import setup_tracing
from worker.actors import WorkerRuntime, register_actors

log = logging.getLogger(__name__)


def start_worker(
    broker: dramatiq.Broker, settings: Settings, db: Database, *, threads: int | None = None
) -> dramatiq.Worker:
    """Register the actors on `broker` and start consuming; the caller stops the returned worker."""
    setup_tracing("reviewops-worker")
    register_actors(broker, WorkerRuntime(settings=settings, db=db))
    configure_fairness(broker, settings)
    worker = dramatiq.Worker(broker, worker_threads=threads or settings.worker_threads, worker_timeout=100)
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
    db = Database(settings.database_url)
    worker = start_worker(broker, settings, db)
    log.info(
        "worker started: %s threads, metrics on :%s", settings.worker_threads, settings.worker_metrics_port
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
