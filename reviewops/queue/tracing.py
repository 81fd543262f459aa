"""Trace context across the queue: W3C `traceparent` goes into each message's options on enqueue and
becomes the parent of the worker's span, so one delivery is one trace from webhook to GitHub."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from reviewops.telemetry.tracing import listening, tracer

_CARRIER_KEYS = ("traceparent", "tracestate")
MAX_OPEN_ENQUEUES = 1000


class TracingMiddleware(dramatiq.Middleware):
    def __init__(self) -> None:
        self._local = threading.local()

    def _table(self, name: str) -> dict[str, Any]:
        """This thread's open spans of one kind ("process", "enqueue"), by message id, oldest first."""
        table: dict[str, Any] | None = getattr(self._local, name, None)
        if table is None:
            table = {}
            setattr(self._local, name, table)
        return table

    def _enqueues(self) -> dict[str, Any]:
        return self._table("enqueue")

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        if not listening():
            # Nothing records spans: the message carries the current (the request's) context; a producer
            # span would only add ids nobody sees, at ~10 µs per message on the webhook intake.
            self._carry(message, context.get_current())
            return
        span = tracer().start_span(
            f"enqueue {message.actor_name}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "dramatiq", "messaging.destination.name": message.queue_name,
                        "messaging.message.id": message.message_id, "reviewops.delay_ms": delay or 0},
        )  # fmt: skip
        self._carry(message, trace.set_span_in_context(span))
        enqueues = self._enqueues()
        enqueues[message.message_id] = span
        if len(enqueues) > MAX_OPEN_ENQUEUES:
            # dramatiq has no hook for a refused enqueue (Redis down): its span would stay here for good.
            # The oldest open one is ended as unconfirmed, so an outage cannot grow the table unbounded.
            oldest = enqueues.pop(next(iter(enqueues)))
            oldest.set_status(Status(StatusCode.ERROR, "enqueue not confirmed"))
            oldest.end()

    @staticmethod
    def _carry(message: Any, ctx: context.Context) -> None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=ctx)
        for key in _CARRIER_KEYS:
            if key in carrier:
                message.options[key] = carrier[key]

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        span = self._enqueues().pop(message.message_id, None)
        if span is not None:
            span.end()

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        parent = propagate.extract({k: message.options[k] for k in _CARRIER_KEYS if k in message.options})
        span = tracer().start_span(
            f"process {message.actor_name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "dramatiq", "messaging.destination.name": message.queue_name,
                        "messaging.message.id": message.message_id,
                        "reviewops.retries": int(message.options.get("retries", 0))},
        )  # fmt: skip
        token = context.attach(trace.set_span_in_context(span))
        self._table("process")[message.message_id] = (span, token)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        entry = self._table("process").pop(message.message_id, None)
        if entry is None:
            return
        span, token = entry
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(token)

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self.after_process_message(broker, message)
