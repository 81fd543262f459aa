"""Every PromQL expression the chart ships (alerts and dashboards), and the metric names each one reads."""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser

from tests.charts.chart import CHART_DIR, render

# Grafana's template variables are not PromQL; give them PromQL-valid stand-ins before parsing.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$namespace": "reviewops",
}


def alert_rules() -> list[dict[str, Any]]:
    r = render({"metrics": {"prometheusRule": {"enabled": True}}})
    (rule,) = r.of_kind("PrometheusRule")
    return [rule for group in rule["spec"]["groups"] for rule in group["rules"]]


def rule_groups() -> list[dict[str, Any]]:
    r = render({"metrics": {"prometheusRule": {"enabled": True}}})
    (rule,) = r.of_kind("PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((CHART_DIR / "dashboards").glob("*.json"))}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard.get("panels", []))
    return exprs


def variable_metrics(dashboard: dict[str, Any]) -> set[str]:
    """Metrics named by `label_values(metric, label)` variable queries (Grafana syntax, not PromQL)."""
    names = set()
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query if isinstance(query, str) else (query or {}).get("query", "")
        names |= set(re.findall(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", text or ""))
    return names


def parse(expr: str) -> promql_parser.Expr:
    for variable, stand_in in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, stand_in)
    return promql_parser.parse(expr)


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
            assert name, f"selector without a metric name in {expr!r}"
            names.add(name)
        return True

    promql_parser.walk(parse(expr), visit)
    return names


def all_exprs() -> dict[str, str]:
    """`where -> expression` for every expression shipped."""
    out = {f"alert {r['alert']}": r["expr"] for r in alert_rules()}
    for name, dashboard in dashboards().items():
        for i, expr in enumerate(dashboard_exprs(dashboard)):
            out[f"dashboard {name} #{i}"] = expr
    return out
