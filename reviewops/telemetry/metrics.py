"""Every Prometheus metric ReviewOps exports, in one place, so names and labels stay bounded."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# GitHub's event names are a fixed set; anything else is folded into "other" so labels stay bounded.
KNOWN_EVENTS = frozenset(
    {
        "ping", "pull_request", "pull_request_review", "pull_request_review_comment",
        "pull_request_review_thread", "issue_comment", "installation", "installation_repositories",
        "installation_target", "github_app_authorization", "push", "check_run", "check_suite",
        "issues", "create", "delete", "release", "repository", "status", "workflow_run", "workflow_job",
        "meta", "label", "member", "membership", "organization", "public", "fork", "star", "watch",
    }
)  # fmt: skip


def event_label(event: str | None) -> str:
    return event if event in KNOWN_EVENTS else "other"


WEBHOOK_DELIVERIES = Counter(
    "reviewops_webhook_deliveries_total",
    "Webhook deliveries received, by event and outcome (accepted, duplicate, requeued, rejected, error).",
    ["event", "outcome"],
)
WEBHOOK_ACK_SECONDS = Histogram(
    "reviewops_webhook_ack_seconds",
    "Time from request start to the webhook acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SIGNATURE_FAILURES = Counter(
    "reviewops_webhook_signature_failures_total",
    "Webhook requests rejected by signature verification, by reason.",
    ["reason"],
)
OUTBOX_PENDING = Gauge(
    "reviewops_outbox_pending", "Deliveries stored but not yet handed to the broker (last sweep)."
)
DELIVERIES_PROCESSED = Counter(
    "reviewops_deliveries_processed_total",
    "Deliveries handled by workers, by event and outcome (processed, ignored, failed).",
    ["event", "outcome"],
)
DELIVERY_PROCESSING_SECONDS = Histogram(
    "reviewops_delivery_processing_seconds",
    "Time a worker spends on one delivery.",
    ["event"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# --- tenants: rate limits, quotas, fair scheduling (per-tenant detail only via the REST API) ---
RATE_LIMITED = Counter(
    "reviewops_rate_limited_total",
    "Requests or work held back by a tenant limit, by scope (api: 429 answered; reviews: review delayed; "
    "llm_tokens: review ran without the LLM).",
    ["scope"],
)
REVIEWS_DELAYED = Counter(
    "reviewops_reviews_delayed_total", "Reviews scheduled later because the tenant was over reviews_per_hour."
)
LLM_TOKENS = Counter(
    "reviewops_llm_tokens_total", "LLM tokens used, by kind (prompt, completion).", ["kind"]
)
FAIR_DEFERRALS = Counter(
    "reviewops_fair_deferrals_total",
    "Queue messages put back with a short delay because their tenant was at its concurrency cap.",
)
