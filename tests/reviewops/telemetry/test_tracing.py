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
