"""The dramatiq middleware that makes dead letters durable in PostgreSQL.

It runs after ClassifiedRetries decided a message fails for good (exhausted or permanent) and before the
broker nacks it. Messages dramatiq fails without running them reach only the nack: one for an actor this
worker does not have (sent by an older or newer release) and one past its AgeLimit; `before_nack` records
those too, so every message that fails for good is in PostgreSQL, not only in dramatiq's XQ.

dramatiq's own XQ is kept: the nacked message also lands there for dramatiq's 7 days, a second copy that
costs nothing. If the database is down when a processed message fails for good, it is not given up: it is
re-enqueued with a delay (retries unchanged), so it fails again later and is recorded then. (A message
that never ran cannot be deferred that way; it stays in the XQ and the miss is logged as an error.)
"""

from __future__ import annotations

import logging
from typing import Any, cast

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from reviewops.db.session import Database
from reviewops.dlq.store import Failure, publish_pending_count, record_failure
from reviewops.errors import error_class_name
from reviewops.queue.retries import short_traceback

log = logging.getLogger(__name__)

RECORD_RETRY_DELAY_MS = 30_000
RECORDED = "_reviewops_dead_letter_recorded"  # set on the MessageProxy once after_process_message handled it
# Options the failure bookkeeping adds; kept out of the stored options so a replay starts clean.
FAILURE_OPTIONS = frozenset(
    {"retries", "traceback", "requeue_timestamp", "redis_message_id", "eta", "error_type", "error_class",
     "error_message"}
)  # fmt: skip


class DeadLetters(Middleware):
    """Record every message that failed for good in `dead_letters` and mark its delivery `dead`."""

    def __init__(self, db: Database, *, retry_delay_ms: int = RECORD_RETRY_DELAY_MS) -> None:
        self.db = db
        self.retry_delay_ms = retry_delay_ms

    def _client(self, broker: dramatiq.Broker) -> redis.Redis | None:
        client = getattr(broker, "client", None)
        return client if isinstance(client, redis.Redis) else None

    def _failure(
        self, message: MessageProxy, exception: BaseException | None, *, default_type: str
    ) -> Failure:
        options = dict(message.options)
        if exception is None:  # failed by a middleware without running: dramatiq's AgeLimit
            error_class, error_message = "dramatiq.middleware.AgeLimit", "message exceeded its age limit"
        else:
            error_class, error_message = error_class_name(exception), str(exception)
        return Failure(
            message_id=message.message_id,
            actor=message.actor_name,
            queue=message.queue_name.removesuffix(".DQ"),
            args=list(message.args),
            kwargs=dict(message.kwargs),
            options={k: v for k, v in options.items() if k not in FAILURE_OPTIONS},
            error_type=str(options.get("error_type") or default_type),
            error_class=str(options.get("error_class") or error_class),
            error_message=str(options.get("error_message") or error_message)[:2000],
            traceback=str(options.get("traceback") or (short_traceback(exception) if exception else "")),
            attempts=int(options.get("retries") or 1),
        )

    def before_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        """Record what failed without `after_process_message` seeing it (unknown actor, age limit)."""
        if getattr(message, RECORDED, False):
            return
        exception = getattr(message, "_exception", None)  # dramatiq's MessageProxy.stuff_exception
        failure = self._failure(message, exception, default_type="permanent")
        try:
            record_failure(self.db, failure)
        except Exception as exc:  # the nack goes ahead: dramatiq's XQ keeps the message for its TTL
            log.error(
                "could not record dead letter %s (%s); it is only in dramatiq's dead-letter queue",
                message.message_id, type(exc).__name__,
            )  # fmt: skip
            return
        log.warning(
            "message %s (%s) failed without running: %s", message.message_id, message.actor_name,
            failure.error_class,
        )  # fmt: skip
        publish_pending_count(self.db, self._client(broker))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        setattr(message, RECORDED, True)  # recorded here (or deferred below): before_nack leaves it
        options = dict(message.options)
        failure = self._failure(message, exception, default_type="transient")
        try:
            record_failure(self.db, failure)
        except Exception as exc:
            log.error(
                "could not record dead letter %s (%s); retrying in %s ms",
                message.message_id, type(exc).__name__, self.retry_delay_ms,
            )  # fmt: skip
            message.failed = False
            message.options["retries"] = max(0, int(options.get("retries") or 1) - 1)
            broker.enqueue(cast(dramatiq.Message[Any], message), delay=self.retry_delay_ms)
            return
        publish_pending_count(self.db, self._client(broker))
