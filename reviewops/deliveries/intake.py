"""Durable intake: a delivery row is committed before it is acknowledged, then handed to the broker.

The hot path is one autocommit INSERT (written as `queued`, the normal outcome) and one enqueue. Only
when the broker refuses is the row turned back to `received`, for the outbox sweeper to hand over. A
crash between the INSERT and the enqueue leaves a `queued` row the broker does not hold: the sweeper's
lost-message check (reviewops.deliveries.outbox) finds and re-enqueues it, so nothing is lost.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import dramatiq
import orjson
from sqlalchemy import Connection, Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from reviewops.db.models import DeliveryStatus, WebhookDelivery
from reviewops.db.session import Database, json_dumps
from reviewops.db.types import utcnow
from reviewops.deliveries.payload_facts import PayloadFacts, facts_of
from reviewops.errors import database_reason
from reviewops.queue.batch import enqueue_deliveries

log = logging.getLogger(__name__)

IntakeStatus = Literal["queued", "stored", "duplicate"]
# A redelivery of one of these is work that did not finish: it is put back on the queue.
REQUEUE_ON_REDELIVERY = frozenset({DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value})


@dataclass(frozen=True)
class IncomingDelivery:
    """A delivery to store: its payload as a dict, or as the JSON text GitHub sent (or both)."""

    app_id: int
    guid: str
    event: str
    action: str | None
    payload: dict[str, Any] | None = None
    # The JSON text as GitHub sent it, stored as is (PostgreSQL parses it into jsonb); None: serialize
    # `payload`. With the text, `facts` spares the webhook route from building the dict at all.
    payload_json: str | None = None
    facts: PayloadFacts | None = None

    def __post_init__(self) -> None:
        if self.payload is None and self.payload_json is None:
            raise ValueError("an IncomingDelivery needs its payload or its JSON text")

    @functools.cached_property
    def document(self) -> dict[str, Any]:
        """The payload as a dict, parsed from the text only if something asks (SQLite's JSON column)."""
        if self.payload is not None:
            return self.payload
        parsed: dict[str, Any] = orjson.loads(self.payload_json or "")
        return parsed

    @functools.cached_property
    def text(self) -> str:
        """The JSON text to store (see payload_text for when it cannot be had)."""
        return self.payload_json or json_dumps(self.document)

    @functools.cached_property
    def _facts(self) -> PayloadFacts:
        return self.facts or facts_of(self.document)

    # Read from the cached facts: the webhook route, the row and the enqueue all read them.
    @property
    def installation_id(self) -> int | None:
        return self._facts.installation_id

    @property
    def repository(self) -> str | None:
        return self._facts.repository


@dataclass(frozen=True)
class IntakeResult:
    delivery_id: int
    status: IntakeStatus
    requeued: bool = False
    previous_status: str | None = None


class UnstorableDelivery(Exception):
    """The database refused this delivery's row itself (bad data, not the database being down): a 503
    would have GitHub redeliver something that can never be stored."""

    def __init__(self, guid: str, reason: str) -> None:
        super().__init__(f"delivery {guid} cannot be stored: {reason}")
        self.reason = reason


def payload_text(incoming: IncomingDelivery, *, as_document: bool = False) -> str:
    """The JSON text to store: as GitHub sent it, or the payload serialized. Raises UnstorableDelivery
    when it cannot be had (orjson refuses nesting past 254 levels; a text nested past 1024 cannot be
    parsed): that is this delivery's fault, never its batch's. `as_document`: the store takes the parsed
    payload and serializes it again (SQLite's JSON column), so check that too."""
    try:
        if as_document:
            json_dumps(incoming.document)
        return incoming.text
    except (TypeError, ValueError, RecursionError) as exc:  # orjson's errors subclass these
        raise UnstorableDelivery(incoming.guid, f"the payload cannot be serialized: {exc}") from None


# The intake is the hot path: Core statements built once (building one per call costs more CPU than
# the database round trip; see bench/ingest.py), executed with fresh parameters.
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_INSERT_IGNORE: dict[str, Insert] = {
    name: dialect.insert(DELIVERIES)
    .on_conflict_do_nothing(index_elements=["app_id", "delivery_guid"])
    .returning(DELIVERIES.c.id, DELIVERIES.c.app_id, DELIVERIES.c.delivery_guid)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


# PostgreSQL (psycopg): one fixed statement whatever the batch size, each column sent as one array.
# The generic multi-row VALUES form is a new statement text per batch size, re-rendered by SQLAlchemy
# and re-parsed by psycopg (a regex over hundreds of placeholders) on every call: that was most of the
# intake thread's CPU. The payloads go as a binary text[] (`%b`): the text form escapes every quote of
# every payload. WITH ORDINALITY keeps the batch order, so the first copy of a repeated GUID is stored.
_PG_INSERT = (
    "INSERT INTO webhook_deliveries (app_id, delivery_guid, event, action, installation_id, repository,"
    " payload, status, attempts, queued_at, created_at, updated_at)"
    " SELECT a, g, e, ac, i, r, p::jsonb, %s, 0, %s, %s, %s"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %b::text[])"
    " WITH ORDINALITY AS t(a, g, e, ac, i, r, p, n) ORDER BY n"
    " ON CONFLICT (app_id, delivery_guid) DO NOTHING RETURNING id, app_id, delivery_guid"
)


def _insert_ignore(
    conn: Connection, incoming: Sequence[IncomingDelivery], now: datetime
) -> dict[tuple[int, str], int]:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING: one statement for the whole batch; concurrent or
    repeated deliveries make one row, no error. Returns the ids of the rows this statement created, by
    (app id, delivery GUID)."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        params = (
            DeliveryStatus.QUEUED.value, now, now, now,
            [i.app_id for i in incoming], [i.guid for i in incoming], [i.event for i in incoming],
            [i.action for i in incoming], [i.installation_id for i in incoming], [i.repository for i in incoming],
            [i.text for i in incoming],  # checked by _storable
        )  # fmt: skip
        result = conn.exec_driver_sql(_PG_INSERT, params)
    else:
        result = conn.execute(_INSERT_IGNORE[conn.dialect.name], [_row(i, now) for i in incoming])
    return {(row.app_id, row.delivery_guid): row.id for row in result}


