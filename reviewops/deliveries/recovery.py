"""Missed-delivery recovery: ask GitHub which deliveries failed and have them sent again.

GitHub never retries a failed delivery by itself and keeps them for redelivery only a few days. This
lists the App's recent deliveries (`GET /app/hook/deliveries`), finds GUIDs whose every attempt failed
and that ReviewOps has not stored, and requests a redelivery (`POST /app/hook/deliveries/{id}/attempts`).
The GitHub calls are injected, so the decision logic is plain and testable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from reviewops import audit
from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HookDelivery:
    """One attempt as GitHub lists it (a redelivery is another attempt with the same guid)."""

    id: int
    guid: str
    delivered_at: datetime
    status_code: int
    event: str = ""
    action: str | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> HookDelivery:
        return cls(
            id=int(item["id"]),
            guid=str(item["guid"]),
            delivered_at=datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00")),
            status_code=int(item.get("status_code") or 0),
            event=str(item.get("event") or ""),
            action=item.get("action"),
        )

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass
class RecoveryResult:
    examined: int = 0
    failed_guids: int = 0
    already_stored: int = 0
    redelivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def find_missed(
    attempts: Iterable[HookDelivery], stored: set[str], *, after_restore: bool = False
) -> list[HookDelivery]:
    """The newest attempt of every guid we do not have, oldest first: normally only those whose every
    attempt failed; after a restore also those GitHub delivered (we stored them, then lost them)."""
    by_guid: dict[str, list[HookDelivery]] = {}
    for attempt in attempts:
        by_guid.setdefault(attempt.guid, []).append(attempt)
    missed = [
        max(group, key=lambda a: a.delivered_at)
        for guid, group in by_guid.items()
        if guid not in stored and (after_restore or not any(a.succeeded for a in group))
    ]
    return sorted(missed, key=lambda a: a.delivered_at)


def stored_guids(db: Database, guids: Iterable[str]) -> set[str]:
    wanted = list(set(guids))
    found: set[str] = set()
    with db.session() as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update(
                session.execute(
                    select(WebhookDelivery.delivery_guid).where(WebhookDelivery.delivery_guid.in_(chunk))
                ).scalars()
            )
    return found


def recover(
    db: Database,
    list_attempts: Callable[[datetime], Iterable[Mapping[str, Any]]],
    redeliver: Callable[[int], None],
    *,
    since: timedelta = timedelta(hours=72),
    max_redeliveries: int = 100,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    after_restore: bool = False,
    pause: Callable[[], None] | None = None,
) -> RecoveryResult:
    """List attempts newer than `since`, redeliver what was missed (at most `max_redeliveries`).

    `after_restore` asks for every delivery of the window the database does not hold, delivered or not
    (the database was restored from a backup older than them); `pause` runs before each redelivery
    request after the first, to keep to a pace GitHub allows."""
    cutoff = utcnow() - since
    attempts = [HookDelivery.from_api(item) for item in list_attempts(cutoff)]
    attempts = [a for a in attempts if a.delivered_at >= cutoff]
    result = RecoveryResult(examined=len(attempts))
    have = stored_guids(db, (a.guid for a in attempts))
    failed = {a.guid for a in attempts if not a.succeeded}
    result.failed_guids = len(failed)
    result.already_stored = len(failed & have)
    for index, attempt in enumerate(
        find_missed(attempts, have, after_restore=after_restore)[:max_redeliveries]
    ):
        if dry_run:
            result.redelivered.append(attempt.guid)
            continue
        if pause is not None and index:
            pause()
        try:
            redeliver(attempt.id)
            result.redelivered.append(attempt.guid)
            if progress:
                progress(f"redelivery requested for {attempt.guid} ({attempt.event})")
        except Exception as exc:  # one failure must not stop the others
            result.errors.append(f"{attempt.guid}: {type(exc).__name__}: {exc}")
    if not dry_run and (result.redelivered or result.errors):
        audit.record_now(
            db,
            "recovery",
            "deliveries.recover_after_restore" if after_restore else "deliveries.recover",
            None,
            details={"redelivered": result.redelivered, "errors": len(result.errors)},
        )
    log.info(
        "delivery recovery: %s attempts examined, %s failed guids, %s redelivered, %s errors",
        result.examined, result.failed_guids, len(result.redelivered), len(result.errors),
    )  # fmt: skip
    return result
