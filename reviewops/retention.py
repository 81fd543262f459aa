"""Retention: delete old deliveries, reviews (with their findings) and replayed dead letters in batches
(optionally exported first, see reviewops.retention_export).

Batches keep each transaction short, so a purge of millions of rows never holds locks that stall the
webhook intake, and progress is visible as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute

from reviewops.db.models import (
    DELIVERY_DONE,
    REVIEW_FINISHED,
    AuditLog,
    DeadLetter,
    DeliveryStatus,
    Review,
    WebhookDelivery,
)
from reviewops.db.session import Database
from reviewops.retention_export import rows_of, write_batch

FINISHED_DELIVERIES = DELIVERY_DONE | {DeliveryStatus.DEAD}


@dataclass
class PurgeResult:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _targets(
    cutoff: datetime, audit: bool = False
) -> list[tuple[str, type, InstrumentedAttribute[int], ColumnElement[bool]]]:
    targets: list[tuple[str, type, InstrumentedAttribute[int], ColumnElement[bool]]] = [
        ("reviews", Review, Review.id, (Review.created_at < cutoff) & Review.status.in_(REVIEW_FINISHED)),
        (
            "webhook_deliveries",
            WebhookDelivery,
            WebhookDelivery.id,
            (WebhookDelivery.created_at < cutoff) & WebhookDelivery.status.in_(FINISHED_DELIVERIES),
        ),
        (
            "dead_letters",
            DeadLetter,
            DeadLetter.id,
            (DeadLetter.last_failed_at < cutoff) & (DeadLetter.replay_state == "replayed"),
        ),
    ]
    if audit:  # the audit trail is kept unless asked for (and then usually exported first)
        targets.append(("audit_log", AuditLog, AuditLog.id, AuditLog.created_at < cutoff))
    return targets


def purge(
    db: Database,
    cutoff: datetime,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    export_dir: Path | None = None,
    audit: bool = False,
) -> PurgeResult:
    """Delete finished rows created before `cutoff`; unfinished work is never deleted. With `export_dir`,
    each batch is written there (reviewops.retention_export) before it is deleted."""
    result = PurgeResult()
    for name, model, pk, condition in _targets(cutoff, audit):
        with db.session() as session:
            total = int(
                session.execute(select(func.count()).select_from(model).where(condition)).scalar_one()
            )
        if dry_run or total == 0:
            result.deleted[name] = total
            continue
        done = 0
        while True:
            with db.session() as session:
                ids = (
                    session.execute(select(pk).where(condition).order_by(pk).limit(batch_size))
                    .scalars()
                    .all()
                )
                if not ids:
                    break
                if export_dir is not None:
                    write_batch(export_dir, name, rows_of(session, name, model, ids))
                session.execute(delete(model).where(pk.in_(ids)))
            done += len(ids)
            if progress:
                progress(name, done, total)
        result.deleted[name] = done
    return result
