"""Deterministic broker maintenance: requeue the unacked messages of dead workers, on a timer.

dramatiq's RedisBroker only runs its Lua maintenance on a random 0.1% of commands, so after a SIGKILL the
dead worker's messages may wait a long time. `requeue_dead_workers` calls the broker's own dispatch
script with maintenance forced on, for every queue and its delay queue (acks are kept per queue). The
`Maintenance` middleware runs that and any extra tasks (dead-letter retention, the pending count) in a
thread of each worker process, every `interval` seconds, from worker boot to worker shutdown.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.middleware import Middleware

from reviewops.telemetry import metrics

log = logging.getLogger(__name__)


def requeue_dead_workers(broker: dramatiq.Broker, queues: Iterable[str] | None = None) -> None:
    """Run the broker's Lua maintenance now (requeue dead workers' messages, trim expired XQ entries).

    Uses the harmless `qsize` command as the carrier. The call also refreshes this broker's heartbeat.
    """
    if not isinstance(broker, RedisBroker):
        return
    dispatch = broker.scripts["dispatch"]
    for queue in queues if queues is not None else sorted(broker.get_declared_queues()):
        for name in (queue, dq_name(queue)):
            dispatch(
                keys=[broker.namespace],
                args=[
                    "qsize", current_millis(), name, broker.broker_id, broker.heartbeat_timeout,
                    broker.dead_message_ttl, 1, broker._max_unpack_size(),
                ],
            )  # fmt: skip


class Maintenance(Middleware):
    """A worker-process thread running `requeue_dead_workers` and `tasks` every `interval` seconds."""

    def __init__(self, interval: float, tasks: Iterable[Callable[[], Any]] = ()) -> None:
        self.interval = interval
        self.tasks = list(tasks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._broker: dramatiq.Broker | None = None

    def run_once(self) -> None:
        if self._broker is None:
            return
        ok = True
        tasks: list[Callable[[], Any]] = [functools.partial(requeue_dead_workers, self._broker), *self.tasks]
        for task in tasks:
            try:
                task()
            except Exception as exc:
                ok = False
                log.warning("maintenance task failed: %s: %s", type(exc).__name__, exc)
        metrics.MAINTENANCE_RUNS.labels("ok" if ok else "error").inc()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._broker = broker
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reviewops-maintenance", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