def _insert_new(
    db: Database, incoming: Sequence[IncomingDelivery], now: datetime
) -> dict[tuple[int, str], int]:
    """One autocommit statement: durable when it returns. The intake engine skips the pool's pre-ping
    round trip, so a connection the server dropped is retried once on a fresh one (the statement is
    idempotent: a retry after an unseen commit finds the rows and reports them as duplicates)."""
    for attempt in (1, 2):
        try:
            with db.intake_engine.connect() as conn:
                return _insert_ignore(conn, incoming, now)
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.info("intake: database connection was dropped; retrying on a fresh one")
    raise AssertionError("unreachable")


def _row(incoming: IncomingDelivery, now: datetime) -> dict[str, Any]:
    return {
        "app_id": incoming.app_id,
        "delivery_guid": incoming.guid,
        "event": incoming.event,
        "action": incoming.action,
        "installation_id": incoming.installation_id,
        "repository": incoming.repository,
        "payload": incoming.document,
        "status": DeliveryStatus.QUEUED.value,
        "attempts": 0,
        "queued_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _existing(db: Database, incoming: IncomingDelivery, now: datetime) -> IntakeResult:
    """A redelivery: report the stored copy, and put it back on the queue if it had failed."""
    with db.engine.begin() as conn:
        existing = conn.execute(
            select(DELIVERIES.c.id, DELIVERIES.c.status).where(
                DELIVERIES.c.app_id == incoming.app_id, DELIVERIES.c.delivery_guid == incoming.guid
            )
        ).one()
        if existing.status in REQUEUE_ON_REDELIVERY:
            # Claim the requeue with a conditional update so two racing redeliveries requeue once.
            claimed = conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == existing.id, DELIVERIES.c.status == existing.status)
                .values(status=DeliveryStatus.QUEUED.value, error=None, queued_at=now, updated_at=now)
                .returning(DELIVERIES.c.id)
            ).first()
            return IntakeResult(
                existing.id, "duplicate", requeued=claimed is not None, previous_status=existing.status
            )
        return IntakeResult(existing.id, "duplicate", previous_status=existing.status)


# SQLSTATE class 54, "program limit exceeded": e.g. jsonb's "stack depth limit exceeded" on a payload
# nested deeper than the server's max_stack_depth. The row's content, not the database's state.
_ROW_LIMIT_CLASS = "54"


def _refused_by_row(exc: DBAPIError) -> bool:
    """A data or constraint error, or a limit the row exceeds, names a row's content; anything else is
    the database's state."""
    if exc.connection_invalidated:
        return False
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    return isinstance(exc, DataError | IntegrityError) or sqlstate.startswith(_ROW_LIMIT_CLASS)


def _storable(
    incoming: Sequence[IncomingDelivery], as_document: bool
) -> tuple[list[int], dict[int, UnstorableDelivery]]:
    """The positions of the deliveries whose payload text can be had, and the refusal of the others."""
    kept: list[int] = []
    refused: dict[int, UnstorableDelivery] = {}
    for index, delivery in enumerate(incoming):
        try:
            payload_text(delivery, as_document=as_document)
        except UnstorableDelivery as exc:
            refused[index] = exc
        else:
            kept.append(index)
    return kept, refused


