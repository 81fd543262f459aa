"""Generate the Grafana dashboards shipped in the Helm chart (charts/reviewops/dashboards/*.json).

Dashboards are code (grafana-foundation-sdk, Grafana 11.6 schema), so they are reviewed like code and a
test regenerates them and compares with the committed JSON. After a change run
`python scripts/dashboards.py --write`.
Every query names only metrics ReviewOps exports (tests/charts/test_metrics_contract.py checks that).
Shared-state gauges (queue depth, oldest age, dead letters, outbox, the operator's replica gauges) are the same
number exported by every pod: they are taken with `max` over pods (`once`) before any sum over queues or
policies (tests/charts/test_shared_gauges.py checks that no query sums them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.builders.common import StackingConfig, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    QueryVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    GridPos,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
)

OUT_DIR = Path(__file__).resolve().parent.parent / "charts" / "reviewops" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace="$namespace"'
RATE = "$__rate_interval"


class Grid:
    """Places panels left to right, top to bottom, on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.ids = 0

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def place(self, w: int, h: int) -> GridPos:
        if self.x + w > 24:
            self.newline()
        pos = GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def row(self) -> GridPos:
        if self.x:
            self.newline()
        pos = GridPos(h=1, w=24, x=0, y=self.y)
        self.y += 1
        return pos


def row(grid: Grid, title: str) -> Row:
    return Row(title).id(grid.next_id()).grid_pos(grid.row())


def query(expr: str, legend: str = "__auto", ref: str = "A") -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def graph(
    grid: Grid,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "short",
    w: int = 8,
    stacked: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(grid.next_id())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .grid_pos(grid.place(w, 8))
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
    )
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(GraphDrawStyle.BARS).fill_opacity(80)
    for index, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, chr(ord("A") + index)))
    return panel


def single(grid: Grid, title: str, description: str, expr: str, *, unit: str = "short",
           warn: float | None = None, crit: float | None = None) -> stat.Panel:  # fmt: skip
    steps = [Threshold(color="green", value=None)]
    if warn is not None:
        steps.append(Threshold(color="orange", value=warn))
    if crit is not None:
        steps.append(Threshold(color="red", value=crit))
    return (
        stat.Panel()
        .id(grid.next_id())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .grid_pos(grid.place(4, 4))
        .graph_mode(BigValueGraphMode.AREA)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .with_target(query(expr, "", "A"))
    )


def _base(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["reviewops", "generated"])
        .editable()
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query("label_values(reviewops_webhook_deliveries_total, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
    )


def once(metric: str, by: str) -> str:
    """A shared-state gauge counted once: the max over the pods that all export it, per `by`."""
    return f"max by ({by}) ({metric}{{{NS}}})"


def quantile(q: float, metric: str, by: str = "le") -> str:
    return f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{{{NS}}}[{RATE}])))"


