"""Every exported metric follows the naming rules and has only bounded labels."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import REGISTRY

import reviewops.telemetry.metrics  # noqa: F401  (registers the metrics)

# Label names whose values come from small, closed sets. Anything else (ids, repository names, free
# text, installation ids) must never be a label: per-tenant detail belongs to the REST API.
BOUNDED_LABELS = {
    "event", "outcome", "reason", "queue", "error_type", "actor", "scope", "kind", "endpoint", "status",
    "bucket", "result", "policy", "direction", "analyzer", "state", "resource", "method", "dependency",
    "model",  # the configured model name (metrics.model_label): one or two per deployment, never per request
}  # fmt: skip
UNIT_WORDS = ("_ms", "_milliseconds", "_minutes", "_hours", "_kb", "_mb", "_kilobytes", "_megabytes")
TIME_WORDS = ("time", "duration", "latency", "age", "took", "spend", "spent")


def families() -> list[object]:
    return [f for f in REGISTRY.collect() if f.name.startswith("reviewops_")]


def test_there_are_metrics() -> None:
    assert len(families()) >= 6


def test_names_units_and_suffixes() -> None:
    for family in families():
        name, kind, doc = family.name, family.type, family.documentation.lower()  # type: ignore[attr-defined]
        assert name.startswith("reviewops_"), name
        assert not any(name.endswith(u) or f"{u}_" in name for u in UNIT_WORDS), f"{name}: use base units"
        if kind == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), name  # type: ignore[attr-defined]
            assert not name.endswith("_total_total"), name
        else:
            assert not name.endswith("_total"), f"{name}: only counters end in _total"
        measures_time = kind in ("histogram", "summary") or any(w in doc.split() for w in TIME_WORDS)
        if measures_time and kind != "counter" and "bytes" not in name and "tokens" not in name:
            assert name.endswith("_seconds"), f"{name}: time in base unit seconds"


def test_labels_are_bounded() -> None:
    for family in families():
        for sample in family.samples:  # type: ignore[attr-defined]
            extra = set(sample.labels) - BOUNDED_LABELS - {"le", "quantile"}
            assert not extra, f"{family.name} has unbounded-looking labels {extra}"  # type: ignore[attr-defined]


def test_event_label_folds_unknown_events() -> None:
    from reviewops.telemetry.metrics import event_label

    assert event_label("pull_request") == "pull_request"
    assert event_label("made_up_event_" + "x" * 50) == "other"
    assert event_label(None) == "other"


def test_multiprocess_mode_aggregates_processes(tmp_path: Path) -> None:
    """Two processes record into PROMETHEUS_MULTIPROC_DIR; one scrape shows the sum; start-up cleans it."""
    mp = tmp_path / "mp"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp)}
    record = textwrap.dedent("""
        from reviewops.telemetry import metrics
        metrics.WEBHOOK_DELIVERIES.labels("ping", "accepted").inc(3)
    """)
    scrape = textwrap.dedent("""
        from reviewops.telemetry.exposition import render
        print(render()[0].decode())
    """)
    clean = "from reviewops.telemetry.exposition import prepare_multiprocess_dir; prepare_multiprocess_dir()"
    subprocess.run([sys.executable, "-c", clean], env=env, check=True)
    mp.joinpath("stale_counter_123.db").write_bytes(b"junk")
    subprocess.run([sys.executable, "-c", clean], env=env, check=True)
    assert list(mp.iterdir()) == []
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'reviewops_webhook_deliveries_total{event="ping",outcome="accepted"} 6.0' in out