def _insert_isolating(
    db: Database, incoming: Sequence[IncomingDelivery], now: datetime
) -> tuple[dict[tuple[int, str], int], dict[int, UnstorableDelivery]]:
    """The batch's INSERT; if the database refuses a row's data, each delivery is inserted alone, so one
    unstorable delivery fails by itself and not the strangers group commit put in its batch. A payload
    that cannot even be serialized is refused before the INSERT."""
    kept, refused = _storable(incoming, as_document=db.is_sqlite)
    if not kept:
        return {}, refused
    try:
        return _insert_new(db, [incoming[i] for i in kept], now), refused
    except DBAPIError as exc:
        if not _refused_by_row(exc):
            raise
        if len(kept) == 1:
            return {}, refused | {kept[0]: UnstorableDelivery(incoming[kept[0]].guid, database_reason(exc))}
        log.warning(
            "intake: the database refused a row of a %s-delivery batch; storing each alone", len(kept)
        )
    created: dict[tuple[int, str], int] = {}
    for index in kept:
        delivery = incoming[index]
        try:
            created |= _insert_new(db, [delivery], now)
        except DBAPIError as exc:
            if not _refused_by_row(exc):
                raise
            refused[index] = UnstorableDelivery(delivery.guid, database_reason(exc))
    return created, refused


def store_many(db: Database, incoming: Sequence[IncomingDelivery]) -> list[IntakeResult | UnstorableDelivery]:
    """Commit the deliveries as `queued` (or find the earlier copies), in order. Returns before anything
    is enqueued: `accept_many` hands them to the broker and undoes the mark if the broker refuses. The
    first copy of a GUID repeated within the batch is the one stored; a delivery whose row the database
    refuses gets an UnstorableDelivery in its place."""
    now = utcnow()
    created, refused = _insert_isolating(db, incoming, now)
    results: list[IntakeResult | UnstorableDelivery] = []
    for index, delivery in enumerate(incoming):
        if index in refused:
            results.append(refused[index])
            continue
        new_id = created.pop((delivery.app_id, delivery.guid), None)
        results.append(IntakeResult(new_id, "stored") if new_id is not None else _existing(db, delivery, now))
    return results


def _one(result: IntakeResult | UnstorableDelivery) -> IntakeResult:
    if isinstance(result, UnstorableDelivery):
        raise result
    return result


def store(db: Database, incoming: IncomingDelivery) -> IntakeResult:
    """Raises UnstorableDelivery if the database refuses the row."""
    return _one(store_many(db, [incoming])[0])


def _return_to_outbox(db: Database, delivery_ids: list[int]) -> None:
    """Rows stored as `queued` whose enqueue failed go back to `received`, for the outbox sweeper."""
    try:
        with db.engine.begin() as conn:
            conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id.in_(delivery_ids), DELIVERIES.c.status == DeliveryStatus.QUEUED.value)
                .values(status=DeliveryStatus.RECEIVED.value, queued_at=None, updated_at=utcnow())
            )
    except SQLAlchemyError as exc:
        # Stored as `queued` with no message: the outbox's lost-message check re-enqueues them.
        log.warning("deliveries %s could not be returned to the outbox: %s", delivery_ids, type(exc).__name__)


def accept_many(
    db: Database,
    broker: dramatiq.Broker,
    incoming: Sequence[IncomingDelivery],
    queue: str,
    contexts: Sequence[contextvars.Context] | None = None,
) -> list[IntakeResult | UnstorableDelivery]:
    """Store, then enqueue what there is to do, all in one batch: the webhook's whole blocking part.

    Each message's enqueue middleware runs in its request's context (`contexts`), so its trace and log
    fields are the request's. If the broker refuses, the batch's new rows go back to `received` for the
    outbox sweeper, so a broker outage loses nothing.
    """
    stored = store_many(db, incoming)
    ids = {  # what there is to enqueue, by position in the batch
        i: r.delivery_id
        for i, r in enumerate(stored)
        if isinstance(r, IntakeResult) and (r.status == "stored" or r.requeued)
    }
    todo = list(ids)
    handed = True
    if todo:
        try:
            enqueue_deliveries(
                broker,
                [(ids[i], incoming[i].installation_id) for i in todo],
                queue,
                [contexts[i] for i in todo] if contexts else None,
            )
        except Exception as exc:  # the broker raises connection errors of several kinds
            log.warning(
                "broker unavailable, %s deliveries left in the outbox: %s", len(todo), type(exc).__name__
            )
            _return_to_outbox(db, list(ids.values()))
            handed = False
    return [
        IntakeResult(r.delivery_id, "queued")
        if handed and isinstance(r, IntakeResult) and r.status == "stored"
        else r
        for r in stored
    ]


def accept(db: Database, broker: dramatiq.Broker, incoming: IncomingDelivery, queue: str) -> IntakeResult:
    """Raises UnstorableDelivery if the database refuses the row."""
    return _one(accept_many(db, broker, [incoming], queue)[0])
