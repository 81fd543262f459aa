"""Group commit for the webhook intake: concurrent deliveries share one INSERT and one thread hand-off.

Each request puts its delivery on a queue and awaits a future; one intake thread takes everything waiting
(up to `max_batch`), commits it with one multi-row INSERT (reviewops.deliveries.intake.accept_many),
enqueues each, and resolves the futures. A batch that fails for anything but the database being down is
taken again one delivery at a time: one poisoned delivery fails alone, never the strangers in its batch.
Alone, a delivery is a batch of one and waits for nobody; under load, batches grow by themselves and the
per-delivery cost of the statement, the round trip and the thread hand-off is shared. Nothing is
acknowledged before its row is committed.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from reviewops.db.session import Database
from reviewops.deliveries import intake
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Pending:
    delivery: intake.IncomingDelivery
    future: asyncio.Future[intake.IntakeResult]
    loop: asyncio.AbstractEventLoop
    context: contextvars.Context


def _resolve(
    future: asyncio.Future[intake.IntakeResult], result: intake.IntakeResult | BaseException
) -> None:
    if future.done():  # the request went away (client disconnect, shutdown)
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def _resolve_all(
    answers: list[tuple[asyncio.Future[intake.IntakeResult], intake.IntakeResult | BaseException]],
) -> None:
    for future, result in answers:
        _resolve(future, result)


def _answer(batch: list[_Pending], results: Sequence[intake.IntakeResult | BaseException]) -> None:
    """Hand each request its result: one wake-up per event loop and batch, not one per request (each
    `call_soon_threadsafe` writes to the loop's wake-up pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
    for pending, result in zip(batch, results, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending.future, result))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, answers)
        except RuntimeError:  # that event loop is closed (its requests went away)
            log.warning("intake: %s requests' event loop closed before their answer", len(answers))


def _expire(future: asyncio.Future[intake.IntakeResult]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class IntakeBatcher:
    """One intake thread per API process; `accept` is awaited by the webhook route."""

    def __init__(
        self,
        db: Database,
        broker: dramatiq.Broker,
        queue_name: str,
        *,
        max_batch: int = 64,
        timeout: float = 8.0,
    ) -> None:
        self.db, self.broker, self.queue_name, self.max_batch = db, broker, queue_name, max_batch
        self.timeout = timeout
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reviewops-intake", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    async def accept(self, delivery: intake.IncomingDelivery) -> intake.IntakeResult:
        self.start()  # normally done by the app's lifespan; here for apps run without one
        loop = asyncio.get_running_loop()
        future: asyncio.Future[intake.IntakeResult] = loop.create_future()
        self._queue.put(_Pending(delivery, future, loop, contextvars.copy_context()))
        # A database that hangs (a lock, a stalled disk) must not hold the request past GitHub's 10 s.
        # TimeoutError: the caller answers 503; the delivery may still be committed (a redelivery is then
        # a duplicate), and nothing committed is lost. One timer on the future itself: wait_for(shield())
        # cost two more futures and their callbacks per request.
        timer = loop.call_later(self.timeout, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _take(self) -> tuple[list[_Pending], bool]:
        """Block for one delivery, then take whatever else is already waiting."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch, stopping = [first], False
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stopping = True
                break
            batch.append(item)
        return batch, stopping

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if not batch:
                continue
            try:
                self._process(batch)
            except BaseException as exc:  # the thread must outlive any batch, or every webhook would hang
                log.exception("intake: a batch failed unexpectedly")
                _answer(batch, [exc] * len(batch))

    def _accept(self, batch: list[_Pending]) -> list[intake.IntakeResult | BaseException]:
        deliveries, contexts = [p.delivery for p in batch], [p.context for p in batch]
        return list(intake.accept_many(self.db, self.broker, deliveries, self.queue_name, contexts))

    def _process(self, batch: list[_Pending]) -> None:
        metrics.INTAKE_BATCHES.inc()
        try:
            results = self._accept(batch)
        except Exception as exc:
            if len(batch) == 1 or database_is_down(exc):  # every request in the batch answers 503
                results = [exc] * len(batch)
            else:  # something about one delivery: each goes alone, so only its own request fails
                log.warning("intake: a %s-delivery batch failed (%s); accepting each alone", len(batch),
                            type(exc).__name__)  # fmt: skip
                results = [self._alone(pending) for pending in batch]
        _answer(batch, results)

    def _alone(self, pending: _Pending) -> intake.IntakeResult | BaseException:
        try:
            return self._accept([pending])[0]
        except Exception as exc:
            return exc


def database_is_down(exc: BaseException) -> bool:
    """An error that says the database is unreachable or overloaded (so retrying each delivery alone
    would only multiply the waiting), rather than something about one delivery."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, SQLAlchemyTimeoutError)
