"""Safe replay of dead letters onto the replay lane, and purge; shared by the CLI and the admin API.

Idempotence: rows are claimed in batches with one conditional UPDATE (`replay_state` pending ->
replaying, guarded by `FOR UPDATE SKIP LOCKED` on PostgreSQL) before anything is enqueued, so a second
run of the same replay, or two replays at once, never enqueue a dead letter twice. A claimed row is
marked replayed after its message is on the broker; if the enqueue fails it goes back to pending. A row
left `replaying` by a replay that crashed is reclaimed by a later replay after STALE_CLAIM.

The replayed message keeps its message id (a new failure reopens the same row) but gets a new
message_timestamp (age) and no `retries`/`traceback`, so it gets its full retries again.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import redis
from sqlalchemy import and_, or_, select, update

from reviewops.audit import record_now
from reviewops.db.models import DELIVERY_DONE, DeadLetter, DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.dlq.middleware import FAILURE_OPTIONS
from reviewops.dlq.store import DELIVERY_ACTORS, FilterError, Filters, publish_pending_count
from reviewops.queue.broker import PROCESS_DELIVERY_REPLAY, REPLAY_QUEUE
from reviewops.queue.names import REPLAY_RESULT_KEY_PREFIX
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)

RESULT_KEY_PREFIX = REPLAY_RESULT_KEY_PREFIX
RESULT_TTL_SECONDS = 7 * 86400
STALE_CLAIM = timedelta(minutes=15)
BATCH = 100
MAX_CONSECUTIVE_FAILURES = 10
_RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(value: str, option: str = "--rate") -> float:
    """`50/s`, `600/m`, `1000/h` or a bare number (per second) -> messages per second."""
    text = value.strip()
    number, _, unit = text.partition("/")
    try:
        count = float(number)
    except ValueError:
        raise FilterError(option, f"invalid rate {value!r}; use e.g. 50/s, 600/m or 1000/h") from None
    if unit not in ("", *_RATE_UNITS) or count <= 0:
        raise FilterError(option, f"invalid rate {value!r}; use a positive number per s, m or h, e.g. 50/s")
    return count / _RATE_UNITS.get(unit or "s", 1.0)


@dataclass
class ReplayResult:
    replay_id: str
    dry_run: bool
    matched: int = 0
    replayed: int = 0
    skipped: int = 0
    failed: int = 0
    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    finished_at: str | None = None
    dead_letter_ids: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The contract written to `reviewops:replay-results:<key>` (the operator reads it)."""
        return {
            "replayed": self.replayed,
            "skipped": self.skipped,
            "failed": self.failed,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "replay_id": self.replay_id,
        }


def _claimable(filters: Filters, now: datetime) -> Any:
    """Pending rows matching the filters, plus rows a crashed replay left `replaying` too long."""
    base = Filters(
        tenant=filters.tenant, error_type=filters.error_type, older_than=filters.older_than,
        queue=filters.queue, state=None,
    )  # fmt: skip
    stmt = base.apply(select(DeadLetter.id), now).where(
        or_(
            DeadLetter.replay_state == "pending",
            and_(DeadLetter.replay_state == "replaying", DeadLetter.replayed_at < now - STALE_CLAIM),
        )
    )
    return stmt.order_by(DeadLetter.last_failed_at, DeadLetter.id)


def _claim(
    db: Database, filters: Filters, replay_id: str, size: int, exclude: set[int]
) -> list[tuple[DeadLetter, bool]]:
    """Claim up to `size` rows; each comes with whether its delivery already finished."""
    now = utcnow()
    with db.session() as session:
        ids = _claimable(filters, now).limit(size)
        if exclude:  # rows this replay already failed to enqueue: not again in the same run
            ids = ids.where(DeadLetter.id.not_in(exclude))
        if not db.is_sqlite:
            ids = ids.with_for_update(skip_locked=True)
        # Pick (and lock) the ids first, then update exactly those: an `UPDATE ... WHERE id IN (SELECT ...
        # LIMIT n)` lets PostgreSQL re-run the subquery under some plans and touch more than n rows (seen
        # once in the suite: limit 3 replayed 5). The state condition still guards concurrent claimers.
        picked = list(session.execute(ids).scalars())
        rows = []
        if picked:
            rows = list(
                session.execute(
                    update(DeadLetter)
                    .where(
                        DeadLetter.id.in_(picked),
                        or_(DeadLetter.replay_state == "pending", DeadLetter.replayed_at < now - STALE_CLAIM),
                    )
                    .values(replay_state="replaying", replay_id=replay_id, replayed_at=now)
                    .returning(DeadLetter)
                ).scalars()
            )
        delivery_ids = [r.delivery_id for r in rows if r.delivery_id is not None]
        if delivery_ids:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status == DeliveryStatus.DEAD)
                .values(status=DeliveryStatus.QUEUED, queued_at=now, error=None, updated_at=now)
            )
        finished: set[int] = set()
        if delivery_ids:
            finished = set(
                session.execute(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status.in_(DELIVERY_DONE)
                    )
                ).scalars()
            )
    rows.sort(key=lambda r: (r.last_failed_at, r.id))
    return [(row, row.delivery_id in finished) for row in rows]


