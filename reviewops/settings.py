"""Process configuration, read from `REVIEWOPS_*` environment variables and validated once at start-up."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from reviewops.secretfiles import check_secret_sources, secret_file, secret_value, split_secrets
from reviewops.settings_llm import LLMFields
from reviewops.settings_operator import OperatorFields

GITHUB_MAX_WEBHOOK_BYTES = 25 * 1024 * 1024


def data_dir() -> Path:
    """Where the embedded default keeps its files (XDG data home, like other CLI tools)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reviewops"


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'reviewops.db'}"


class Settings(LLMFields, OperatorFields):
    """Every setting of every ReviewOps process. The README's settings table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOPS_", extra="ignore", validate_default=True)

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL of the database. Default: a SQLite file under ~/.local/share/reviewops/. "
        "Production: postgresql+psycopg://user:pass@host/db",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL of the dramatiq broker and the rate-limit store. Unset: in-process broker "
        "(only for `reviewops serve`).",
    )
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated webhook secrets. Every one is accepted, so a secret can be rotated "
        "by adding the new one first and removing the old one after GitHub uses the new one.",
    )
    webhook_secrets_file: Path | None = Field(
        default=None,
        description="File holding the webhook secrets (comma- or newline-separated), instead of "
        "REVIEWOPS_WEBHOOK_SECRETS; re-read within a second of a change (a mounted Kubernetes Secret), so a "
        "rotation needs no restart.",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Bearer token for the admin API. Unset: admin endpoints answer 401."
    )
    admin_token_file: Path | None = Field(
        default=None,
        description="File holding the admin bearer token, instead of REVIEWOPS_ADMIN_TOKEN; re-read within a "
        "second of a change, so the old token stops working without a restart.",
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).",
    )
    github_web_url: str = Field(
        default="https://github.com",
        description="GitHub's web address, where the App manifest flow's form is posted (GitHub Enterprise: "
        "https://HOST).",
    )
    public_url: str | None = Field(
        default=None,
        description="Public base URL of this ReviewOps (https://reviews.example.com): the App manifest's "
        "webhook and callback URLs, and the webhook URL `reviewops doctor` expects. Unset: taken from the "
        "request (manifest page) and not checked (doctor).",
    )
    github_app_id: int | None = Field(default=None, description="The GitHub App's id.")
    github_private_key: SecretStr | None = Field(
        default=None, description="The GitHub App's PEM private key."
    )
    github_private_key_file: Path | None = Field(
        default=None, description="Path to the GitHub App's PEM private key (alternative to the key itself)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Minimum log level."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    reviews_in_flight: int = Field(
        default=32,
        ge=1,
        le=512,
        description="Reviews one worker process runs at once (dramatiq threads; a review mostly waits on "
        "the LLM and GitHub). The process's database and GitHub connection pools are sized to it.",
    )
    replay_in_flight: int = Field(
        default=4,
        ge=1,
        le=512,
        description="Replayed dead letters one worker process runs at once (the replay lane's share of "
        "its threads), so a large replay leaves the other threads and most of the CPU to live deliveries.",
    )
    worker_threads: int | None = Field(
        default=None,
        ge=1,
        le=512,
        description="Deprecated: dramatiq threads per worker process; when set, overrides "
        "REVIEWOPS_REVIEWS_IN_FLIGHT.",
    )
    webhook_max_body_bytes: int = Field(
        default=GITHUB_MAX_WEBHOOK_BYTES,
        ge=1024,
        description="Largest webhook body accepted (GitHub's own cap is 25 MB); larger bodies get 413.",
    )
    webhook_body_budget_bytes: int = Field(
        default=4 * GITHUB_MAX_WEBHOOK_BYTES,
        ge=1024,
        description="Webhook body bytes one API process reads at once; a request past it waits for room "
        "(then 503 with Retry-After), so peak memory stays predictable under many large bodies.",
    )
    max_request_header_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        le=1024 * 1024,
        description="Largest request head (request line and headers) accepted; larger heads get 431.",
    )
    gc_gen0_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Python's young-generation collection threshold in the API and worker processes, set "
        "after start-up objects are frozen out of the collector (reviewops.runtime); 0 keeps Python's "
        "defaults (700, nothing frozen).",
    )
    webhook_intake_timeout_seconds: float = Field(
        default=8,
        gt=0,
        le=60,
        description="Longest a webhook waits for its delivery to be committed and queued before a 503 "
        "(GitHub gives up after 10 s); it may still be stored, and a redelivery is then a duplicate.",
    )
    outbox_sweep_interval_seconds: float = Field(
        default=5,
        ge=0,
        description="How often the API re-enqueues stored-but-unqueued deliveries (0: never).",
    )
    outbox_received_after_seconds: float = Field(
        default=10, ge=0, description="Age at which a stored, unqueued delivery is picked up by the sweeper."
    )
    outbox_stale_after_seconds: float = Field(
        default=120,
        ge=0,
        description="Age at which a queued delivery whose message the broker no longer holds is re-enqueued.",
    )
    signature_failure_window_seconds: float = Field(
        default=60,
        gt=0,
        description="Invalid-signature bursts are logged and audited once per source per window.",
    )
    worker_metrics_port: int = Field(
        default=9191, ge=1, le=65535, description="Port of the worker's own /metrics endpoint."
    )
    worker_shutdown_timeout_seconds: float = Field(
        default=600, ge=1, description="How long a stopping worker waits for in-flight reviews."
    )
    retry_max: int = Field(
        default=8, ge=0, le=100, description="Retries of a transient failure before dead-lettering."
    )
    retry_min_backoff_seconds: float = Field(
        default=2, gt=0, description="First retry delay (doubles each time)."
    )
    retry_max_backoff_seconds: float = Field(default=600, gt=0, description="Longest retry delay.")
    # --- tenants: rate limits, quotas, fair scheduling, REST API ---
    default_requests_per_minute: int = Field(
        default=600, ge=1, description="REST API requests per minute of a tenant without its own limit."
    )
    default_burst: int = Field(
        default=100, ge=1, description="REST API requests a tenant may send at once (GCRA burst)."
    )
    default_reviews_per_hour: int = Field(
        default=200, ge=1, description="Reviews per hour of a tenant without its own limit; more are delayed."
    )
    default_llm_tokens_per_day: int = Field(
        default=2_000_000,
        ge=0,
        description="LLM tokens per UTC day of a tenant; over it reviews skip the LLM.",
    )
    tenant_max_concurrent_reviews: int | None = Field(
        default=None,
        ge=1,
        description="Reviews of one tenant running at once across all workers; more wait their turn, parked "
        "until one of its reviews ends. Unset: a fair share of the fleet, ceil(reviews in flight of all live "
        "workers / tenants with running or waiting reviews), so one tenant alone uses every worker.",
    )
    review_lease_seconds: float = Field(
        default=900,
        gt=0,
        description="Expiry of a tenant concurrency slot, so a crashed worker's slot frees itself.",
    )
    sse_heartbeat_seconds: float = Field(
        default=15, gt=0, description="Interval of heartbeat comments on /api/v1/events."
    )
    sse_key_recheck_seconds: float = Field(
        default=30,
        gt=0,
        description="How often an open /api/v1/events stream re-checks its key (revoked: it ends).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS (dashboards). Empty: no CORS headers.",
    )
    # --- dead letters, replay, crash safety ---
    dead_letter_retention_days: int = Field(
        default=0,
        ge=0,
        description="Days a dead letter is kept after its last failure; 0 keeps dead letters forever.",
    )
    maintenance_interval_seconds: float = Field(
        default=15,
        gt=0,
        description="How often each worker requeues messages of dead workers, applies dead-letter "
        "retention and republishes the dead-letter count.",
    )
    worker_heartbeat_timeout_seconds: float = Field(
        default=60,
        gt=0,
        description="A worker silent this long is dead: its unacknowledged messages are redelivered.",
    )
    # --- github app client ---
    github_request_timeout_seconds: float = Field(
        default=30, gt=0, description="Timeout of one GitHub API request."
    )
    github_max_inline_wait_seconds: float = Field(
        default=10,
        ge=0,
        description="Longest a rate-limited GitHub request waits in the worker; longer waits retry the "
        "message later instead (TransientError with retry_after).",
    )
    github_content_requests_per_minute: int = Field(
        default=80,
        ge=1,
        le=1000,
        description="Cap on content-creating GitHub requests (POST/PATCH/PUT/DELETE) per minute per "
        "installation (GitHub's secondary rate limit).",
    )
    github_content_requests_per_hour: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Cap on content-creating GitHub requests per hour per installation (GitHub's "
        "secondary rate limit: 500). Writes over either cap wait for a slot, shared by all workers.",
    )
    github_max_write_wait_seconds: float = Field(
        default=300,
        ge=0,
        description="Longest a review's GitHub write waits for its slot under the content caps or a "
        "rate-limit pause before the message is retried later instead. Longer than reads: the review's "
        "analysis is already paid for by then.",
    )
    review_severity_threshold: Literal["info", "warning", "error"] = Field(
        default="warning",
        description="Lowest severity posted to GitHub when neither the ReviewPolicy nor .reviewops.yaml "
        "sets one; findings below it are stored, not posted.",
    )
    # --- missed-delivery recovery ---
    delivery_recovery_interval_seconds: float = Field(
        default=900,
        ge=0,
        description="How often one worker (a Redis lock) asks GitHub for failed webhook deliveries of the "
        "last 72h that ReviewOps never stored and requests their redelivery; 0 turns it off. Needs the "
        "GitHub App settings.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return split_secrets(value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith(("postgresql://", "postgres://")):
            # psycopg v3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @model_validator(mode="after")
    def _check_secret_sources(self) -> Settings:
        check_secret_sources(
            (name, getattr(self, name) not in (None, []), getattr(self, f"{name}_file"))
            for name in ("webhook_secrets", "admin_token", "llm_api_key", "github_private_key")
        )
        return self

    # The secrets in force. With a *_FILE setting they come from the file, re-read when it changes
    # (reviewops.secretfiles); callers ask each time instead of keeping a copy, so a rotation reaches them.
    def webhook_secret_values(self) -> list[str]:
        if self.webhook_secrets_file is not None:
            return split_secrets(secret_file(self.webhook_secrets_file).value())
        return [s.get_secret_value() for s in self.webhook_secrets]

    def admin_token_value(self) -> str | None:
        return secret_value(self.admin_token, self.admin_token_file)

    def llm_api_key_value(self) -> str | None:
        return secret_value(self.llm_api_key, self.llm_api_key_file)

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: broker and worker live inside the API process."""
        return self.redis_url is None

    @property
    def worker_thread_count(self) -> int:
        """dramatiq threads per worker process: one per review in flight (the deprecated
        REVIEWOPS_WORKER_THREADS wins when set)."""
        return self.worker_threads or self.reviews_in_flight

    @property
    def github_app_configured(self) -> bool:
        return self.github_app_id is not None and bool(
            self.github_private_key or self.github_private_key_file
        )

    def private_key_pem(self) -> str | None:
        return secret_value(self.github_private_key, self.github_private_key_file)


class ConfigurationError(Exception):
    """Raised with a message that names the offending environment variable."""


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "__root__"]
        name = f"REVIEWOPS_{loc[0].upper()}" if loc else "configuration"
        lines.append(f"{name}: {err.get('msg', 'invalid')}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning pydantic errors into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
