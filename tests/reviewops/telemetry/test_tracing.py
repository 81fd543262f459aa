"""The process tracer is looked up once: OpenTelemetry's `get_tracer` costs ~5 µs per call, which the
intake paid per enqueued message."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace

from reviewops.telemetry.tracing import tracer


def test_the_tracer_is_looked_up_once_and_its_spans_are_recorded(
    spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tracer()
    lookups: list[str] = []
    monkeypatch.setattr(trace, "get_tracer", lambda *a, **k: lookups.append(a[0]) or first)
    assert tracer() is first and tracer() is first
    assert lookups == []
    with tracer().start_as_current_span("cached-tracer-span"):
        pass
    assert [s.name for s in spans.get_finished_spans()] == ["cached-tracer-span"]


def test_spans_are_recorded_only_while_something_listens() -> None:
    """Without an exporter a span keeps its ids (logs, the queue) but records nothing: recording them
    for nobody was a tenth of the intake's CPU."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from reviewops.telemetry.tracing import make_provider

    provider = make_provider("t")
    unheard = provider.get_tracer("t").start_span("unheard")
    assert not unheard.is_recording() and unheard.get_span_context().is_valid
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("heard") as heard:
        assert heard.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["heard"]


def test_a_listening_worker_records_under_an_unsampled_remote_parent() -> None:
    """An API exporting nothing sends unsampled trace contexts; a worker that exports still records."""
    from opentelemetry import propagate
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from reviewops.telemetry.tracing import make_provider

    provider = make_provider("worker")
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    parent = propagate.extract({"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-00"})
    span = provider.get_tracer("t").start_span("process", context=parent)
    assert span.is_recording() and format(span.get_span_context().trace_id, "032x") == "ab" * 16
