"""Retries by error class: transient failures back off exponentially with jitter, permanent ones fail now.

Replaces dramatiq's own `Retries` middleware (same actor options: max_retries, min_backoff, max_backoff,
throws), adding the classification of reviewops.errors and `retry_after` (a rate limit's reset).
Before the message is failed or re-enqueued, the verdict is written into its options
(`error_type`, `error_class`, `error_message`, `traceback`) for the dead-letter middleware.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import traceback
from typing import Any, cast

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.errors import Retry
from dramatiq.middleware import Middleware

from reviewops.errors import classify, error_class_name
from reviewops.policy.store import RetrySettings, read_retry_settings
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

# dramatiq refuses delays of 7 days or more.
MAX_DELAY_MS = 7 * 86_400_000 - 60_000
TRACEBACK_LINES = 20
# Rate-limit deferrals of one message before it fails anyway (at GitHub's waits, many hours of trying).
MAX_DEFERRALS = 100


def compute_delay_ms(
    retries: int, min_backoff_ms: int, max_backoff_ms: int, retry_after_s: float | None
) -> int:
    """Exponential backoff with jitter in [base, 2*base], base = min * 2**retries, capped at max.

    A `retry_after` wins over the cap: the next attempt never starts before a rate limit resets.
    """
    base = min_backoff_ms * (2 ** min(retries, 32))
    delay = min(int(base * random.uniform(1.0, 2.0)), max_backoff_ms)  # noqa: S311 - jitter, not crypto
    delay = max(delay, min_backoff_ms)
    if retry_after_s is not None:
        delay = max(delay, int(retry_after_s * 1000))
    return min(delay, MAX_DELAY_MS)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def short_traceback(exc: BaseException) -> str:
    """The last lines of the traceback: enough to find the failing frame, small enough to store."""
    lines = "".join(traceback.format_exception(exc)).splitlines()
    return "\n".join(lines[-TRACEBACK_LINES:])


class ClassifiedRetries(Middleware):
    """Drop-in replacement for dramatiq.middleware.Retries that knows transient from permanent."""

    POLICY_CACHE_SECONDS = 5.0

    def __init__(self, *, max_retries: int = 8, min_backoff: int = 2000, max_backoff: int = 600_000) -> None:
        self.max_retries = max_retries
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._policy = RetrySettings()
        self._policy_read_at = float("-inf")

    def _live_policy(self, broker: dramatiq.Broker) -> RetrySettings:
        """The ReviewPolicy's retry settings (written to Redis by the operator), re-read every few seconds."""
        client = getattr(broker, "client", None)
        now = time.monotonic()
        if client is not None and now - self._policy_read_at >= self.POLICY_CACHE_SECONDS:
            # On a Redis error keep the last known policy; the settings apply when none was ever read.
            with contextlib.suppress(redis.RedisError):
                self._policy = read_retry_settings(client)
            self._policy_read_at = now
        return self._policy

    @property
    def actor_options(self) -> set[str]:
        # dramatiq's `retry_when` and `on_retry_exhausted` are deliberately not offered: declaring them
        # fails loudly instead of being ignored.
        return {"max_retries", "min_backoff", "max_backoff", "throws"}

    def _option(
        self,
        message: MessageProxy,
        actor: dramatiq.Actor[Any, Any],
        name: str,
        default: int,
        policy: int | None,
    ) -> int:
        """Message option, else the live ReviewPolicy, else the actor's option (settings), else default."""
        if name in message.options:
            return int(message.options[name])
        if policy is not None:
            return policy
        return int(actor.options.get(name, default))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        verdict = classify(exception)
        throws = message.options.get("throws") or actor.options.get("throws")
        kind = "permanent" if throws and isinstance(exception, throws) else verdict.kind
        retries = int(message.options.get("retries", 0))
        # A rate limit with a known end (GitHub's `retry-after`, the pacer's next slot) is a wait, not a
        # failure: it does not use up the retries, so a busy installation's reviews are delayed, never
        # dead-lettered for it. MAX_DEFERRALS still ends a message that is deferred forever.
        deferral = (
            kind == "transient" and verdict.category == "rate_limit" and verdict.retry_after is not None
        )
        deferrals = int(message.options.get("deferrals", 0)) + (1 if deferral else 0)
        message.options.update(
            retries=retries if deferral else retries + 1,
            deferrals=deferrals,
            error_type=kind,
            error_class=error_class_name(exception),
            error_message=str(exception)[:2000],
            traceback=short_traceback(exception),
            requeue_timestamp=int(time.time() * 1000),
        )
        policy = self._live_policy(broker)
        max_retries = self._option(message, actor, "max_retries", self.max_retries, policy.max_retries)
        if kind == "permanent" or (not deferral and retries >= max_retries) or deferrals > MAX_DEFERRALS:
            log.warning(
                "message %s (%s) failed for good after %s attempt(s): %s",
                message.message_id, message.actor_name, retries + 1, kind,
            )  # fmt: skip
            message.fail()
            return
        retry_after = verdict.retry_after
        if isinstance(exception, Retry) and exception.delay is not None:
            retry_after = exception.delay / 1000  # dramatiq's own `raise Retry(delay=ms)`
        delay = compute_delay_ms(
            retries,
            self._option(message, actor, "min_backoff", self.min_backoff, _ms(policy.min_backoff_seconds)),
            self._option(message, actor, "max_backoff", self.max_backoff, _ms(policy.max_backoff_seconds)),
            retry_after,
        )
        metrics.TASK_RETRIES.labels(message.actor_name, verdict.category).inc()
        log.info("retrying message %s in %s ms (%s)", message.message_id, delay, verdict.category)
        broker.enqueue(cast(dramatiq.Message[Any], message), delay=delay)
