"""Process-wide logging: JSON lines on stdout (human-readable on a terminal), secrets redacted.

Every record, ours and third-party (uvicorn's access log, dramatiq, alembic), goes through the same
structlog processors, so each line carries timestamp, level, event, the bound context (delivery_guid,
tenant, repository, pr) and the current trace/span ids.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from reviewops.telemetry.redaction import redact_processor


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Correlate logs with traces: the ids of the span current when the line was logged."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        redact_processor,
    ]


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is when a line is emitted, not when logging was configured, so a
    replaced or re-opened stdout (test capture, a supervisor) never leaves a handler on a closed file."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", *, json_output: bool | None = None, stream: Any = None) -> None:
    """JSON when not attached to a terminal (containers, CI), colourful console lines when it is."""
    target = stream or sys.stdout
    if json_output is None:
        json_output = not (hasattr(target, "isatty") and target.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq", "alembic", "kopf"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True
    structlog.configure(
        processors=[*shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def uvicorn_log_config() -> dict[str, Any]:
    """Keep uvicorn from installing its own handlers: its access log flows through ours as JSON."""
    return {"version": 1, "disable_existing_loggers": False, "loggers": {"uvicorn.access": {"level": "INFO"}}}