def overview() -> Dashboard:
    """What an on-call engineer opens first: intake, queues, workers, reviews, LLM, GitHub, limits."""
    g = Grid()
    error_ratio = (
        f'sum(rate(reviewops_webhook_deliveries_total{{{NS}, outcome="error"}}[{RATE}])) '
        f"/ sum(rate(reviewops_webhook_deliveries_total{{{NS}}}[{RATE}]))"
    )
    d = _base(
        "reviewops-overview", "ReviewOps / Overview", "Webhook intake, queues, workers, reviews, LLM, GitHub."
    )
    d = d.with_row(row(g, "At a glance"))
    for panel in [
        single(g, "Deliveries/s", "Webhook deliveries received per second.",
               f"sum(rate(reviewops_webhook_deliveries_total{{{NS}}}[{RATE}]))", unit="reqps"),
        single(g, "Webhook error ratio", "Share of deliveries answered with an error.", error_ratio,
               unit="percentunit", warn=0.01, crit=0.05),
        single(g, "Backlog", "Messages waiting or in flight in every queue.",
               f"sum({once('reviewops_queue_depth', 'queue')})", warn=100, crit=1000),
        single(g, "Oldest message", "Age of the oldest queued message.",
               f"max(reviewops_queue_oldest_message_age_seconds{{{NS}}})", unit="s", warn=300, crit=900),
        single(g, "Workers", "Worker replicas running now.",
               f"sum({once('reviewops_operator_current_replicas', 'policy')})"),
        single(g, "Dead letters", "Messages in the dead-letter queues.",
               f"sum({once('reviewops_dead_letters', 'queue, error_type')})", warn=1, crit=50),
    ]:  # fmt: skip
        d = d.with_panel(panel)

    d = d.with_row(row(g, "Webhooks"))
    d = d.with_panel(graph(g, "Deliveries/s by outcome", "accepted, duplicate, requeued, rejected, error.",
        [(f"sum by (outcome) (rate(reviewops_webhook_deliveries_total{{{NS}}}[{RATE}]))", "{{outcome}}")],
        unit="reqps", stacked=True))  # fmt: skip
    d = d.with_panel(graph(g, "Ack latency", "Time to acknowledge a webhook (GitHub gives up after 10 s).",
        [(quantile(q, "reviewops_webhook_ack_seconds"), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)],
        unit="s"))  # fmt: skip
    d = d.with_panel(graph(g, "Error ratio", "Deliveries answered with an error / all deliveries.",
        [(error_ratio, "errors")], unit="percentunit"))  # fmt: skip
    d = d.with_panel(graph(g, "Signature failures", "Requests rejected by HMAC verification, by reason.",
        [(f"sum by (reason) (rate(reviewops_webhook_signature_failures_total{{{NS}}}[{RATE}]))",
          "{{reason}}")], unit="reqps"))  # fmt: skip
    d = d.with_panel(graph(g, "Outbox pending", "Stored deliveries not yet handed to the broker.",
        [(f"max(reviewops_outbox_pending{{{NS}}})", "pending")]))  # fmt: skip

    d = d.with_row(row(g, "Queues and workers"))
    d = d.with_panel(graph(g, "Queue depth", "Ready, in-flight, delayed and parked messages per queue; "
        "'parked': waiting for one of their tenant's fairness slots (part of the depth).",
        [(once("reviewops_queue_depth", "queue"), "{{queue}}"),
         (once("reviewops_fair_parked_messages", "queue"), "{{queue}} parked")]))  # fmt: skip
    d = d.with_panel(graph(g, "Oldest message age", "Age of the oldest message per queue.",
        [(f"max by (queue) (reviewops_queue_oldest_message_age_seconds{{{NS}}})", "{{queue}}")],
        unit="s"))  # fmt: skip
    d = d.with_panel(graph(g, "Workers: desired vs current", "What the operator wants and what runs.",
        [(once("reviewops_operator_desired_replicas", "policy"), "desired {{policy}}"),
         (once("reviewops_operator_current_replicas", "policy"), "current {{policy}}"),
         (once("reviewops_operator_max_replicas", "policy"), "max {{policy}}")],
    ))  # fmt: skip
    d = d.with_panel(graph(g, "Dead letters", "Dead-lettered messages per queue and error type.",
        [(once("reviewops_dead_letters", "queue, error_type"), "{{queue}} {{error_type}}")],
        stacked=True))  # fmt: skip
    d = d.with_panel(graph(g, "Task retries", "Retries by actor and error type.",
        [(f"sum by (actor, error_type) (rate(reviewops_task_retries_total{{{NS}}}[{RATE}]))",
          "{{actor}} {{error_type}}")], unit="ops"))  # fmt: skip
    d = d.with_panel(graph(g, "DLQ replayed", "Dead letters put back on their queue.",
        [(f"sum(rate(reviewops_dlq_replayed_total{{{NS}}}[{RATE}]))", "replayed")], unit="ops"))  # fmt: skip

    d = d.with_row(row(g, "Reviews"))
    d = d.with_panel(graph(g, "Review duration", "Time from pickup to the posted review.",
        [(quantile(0.5, "reviewops_review_duration_seconds"), "p50"),
         (quantile(0.95, "reviewops_review_duration_seconds"), "p95")], unit="s"))  # fmt: skip
    d = d.with_panel(graph(g, "Deliveries processed", "Worker outcomes: processed, ignored, failed.",
        [(f"sum by (outcome) (rate(reviewops_deliveries_processed_total{{{NS}}}[{RATE}]))", "{{outcome}}")],
        unit="ops", stacked=True))  # fmt: skip
    d = d.with_panel(graph(g, "Processing time by event", "p95 time a worker spends on one delivery.",
        [(quantile(0.95, "reviewops_delivery_processing_seconds", "le, event"), "{{event}}")],
        unit="s"))  # fmt: skip

    d = d.with_row(row(g, "LLM"))
    d = d.with_panel(graph(g, "LLM latency", "Time per LLM request.",
        [(quantile(q, "reviewops_llm_request_seconds"), f"p{int(q * 100)}") for q in (0.5, 0.95)],
        unit="s"))  # fmt: skip
    d = d.with_panel(graph(g, "LLM requests by outcome", "ok, error, timeout, invalid output.",
        [(f"sum by (outcome) (rate(reviewops_llm_requests_total{{{NS}}}[{RATE}]))", "{{outcome}}")],
        unit="reqps", stacked=True))  # fmt: skip
    d = d.with_panel(graph(g, "LLM tokens", "Prompt and completion tokens per second.",
        [(f"sum by (kind) (rate(reviewops_llm_tokens_total{{{NS}}}[{RATE}]))", "{{kind}}")],
        stacked=True))  # fmt: skip

    d = d.with_row(row(g, "GitHub and rate limits"))
    d = d.with_panel(graph(g, "GitHub rate-limit headroom", "Requests left in each GitHub rate-limit bucket.",
        [(f"min by (bucket) (reviewops_github_ratelimit_remaining{{{NS}}})", "{{bucket}}")]))  # fmt: skip
    d = d.with_panel(graph(g, "GitHub requests", "GitHub API calls by endpoint and status.",
        [(f"sum by (endpoint, status) (rate(reviewops_github_requests_total{{{NS}}}[{RATE}]))",
          "{{endpoint}} {{status}}")], unit="reqps"))  # fmt: skip
    d = d.with_panel(graph(g, "Rate-limited", "Requests refused by tenant limits, and reviews delayed.",
        [(f"sum by (scope) (rate(reviewops_rate_limited_total{{{NS}}}[{RATE}]))", "limited {{scope}}"),
         (f"sum(rate(reviewops_reviews_delayed_total{{{NS}}}[{RATE}]))", "reviews delayed")],
        unit="reqps"))  # fmt: skip
    return d


