"""Log context across the queue: the delivery's fields bound where a message is enqueued (delivery_guid,
tenant, repository, pr) travel in its options and are bound again in the worker before the actor runs, so
even dramatiq's own lines about the message name the delivery. Each message starts and ends clean."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog

OPTION = "log_context"
FIELDS = ("delivery_guid", "tenant", "repository", "pr")


class LogContextMiddleware(dramatiq.Middleware):
    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        bound = structlog.contextvars.get_contextvars()
        carried = {key: bound[key] for key in FIELDS if bound.get(key) is not None}
        if carried:
            message.options[OPTION] = carried

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        # Worker threads are reused: nothing of the previous message may leak into this one's lines.
        structlog.contextvars.clear_contextvars()
        carried = message.options.get(OPTION)
        if isinstance(carried, dict):
            structlog.contextvars.bind_contextvars(**{k: v for k, v in carried.items() if k in FIELDS})

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
