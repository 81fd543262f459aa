"""OpenTelemetry set-up: spans are always created (so logs carry trace ids and context crosses the
queue); they are exported over OTLP only when the standard OTEL_EXPORTER_OTLP_* variables say where.

Spans are *recorded* (attributes, events, timing) only while something will receive them: an exporter,
or any span processor added later (the tests' in-memory one). Without one, a span is OpenTelemetry's
non-recording span: the same trace and span ids, in logs and across the queue, at a fraction of the
cost (recording them for nobody was a tenth of the webhook intake's CPU, bench/ingest.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

TRACER_NAME = "reviewops"


class ListeningProvider(TracerProvider):
    """A tracer provider that knows whether any span processor listens."""

    listening = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.listening = True


class RecordWhenListened(sampling.Sampler):
    """Record and sample only while the provider has a span processor; then defer to `when_listened`."""

    def __init__(self, provider: ListeningProvider, when_listened: sampling.Sampler) -> None:
        self.provider, self.when_listened = provider, when_listened

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        if self.provider.listening:
            return self.when_listened.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        parent = trace.get_current_span(parent_context).get_span_context()
        return sampling.SamplingResult(sampling.Decision.DROP, None, parent.trace_state if parent else None)

    def get_description(self) -> str:
        return f"RecordWhenListened{{{self.when_listened.get_description()}}}"


def _listened_sampler() -> sampling.Sampler:
    """OTEL_TRACES_SAMPLER when set; else every span recorded, including under an unsampled remote
    parent: an API that exports nothing sends unsampled trace contexts, and a worker that does export
    must still record its spans."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return sampling._get_from_env_or_default()
    return sampling.ParentBased(sampling.ALWAYS_ON, remote_parent_not_sampled=sampling.ALWAYS_ON)


def make_provider(service_name: str) -> ListeningProvider:
    provider = ListeningProvider(resource=Resource.create({"service.name": service_name}))
    provider.sampler = RecordWhenListened(provider, _listened_sampler())  # before any tracer is made
    return provider


def setup_tracing(service_name: str) -> TracerProvider:
    """Install the process's tracer provider once; later calls return the installed one."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = make_provider(service_name)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def listening() -> bool:
    """Whether spans made now are recorded (a provider other than ours is assumed to record)."""
    provider = trace.get_tracer_provider()
    return (
        provider.listening
        if isinstance(provider, ListeningProvider)
        else isinstance(provider, TracerProvider)
    )


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
