"""OpenTelemetry set-up: spans are always created (so logs carry trace ids and context crosses the
queue); they are exported over OTLP only when the standard OTEL_EXPORTER_OTLP_* variables say where."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACER_NAME = "reviewops"


def setup_tracing(service_name: str) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the installed one."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """The process's ReviewOps tracer, looked up once the provider is installed: `get_tracer` costs ~5 µs
    per call, which the intake paid per enqueued message (bench/ingest.py).
    Before `setup_tracing` it returns OpenTelemetry's proxy, which follows the provider installed later."""
    global _tracer
    if _tracer is None:
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            return trace.get_tracer(TRACER_NAME)
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer
