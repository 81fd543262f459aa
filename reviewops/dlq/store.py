"""Writes and queries of `dead_letters`, and the Redis count the operator reads.

Redis contract: `reviewops:dead-letters:pending` holds the number of unreplayed dead letters as a decimal
string. It is rewritten after every change (a recorded failure, a replay, a purge, retention) and on every
worker maintenance pass, so it is exact within one maintenance interval even if a writer crashed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reviewops import durations
from reviewops.db.models import DeadLetter, DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.queue.broker import PROCESS_DELIVERY, PROCESS_DELIVERY_REPLAY
from reviewops.queue.names import DEAD_LETTERS_PENDING_KEY
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

PENDING_KEY = DEAD_LETTERS_PENDING_KEY
ERROR_TYPES = ("transient", "permanent")
STATES = ("pending", "replaying", "replayed")
DELIVERY_ACTORS = frozenset({PROCESS_DELIVERY, PROCESS_DELIVERY_REPLAY})


class FilterError(ValueError):
    """A bad filter value; `option` names the CLI option / query parameter at fault."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def parse_duration(value: str, option: str = "--older-than") -> timedelta:
    """`90s`, `10m`, `2h`, `7d`, `1w` -> timedelta (reviewops.durations), errors naming the option."""
    try:
        return durations.parse_duration(value)
    except ValueError as exc:
        raise FilterError(option, str(exc)) from None


@dataclass(frozen=True)
class Filters:
    """Which dead letters an operation applies to. `state=None` means every state."""

    tenant: int | None = None
    error_type: str | None = None
    older_than: timedelta | None = None
    queue: str | None = None
    state: str | None = "pending"
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.error_type is not None and self.error_type not in ERROR_TYPES:
            raise FilterError(
                "--error-type", f"must be one of {', '.join(ERROR_TYPES)}, not {self.error_type!r}"
            )
        if self.state is not None and self.state not in STATES:
            raise FilterError("--state", f"must be one of {', '.join(STATES)} or all, not {self.state!r}")
        if self.limit is not None and self.limit < 1:
            raise FilterError("--limit", f"must be at least 1, not {self.limit}")

    def apply(self, stmt: Select[Any], now: datetime | None = None) -> Select[Any]:
        if self.tenant is not None:
            stmt = stmt.where(DeadLetter.tenant_id == self.tenant)
        if self.error_type is not None:
            stmt = stmt.where(DeadLetter.error_type == self.error_type)
        if self.older_than is not None:
            stmt = stmt.where(DeadLetter.last_failed_at <= (now or utcnow()) - self.older_than)
        if self.queue is not None:
            stmt = stmt.where(DeadLetter.queue == self.queue)
        if self.state is not None:
            stmt = stmt.where(DeadLetter.replay_state == self.state)
        return stmt

    def describe(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant, "error_type": self.error_type, "queue": self.queue, "state": self.state,
            "older_than_seconds": self.older_than.total_seconds() if self.older_than else None,
            "limit": self.limit,
        }  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """One message that failed for good, as the dead-letter middleware saw it."""

    message_id: str
    actor: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    error_type: str
    error_class: str
    error_message: str
    traceback: str
    attempts: int
    failed_at: datetime = field(default_factory=utcnow)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def record_failure(db: Database, failure: Failure) -> int:
    """Upsert the dead letter by message id and mark its delivery `dead`; returns the row id.

    A replayed message keeps its message id, so failing again reopens the same row: `attempts` adds up
    over every life of the message, `replay_state` returns to pending, `first_failed_at` stays.
    """
    delivery_id = None
    if failure.actor in DELIVERY_ACTORS and failure.args and isinstance(failure.args[0], int):
        delivery_id = failure.args[0]
    with db.session() as session:
        tenant_id = None
        if delivery_id is not None:
            row = session.execute(
                select(WebhookDelivery.tenant_id).where(WebhookDelivery.id == delivery_id)
            ).first()
            tenant_id = row.tenant_id if row else None
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(
                    status=DeliveryStatus.DEAD,
                    error=f"{failure.error_class}: {failure.error_message}"[:2000],
                    updated_at=failure.failed_at,
                )
            )
        values = {
            "message_id": failure.message_id, "actor": failure.actor, "queue": failure.queue,
            "args": list(failure.args), "kwargs": failure.kwargs, "options": failure.options,
            "tenant_id": tenant_id, "delivery_id": delivery_id, "error_type": failure.error_type,
            "error_class": failure.error_class[:255], "error_message": failure.error_message,
            "traceback": failure.traceback, "attempts": failure.attempts,
            "first_failed_at": failure.failed_at, "last_failed_at": failure.failed_at,
            "replay_state": "pending", "replay_count": 0, "created_at": failure.failed_at,
        }  # fmt: skip
        stmt = _insert(session)(DeadLetter).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["message_id"],
            set_={
                "actor": stmt.excluded.actor, "queue": stmt.excluded.queue, "args": stmt.excluded.args,
                "kwargs": stmt.excluded.kwargs, "options": stmt.excluded.options,
                "tenant_id": stmt.excluded.tenant_id, "delivery_id": stmt.excluded.delivery_id,
                "error_type": stmt.excluded.error_type, "error_class": stmt.excluded.error_class,
                "error_message": stmt.excluded.error_message, "traceback": stmt.excluded.traceback,
                "attempts": DeadLetter.attempts + stmt.excluded.attempts,
                "last_failed_at": stmt.excluded.last_failed_at, "replay_state": "pending",
            },
        ).returning(DeadLetter.id)  # fmt: skip
        row_id: int = session.execute(stmt).scalar_one()
    metrics.DEAD_LETTERED.labels(failure.queue, failure.error_type).inc()
    return row_id


