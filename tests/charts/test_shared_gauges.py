"""Counted once: gauges of shared state are never summed over the pods that export them.

Every API and worker pod reads the same queue depth, oldest-message age and dead-letter count from Redis and
PostgreSQL (and every operator replica exports the same policy gauges), so `sum(reviewops_queue_depth)` is the
backlog times the number of pods. Dashboards and alerts must take `max` (or `min`) over pods first and may sum
only that (over queues or policies).
"""

from __future__ import annotations

from typing import Any

import promql_parser

from reviewops.telemetry import metrics
from tests.charts.promql import all_exprs, parse

SHARED_GAUGES = {
    *metrics.QUEUE_GAUGE_NAMES,
    "reviewops_outbox_pending",
    "reviewops_operator_desired_replicas",
    "reviewops_operator_current_replicas",
    "reviewops_operator_max_replicas",
}
ADDING = {"sum", "avg", "count", "stddev", "stdvar", "quantile"}  # anything that combines pods' samples


def children(node: Any) -> list[Any]:
    out: list[Any] = []
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            out.append(child)
    args = getattr(node, "args", None)
    if args is not None:
        out.extend(args if isinstance(args, list) else list(getattr(args, "args", []) or []))
    return out


def selectors_below(node: Any) -> set[str]:
    """Metric names reached from `node` without crossing another aggregation."""
    if isinstance(node, promql_parser.VectorSelector):
        return {node.name} if node.name else set()
    if isinstance(node, promql_parser.AggregateExpr):
        return set()
    return {name for child in children(node) for name in selectors_below(child)}


def summed_shared_gauges(expr: str) -> set[str]:
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and str(node.op).lower() in ADDING:
            found.update(selectors_below(node.expr) & SHARED_GAUGES)
        for child in children(node):
            visit(child)

    visit(parse(expr))
    return found


def test_the_checker_sees_a_sum_over_pods() -> None:
    assert summed_shared_gauges('sum(reviewops_queue_depth{namespace="x"})') == {"reviewops_queue_depth"}
    assert summed_shared_gauges("sum by (queue) (delta(reviewops_dead_letters[15m])) > 0") == {
        "reviewops_dead_letters"
    }
    assert summed_shared_gauges("sum(max by (queue) (reviewops_queue_depth))") == set()
    assert summed_shared_gauges("sum(rate(reviewops_webhook_deliveries_total[5m]))") == set()


def test_no_dashboard_or_alert_sums_a_shared_gauge_over_pods() -> None:
    offenders = {where: found for where, expr in all_exprs().items() if (found := summed_shared_gauges(expr))}
    assert offenders == {}
