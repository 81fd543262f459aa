"""Every PromQL expression in the dashboards and alerts parses, and names only metrics ReviewOps exports.

Exported = what the live `/metrics` endpoints serve: the API app's (through TestClient, on real PostgreSQL and
Redis), the worker's metrics server (the same `prometheus_client.start_http_server` that `reviewops worker`
starts) and the operator's, when its module is on this branch.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import socket
import subprocess
from typing import Any

import httpx
import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from reviewops.telemetry.exposition import registry
from tests.charts.promql import all_exprs, dashboards, metric_names, parse, variable_metrics

# Metrics named in dashboards/alerts whose code is on other branches (queues, DLQ, LLM, GitHub client, tenant
# limits, operator). The integrator empties this set after merging them; a name that is exported already
# must be removed from it (test_not_yet_exported_is_honest fails otherwise).
NOT_YET_EXPORTED: set[str] = set()  # every metric dashboards and alerts use is exported
PROMETHEUS_BUILTIN = {"up"}


def series_names(exposition: str) -> set[str]:
    """The series names an exposition makes queryable, including families that have no samples yet."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        if family.type == "counter":
            names |= {family.name + "_total", family.name + "_created"}
        elif family.type in ("histogram", "summary"):
            names |= {family.name + s for s in ("_bucket", "_sum", "_count", "_created")}
        names |= {sample.name for sample in family.samples}
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def expositions(client: Any) -> dict[str, str]:
    """The text each process serves on /metrics."""
    texts = {"api": client.get("/metrics").text}
    import worker.actors  # noqa: F401  (the worker's metrics are registered by its modules)

    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry())  # as worker.main.run
    try:
        texts["worker"] = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.shutdown()
        thread.join()
    if importlib.util.find_spec("reviewpolicy.serving") is not None:  # the operator branch is merged
        texts["operator"] = asyncio.run(operator_metrics())
    return texts


@pytest.fixture
def exported(expositions: dict[str, str]) -> set[str]:
    names: set[str] = set()
    for text in expositions.values():
        names |= series_names(text)
    return names


async def operator_metrics() -> str:
    """The operator's own /metrics endpoint (its aiohttp app), started as `reviewops operator` starts it."""
    from reviewpolicy.serving import start_http, stop_http  # type: ignore[import-not-found]

    port = free_port()
    runner = await start_http("127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        await stop_http(runner)


def used() -> dict[str, str]:
    out = {}
    for where, expr in all_exprs().items():
        for name in metric_names(expr):
            out.setdefault(name, where)
    for dashboard_name, dashboard in dashboards().items():
        for name in variable_metrics(dashboard):
            out.setdefault(name, f"dashboard {dashboard_name} variables")
    return out


def test_every_expression_parses() -> None:
    exprs = all_exprs()
    assert len(exprs) > 40
    for where, expr in exprs.items():
        parse(expr)  # raises on a syntax error
        assert metric_names(expr), f"{where}: no metric in {expr!r}"


def test_every_metric_used_is_exported(exported: set[str]) -> None:
    missing = {
        name: where
        for name, where in used().items()
        if name not in exported and name not in NOT_YET_EXPORTED and name not in PROMETHEUS_BUILTIN
    }
    assert not missing, f"dashboards/alerts use metrics nothing exports: {missing}"


def test_not_yet_exported_is_honest(exported: set[str]) -> None:
    stale = NOT_YET_EXPORTED & exported
    assert not stale, f"exported now, remove from NOT_YET_EXPORTED: {sorted(stale)}"
    assert set(used()) >= NOT_YET_EXPORTED, "NOT_YET_EXPORTED lists names no dashboard or alert uses"


def test_the_checks_can_fail() -> None:
    assert metric_names(
        'sum(rate(reviewops_nonexistent_total{namespace="$namespace"}[$__rate_interval]))'
    ) == {"reviewops_nonexistent_total"}
    with pytest.raises(ValueError):
        parse("sum(rate(reviewops_webhook_deliveries_total[5m])")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing: apt-get install prometheus")
def test_exported_metrics_follow_prometheus_naming(expositions: dict[str, str]) -> None:
    """`promtool check metrics` lints names and units (base units, `_total` counters, help text)."""
    for process, text in expositions.items():
        result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert result.returncode == 0, f"{process}: {result.stdout}{result.stderr}"
