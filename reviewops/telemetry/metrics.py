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
INTAKE_BATCHES = Counter(
    "reviewops_intake_batches_total",
    "Group commits of the webhook intake: deliveries accepted / batches is the mean batch size.",
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
# --- review engine: analyzers and the LLM reviewer ---
ANALYZER_RUNS = Counter(
    "reviewops_analyzer_runs_total",
    "Analyzer runs, by analyzer id (a fixed registry) and outcome (ok, failed).",
    ["analyzer", "outcome"],
)
ANALYZER_SECONDS = Histogram(
    "reviewops_analyzer_seconds",
    "Time one analyzer spends on one review.",
    ["analyzer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
LLM_REQUESTS = Counter(
    "reviewops_llm_requests_total",
    "Chat-completion requests to the LLM endpoint, by outcome (ok, error, timeout, invalid, context).",
    ["outcome"],
)
LLM_ANSWERS = Counter(
    "reviewops_llm_answers_total",
    "Structured answers asked of the LLM, by model and outcome (valid, reasked: valid after one re-ask, "
    "invalid, context, timeout, deadline, error).",
    ["model", "outcome"],
)


def model_label(model: str | None) -> str:
    """The configured model name (one per deployment, so bounded), cut to 64 characters."""
    return (model or "none")[:64]


LLM_REQUEST_SECONDS = Histogram(
    "reviewops_llm_request_seconds",
    "Duration of one chat-completion request.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
LLM_TOKENS = Counter("reviewops_llm_tokens_total", "LLM tokens used, by kind (prompt, completion).", ["kind"])
FAIR_DEFERRALS = Counter(
    "reviewops_fair_deferrals_total",
    "Queue messages parked because their tenant was at its concurrency cap or had parked messages already "
    "(each is woken once, when one of its tenant's slots frees).",
)
# --- retries, dead letters, replay, queues (issue 5) ---
# error_type of retries is a bounded category (rate_limit, network, timeout, database, server_error,
# declared, unknown); error_type of dead letters is the kind (transient, permanent).
TASK_RETRIES = Counter(
    "reviewops_task_retries_total",
    "Failed attempts scheduled for a retry, by actor and error category.",
    ["actor", "error_type"],
)
DEAD_LETTERED = Counter(
    "reviewops_dead_lettered_total",
    "Messages recorded in the dead-letter store, by queue and error kind (transient, permanent).",
    ["queue", "error_type"],
)
DLQ_REPLAYED = Counter("reviewops_dlq_replayed_total", "Dead letters enqueued again by a replay.")
MAINTENANCE_RUNS = Counter(
    "reviewops_worker_maintenance_runs_total",
    "Worker maintenance passes, by outcome (ok, error).",
    ["outcome"],
)
# Gauges read from Redis/PostgreSQL at scrape time: see reviewops.queue.gauges and reviewops.dlq.gauges.
QUEUE_GAUGE_NAMES = (
    "reviewops_queue_depth",
    "reviewops_queue_oldest_message_age_seconds",
    "reviewops_dead_letters",
    "reviewops_fair_parked_messages",
    "reviewops_fair_fleet_capacity",
    "reviewops_fair_active_tenants",
)
# --- GitHub App client and review pipeline ---
# GitHub's rate-limit resources (x-ratelimit-resource); anything else is "other".
GITHUB_RATELIMIT_RESOURCES = frozenset(
    {"core", "search", "graphql", "integration_manifest", "code_scanning_upload", "code_search"}
)
GITHUB_REQUESTS = Counter(
    "reviewops_github_requests_total",
    "GitHub API requests, by OpenAPI path template and HTTP status (or 'error' for network failures).",
    ["endpoint", "status"],
)
GITHUB_PACED_SECONDS = Counter(
    "reviewops_github_paced_seconds_total",
    "Seconds GitHub requests waited for the per-installation pacer (write caps, or a pause after a "
    "rate-limit answer), by kind of request (write or read).",
    ["kind"],
)
GITHUB_RATELIMIT_REMAINING = Gauge(
    "reviewops_github_ratelimit_remaining",
    "Lowest x-ratelimit-remaining last seen across installations, per GitHub rate-limit resource.",
    ["bucket"],
)
REVIEW_DURATION_SECONDS = Histogram(
    "reviewops_review_duration_seconds",
    "Time from the start of a review to its results being posted, by outcome.",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200),
)
REVIEW_COMMENTS_POSTED = Counter(
    "reviewops_review_comments_posted_total",
    "Findings posted to GitHub, by where (inline comment or check-run annotation).",
    ["kind"],
)
# --- operator (ReviewPolicy) ---
OPERATOR_RECONCILES = Counter(
    "reviewops_operator_reconcile_total",
    "ReviewPolicy reconcile passes that did work, by result (success; error: Kubernetes or Redis failed).",
    ["result"],
)
OPERATOR_DESIRED_REPLICAS = Gauge(
    "reviewops_operator_desired_replicas",
    "Worker replicas the operator wants for a policy (namespace/name; policies are few).",
    ["policy"],
)
OPERATOR_CURRENT_REPLICAS = Gauge(
    "reviewops_operator_current_replicas",
    "Worker replicas the Deployment had at the operator's last poll, per policy.",
    ["policy"],
)
OPERATOR_MAX_REPLICAS = Gauge(
    "reviewops_operator_max_replicas",
    "spec.workers.maxReplicas of a policy: the ceiling the backlog-at-max-workers alert compares with.",
    ["policy"],
)
OPERATOR_SCALE_EVENTS = Counter(
    "reviewops_operator_scale_events_total",
    "Worker Deployment scale changes made by the operator, by direction (up, down).",
    ["direction"],
)
OPERATOR_REPLAY_JOBS = Counter(
    "reviewops_operator_replay_jobs_total", "On-demand DLQ replay Jobs created by the operator."
)
# --- missed-delivery recovery ---
DELIVERY_RECOVERY_RUNS = Counter(
    "reviewops_delivery_recovery_runs_total",
    "Scheduled missed-delivery recovery runs in the worker, by outcome (ok, error).",
    ["outcome"],
)
DELIVERY_RECOVERY_REDELIVERIES = Counter(
    "reviewops_delivery_recovery_redeliveries_total",
    "Webhook redeliveries requested from GitHub by missed-delivery recovery (CLI and schedule).",
)

# --- day-two operations: dependencies, scaling (issue 17) ---
DEPENDENCY_UP = Gauge(
    "reviewops_dependency_up",
    "Whether the API's last readiness check reached a dependency (1) or not (0), by dependency (database, "
    "broker). Only the database decides readiness; a broker outage shows here and in /ready's body.",
    ["dependency"],
)
OPERATOR_SCALER_ERRORS = Counter(
    "reviewops_operator_scaler_errors_total",
    "Operator polls that could not read a policy's backlog from Redis (KEDA's keda_scaler_errors_total), "
    "per policy.",
    ["policy"],
)
OPERATOR_BACKLOG = Gauge(
    "reviewops_operator_backlog_messages",
    "Messages of a policy's queues at the last poll, by kind: runnable (ready, in flight, or delayed but due "
    "within one poll: what scaling counts) and delayed (due later: held reviews, retry backoff, deferrals).",
    ["policy", "kind"],
)
OPERATOR_LEADER = Gauge(
    "reviewops_operator_leader",
    "1 when this operator process holds the leader Lease and acts, 0 while it stands by.",
)