def operator() -> Dashboard:
    """The ReviewPolicy operator: is it reconciling, how does it scale, what did replay do."""
    g = Grid()
    d = _base(
        "reviewops-operator", "ReviewOps / Operator", "ReviewPolicy reconciles, worker scaling, DLQ replay."
    )
    d = d.with_row(row(g, "Operator"))
    d = d.with_panel(single(g, "Operator up", "1 when Prometheus reaches the operator.",
        f'max(up{{{NS}, job=~".+-operator"}})'))  # fmt: skip
    d = d.with_panel(single(g, "Reconcile errors (1h)", "Failed reconciles in the last hour.",
        f'sum(increase(reviewops_operator_reconcile_total{{{NS}, result="error"}}[1h]))',
        warn=1, crit=10))  # fmt: skip
    d = d.with_panel(single(g, "Scale events (1h)", "Worker scale changes in the last hour.",
        f"sum(increase(reviewops_operator_scale_events_total{{{NS}}}[1h]))"))  # fmt: skip
    d = d.with_panel(single(g, "Replay Jobs (24h)", "DLQ replay Jobs started in the last day.",
        f"sum(increase(reviewops_operator_replay_jobs_total{{{NS}}}[24h]))"))  # fmt: skip
    g.newline()
    d = d.with_panel(graph(g, "Reconciles by result", "ReviewPolicy reconcile passes per second.",
        [(f"sum by (result) (rate(reviewops_operator_reconcile_total{{{NS}}}[{RATE}]))", "{{result}}")],
        unit="ops", w=12, stacked=True))  # fmt: skip
    d = d.with_panel(graph(g, "Scale events", "Scale-ups and scale-downs of the worker Deployment.",
        [(f"sum by (direction) (increase(reviewops_operator_scale_events_total{{{NS}}}[{RATE}]))",
          "{{direction}}")], w=12, bars=True))  # fmt: skip
    d = d.with_row(row(g, "Scaling"))
    d = d.with_panel(graph(g, "Desired vs current workers", "Per ReviewPolicy.",
        [(once("reviewops_operator_desired_replicas", "policy"), "desired {{policy}}"),
         (once("reviewops_operator_current_replicas", "policy"), "current {{policy}}"),
         (once("reviewops_operator_max_replicas", "policy"), "max {{policy}}")],
        w=12))  # fmt: skip
    d = d.with_panel(graph(g, "Backlog driving the scaling", "Queue depth per queue.",
        [(once("reviewops_queue_depth", "queue"), "{{queue}}")], w=12))  # fmt: skip
    d = d.with_row(row(g, "Dead-letter replay"))
    d = d.with_panel(graph(g, "Replay runs", "Replay Jobs created by the operator.",
        [(f"sum(increase(reviewops_operator_replay_jobs_total{{{NS}}}[{RATE}]))", "jobs")],
        w=8, bars=True))  # fmt: skip
    d = d.with_panel(graph(g, "Messages replayed", "Dead letters put back on their queue.",
        [(f"sum(rate(reviewops_dlq_replayed_total{{{NS}}}[{RATE}]))", "replayed")], unit="ops",
        w=8))  # fmt: skip
    d = d.with_panel(graph(g, "Dead letters", "Left in the dead-letter queues.",
        [(f"sum by (queue) ({once('reviewops_dead_letters', 'queue, error_type')})", "{{queue}}")],
        w=8))  # fmt: skip
    return d


DASHBOARDS: dict[str, Callable[[], Dashboard]] = {"overview": overview, "operator": operator}


def render(name: str) -> str:
    """The dashboard's JSON exactly as committed (stable key order, trailing newline)."""
    return json.dumps(DASHBOARDS[name]().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="write the JSON files (default: check them)")
    args = parser.parse_args(argv)
    stale = []
    for name in DASHBOARDS:
        path = OUT_DIR / f"{name}.json"
        text = render(name)
        if args.write:
            path.write_text(text)
        elif not path.is_file() or path.read_text() != text:
            stale.append(path.name)
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python scripts/dashboards.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
