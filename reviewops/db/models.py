"""The ReviewOps schema. Changing it needs an Alembic migration (tests/db/test_migrations.py checks drift)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reviewops.db.types import BigIntPK, JSONType, StrEnumColumn, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet handed to the broker (the outbox)
    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"  # an attempt failed; dramatiq may still retry
    DEAD = "dead"  # retries exhausted or permanent error; see dead_letters


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    DELAYED = "delayed"
    RUNNING = "running"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    FAILED = "failed"


# A delivery in one of these is done: processing it again does nothing, and there is nothing to replay.
DELIVERY_DONE = frozenset({DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED})
# A review in one of these will not run again.
REVIEW_FINISHED = frozenset(
    {ReviewStatus.COMPLETED, ReviewStatus.SKIPPED, ReviewStatus.SUPERSEDED, ReviewStatus.CANCELLED,
     ReviewStatus.FAILED}
)  # fmt: skip


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tenant(TimestampMixin, Base):
    """One GitHub App installation."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    installation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    account_login: Mapped[str] = mapped_column(String(255), default="")
    account_type: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[TenantStatus] = mapped_column(StrEnumColumn(TenantStatus), default=TenantStatus.ACTIVE)
    # Per-tenant feature flags and policy overrides (e.g. {"analyzers": {"llm": false}}).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    repositories: Mapped[list[Repository]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan"
    )


class Repository(TimestampMixin, Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("tenant_id", "github_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    github_id: Mapped[int] = mapped_column(BigInteger)
    full_name: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)

    tenant: Mapped[Tenant] = relationship(back_populates="repositories")


class WebhookDelivery(TimestampMixin, Base):
    """A webhook as GitHub sent it, committed before it is acknowledged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("app_id", "delivery_guid"),
        Index("ix_webhook_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_webhook_deliveries_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    app_id: Mapped[int] = mapped_column(BigInteger, default=0)
    delivery_guid: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    repository: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumColumn(DeliveryStatus), default=DeliveryStatus.RECEIVED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text)  # why it was ignored, e.g. "draft pull request"
    queued_at: Mapped[datetime | None] = mapped_column()
    processed_at: Mapped[datetime | None] = mapped_column()


class Review(TimestampMixin, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_reviews_repository_pr_number", "repository", "pr_number"),
        # One review per delivery: processing a delivery twice never creates a second review.
        UniqueConstraint("delivery_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="SET NULL"))
    repository: Mapped[str] = mapped_column(String(255))
    pr_number: Mapped[int] = mapped_column(Integer)
    head_sha: Mapped[str] = mapped_column(String(64))
    base_sha: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32), default="pull_request")
    status: Mapped[ReviewStatus] = mapped_column(StrEnumColumn(ReviewStatus), default=ReviewStatus.PENDING)
    status_reason: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column()
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    posted_count: Mapped[int] = mapped_column(Integer, default=0)
    llm_prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    llm_completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    github_review_id: Mapped[int | None] = mapped_column(BigInteger)
    check_run_id: Mapped[int | None] = mapped_column(BigInteger)
    summary_comment_id: Mapped[int | None] = mapped_column(BigInteger)

    findings: Mapped[list[Finding]] = relationship(back_populates="review", cascade="all, delete-orphan")


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_review_id_severity", "review_id", "severity"),
        Index("ix_findings_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    analyzer: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(1024))
    start_line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(8), default="RIGHT")
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    posted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="findings")


class Suppression(Base):
    """A finding the team dismissed (`/reviewops ignore` on its comment): not posted again in the repository."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "repository", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(128), default="")
    path: Mapped[str] = mapped_column(String(1024), default="")
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    comment_id: Mapped[int | None] = mapped_column(BigInteger)  # the reply that asked for it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A message that exhausted its retries or failed permanently. Kept until retention says otherwise."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("message_id"),
        Index("ix_dead_letters_replay_state_last_failed_at", "replay_state", "last_failed_at"),
        Index("ix_dead_letters_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(128))
    args: Mapped[list[Any]] = mapped_column(default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    error_type: Mapped[str] = mapped_column(String(16))  # transient | permanent
    error_class: Mapped[str] = mapped_column(String(255))
    error_message: Mapped[str] = mapped_column(Text, default="")
    traceback: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    replay_state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|replaying|replayed
    replay_id: Mapped[str | None] = mapped_column(String(64))
    replayed_at: Mapped[datetime | None] = mapped_column()
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A tenant API key: only a salted hash is stored; the key itself is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class UsageDaily(Base):
    """Per-tenant, per-day counters (reviews, LLM tokens) behind the usage API and budgets."""

    __tablename__ = "usage_daily"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    llm_prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    llm_completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