def build_message(row: DeadLetter, replay_id: str) -> dramatiq.Message[Any]:
    """A fresh message for the row: same id and arguments, no retry history, new age, replay lane."""
    options = {k: v for k, v in (row.options or {}).items() if k not in FAILURE_OPTIONS}
    options["replay_id"] = replay_id
    actor, queue = row.actor, row.queue
    if actor in DELIVERY_ACTORS:
        actor, queue = PROCESS_DELIVERY_REPLAY, REPLAY_QUEUE
    return dramatiq.Message(
        queue_name=queue, actor_name=actor, args=tuple(row.args or ()), kwargs=dict(row.kwargs or {}),
        options=options, message_id=row.message_id,
    )  # fmt: skip


def _settle(db: Database, replay_id: str, done: list[int], failed: list[DeadLetter]) -> None:
    now = utcnow()
    with db.session() as session:
        if done:
            # Guarded by state and replay id: a row that already failed again (pending) stays pending.
            session.execute(
                update(DeadLetter)
                .where(
                    DeadLetter.id.in_(done),
                    DeadLetter.replay_state == "replaying",
                    DeadLetter.replay_id == replay_id,
                )
                .values(replay_state="replayed", replayed_at=now, replay_count=DeadLetter.replay_count + 1)
            )
        if failed:
            session.execute(
                update(DeadLetter)
                .where(DeadLetter.id.in_([r.id for r in failed]), DeadLetter.replay_id == replay_id)
                .values(replay_state="pending", replay_id=None, replayed_at=None)
            )
            ids = [r.delivery_id for r in failed if r.delivery_id is not None]
            if ids:
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == DeliveryStatus.QUEUED)
                    .values(status=DeliveryStatus.DEAD, updated_at=now)
                )


def count_matching(db: Database, filters: Filters) -> list[int]:
    """Ids a replay with these filters would take now (up to the limit), without changing anything."""
    with db.session() as session:
        stmt = _claimable(filters, utcnow())
        if filters.limit is not None:
            stmt = stmt.limit(filters.limit)
        return list(session.execute(stmt).scalars())


def replay(
    db: Database,
    broker: dramatiq.Broker | None,
    filters: Filters,
    *,
    dry_run: bool = False,
    rate: float | None = None,
    replay_id: str | None = None,
    redis_client: redis.Redis | None = None,
    on_progress: Callable[[ReplayResult], None] | None = None,
    progress_every: float = 1.0,
) -> ReplayResult:
    """Replay matching pending dead letters (oldest first); see the module docstring for the guarantees."""
    result = ReplayResult(replay_id=replay_id or uuid.uuid4().hex, dry_run=dry_run)
    matched_ids = count_matching(db, filters)
    result.matched = len(matched_ids)
    if dry_run or broker is None:
        result.dead_letter_ids = matched_ids
        result.finished_at = utcnow().isoformat()
        return result
    budget = filters.limit
    started = time.monotonic()
    last_progress = started
    consecutive_failures = 0
    enqueued = 0
    failed_rows: list[DeadLetter] = []
    while budget is None or budget > 0:
        size = min(BATCH, budget) if budget is not None else BATCH
        batch = _claim(db, filters, result.replay_id, size, {row.id for row in failed_rows})
        if not batch:
            break
        if budget is not None:
            budget -= len(batch)
        done: list[int] = []
        failed: list[DeadLetter] = []
        for row, finished in batch:
            if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                failed.append(row)
                continue
            if finished:
                done.append(row.id)  # its delivery finished meanwhile: nothing to run, close the row
                result.skipped += 1
                continue
            if rate:
                wait = started + enqueued / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                broker.enqueue(build_message(row, result.replay_id))
            except Exception as exc:
                log.warning("replay of dead letter %s failed: %s", row.id, type(exc).__name__)
                failed.append(row)
                consecutive_failures += 1
                continue
            consecutive_failures = 0
            enqueued += 1
            done.append(row.id)
            result.replayed += 1
            result.dead_letter_ids.append(row.id)
            metrics.DLQ_REPLAYED.inc()
            if on_progress and time.monotonic() - last_progress >= progress_every:
                last_progress = time.monotonic()
                on_progress(result)
        result.failed += len(failed)
        failed_rows.extend(failed)
        _settle(db, result.replay_id, done, failed)
        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            break
    # Rows that matched at the start but were taken by a concurrent replay.
    result.skipped += max(0, result.matched - result.replayed - result.failed - result.skipped)
    result.finished_at = utcnow().isoformat()
    publish_pending_count(db, redis_client)
    return result


def store_result(client: redis.Redis, key: str, result: ReplayResult) -> str:
    """Write the summary JSON to `reviewops:replay-results:<key>` for 7 days; returns the Redis key."""
    full_key = RESULT_KEY_PREFIX + key
    client.set(full_key, json.dumps(result.summary()), ex=RESULT_TTL_SECONDS)
    return full_key


def audit(db: Database, actor: str, action: str, details: dict[str, Any]) -> None:
    """A replay or purge of dead letters, in the audit trail (target `dead_letters`)."""
    record_now(db, actor, action, "dead_letters", details=details)