def pending_count(db: Database) -> int:
    with db.session() as session:
        return int(
            session.execute(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.replay_state == "pending")
            ).scalar_one()
        )


def publish_pending_count(db: Database, client: redis.Redis | None) -> int | None:
    """Write the pending count to Redis for the operator; never raises (the count is refreshed again)."""
    if client is None:
        return None
    try:
        count = pending_count(db)
        client.set(PENDING_KEY, str(count))
        return count
    except Exception as exc:
        log.warning("could not publish the dead-letter count: %s", type(exc).__name__)
        return None


def pending_by_queue(db: Database) -> dict[tuple[str, str], int]:
    """Unreplayed dead letters by (queue, error_type), for the reviewops_dead_letters gauge."""
    with db.session() as session:
        rows = session.execute(
            select(DeadLetter.queue, DeadLetter.error_type, func.count())
            .where(DeadLetter.replay_state == "pending")
            .group_by(DeadLetter.queue, DeadLetter.error_type)
        ).all()
    return {(q, e): int(n) for q, e, n in rows}


def list_dead_letters(db: Database, filters: Filters, *, offset: int = 0) -> tuple[list[DeadLetter], int]:
    """Matching rows, oldest failure first, and the total number matching (for pagination)."""
    with db.session() as session:
        total = int(session.execute(filters.apply(select(func.count()).select_from(DeadLetter))).scalar_one())
        stmt = filters.apply(select(DeadLetter)).order_by(DeadLetter.last_failed_at, DeadLetter.id)
        stmt = stmt.offset(offset)
        if filters.limit is not None:
            stmt = stmt.limit(filters.limit)
        return list(session.execute(stmt).scalars()), total


def get_dead_letter(db: Database, dead_letter_id: int) -> DeadLetter | None:
    with db.session() as session:
        return session.get(DeadLetter, dead_letter_id)


def purge(db: Database, filters: Filters, client: redis.Redis | None = None) -> int:
    """Delete matching dead letters (in id order up to `limit`); returns how many went."""
    with db.session() as session:
        ids = select(DeadLetter.id)
        ids = filters.apply(ids).order_by(DeadLetter.id)
        if filters.limit is not None:
            ids = ids.limit(filters.limit)
        result = session.execute(delete(DeadLetter).where(DeadLetter.id.in_(ids.scalar_subquery())))
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    publish_pending_count(db, client)
    return deleted


def apply_retention(db: Database, days: int, client: redis.Redis | None = None) -> int:
    """Drop dead letters whose last failure is older than `days` (0 keeps everything forever)."""
    if days <= 0:
        return 0
    return purge(db, Filters(state=None, older_than=timedelta(days=days)), client)


def as_dict(row: DeadLetter, *, full: bool = False) -> dict[str, Any]:
    """JSON-ready view of a row (the traceback and options only with `full`)."""
    out: dict[str, Any] = {
        "id": row.id, "message_id": row.message_id, "actor": row.actor, "queue": row.queue,
        "args": row.args, "kwargs": row.kwargs, "tenant_id": row.tenant_id, "delivery_id": row.delivery_id,
        "error_type": row.error_type, "error_class": row.error_class, "error_message": row.error_message,
        "attempts": row.attempts, "first_failed_at": row.first_failed_at.isoformat(),
        "last_failed_at": row.last_failed_at.isoformat(), "replay_state": row.replay_state,
        "replay_id": row.replay_id, "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
        "replay_count": row.replay_count,
    }  # fmt: skip
    if full:
        out["traceback"] = row.traceback
        out["options"] = row.options
    return out
