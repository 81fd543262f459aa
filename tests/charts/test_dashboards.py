"""The committed dashboards are what scripts/dashboards.py generates, with the panels the issue lists."""

from __future__ import annotations

import sys

import pytest

from tests.charts.chart import CHART_DIR, ROOT
from tests.charts.promql import dashboard_exprs, dashboards, metric_names

sys.path.insert(0, str(ROOT / "scripts"))
import dashboards as generator

OVERVIEW_PANELS = {
    "Deliveries/s by outcome",
    "Ack latency",
    "Error ratio",
    "Queue depth",
    "Oldest message age",
    "Workers: desired vs current",
    "Dead letters",
    "Review duration",
    "LLM latency",
    "LLM requests by outcome",
    "LLM tokens",
    "GitHub rate-limit headroom",
    "Rate-limited",
}
OPERATOR_PANELS = {"Reconciles by result", "Scale events", "Replay runs", "Desired vs current workers"}


@pytest.mark.parametrize("name", sorted(generator.DASHBOARDS))
def test_regeneration_gives_the_committed_json(name: str) -> None:
    committed = (CHART_DIR / "dashboards" / f"{name}.json").read_text()
    assert generator.render(name) == committed, "run: python scripts/dashboards.py --write"


def test_check_mode_reports_stale_files(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    out = Path(str(tmp_path))
    monkeypatch.setattr(generator, "OUT_DIR", out)
    assert generator.main([]) == 1
    assert generator.main(["--write"]) == 0
    assert generator.main([]) == 0
    (out / "overview.json").write_text("{}")
    assert generator.main([]) == 1


def test_no_stray_dashboard_files() -> None:
    assert set(dashboards()) == set(generator.DASHBOARDS)


def titles(dashboard: dict[str, object]) -> set[str]:
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    return {p["title"] for p in panels}


def test_overview_and_operator_have_the_panels_the_issue_lists() -> None:
    found = dashboards()
    assert titles(found["overview"]) >= OVERVIEW_PANELS
    assert titles(found["operator"]) >= OPERATOR_PANELS


def test_ack_latency_shows_p50_p95_p99() -> None:
    (panel,) = [p for p in dashboards()["overview"]["panels"] if p["title"] == "Ack latency"]
    assert [t["legendFormat"] for t in panel["targets"]] == ["p50", "p95", "p99"]
    assert all("reviewops_webhook_ack_seconds_bucket" in t["expr"] for t in panel["targets"])


def test_dashboards_are_well_formed() -> None:
    for name, dashboard in dashboards().items():
        assert dashboard["uid"] == f"reviewops-{name}"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, f"{name}: {panel['title']} off the grid"
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], f"{name}: {panel['title']} has no query"
        for expr in dashboard_exprs(dashboard):
            assert metric_names(expr), expr
            assert 'namespace="$namespace"' in expr, f"{name}: {expr} ignores the namespace variable"
