"""Admin API of the dead-letter store: list, inspect, replay (or dry-run) and purge, all audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import redis
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, BrokerDep, DbDep
from api.filters import MAX_BIGINT, STRICT, TEXT_PATTERN, IdPath
from api.problems import ProblemError
from reviewops.dlq import replay as service
from reviewops.dlq import store
from reviewops.dlq.gauges import register_dead_letter_gauges
from reviewops.dlq.store import FilterError, Filters, parse_duration
from reviewops.queue.gauges import register_queue_gauges


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Queue and dead-letter gauges for this process's /metrics, read at scrape time."""
    register_queue_gauges(app.state.broker)
    register_dead_letter_gauges(app.state.db, app.state.broker)
    yield


router = APIRouter(prefix="/api/v1/admin/dead-letters", tags=["dead-letters"], lifespan=_lifespan)

StateParam = Annotated[str, Query(description="pending, replaying, replayed or all.")]
TenantQuery = Annotated[int | None, Query(ge=1, le=MAX_BIGINT, description="Installation id of the tenant.")]
# Free text that reaches the database: printable only, like every text filter (PostgreSQL refuses NUL).
QueueQuery = Annotated[
    str | None, Query(max_length=128, pattern=TEXT_PATTERN, description="Queue name, e.g. reviews.")
]


class DeadLetterOut(BaseModel):
    id: int
    message_id: str
    actor: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    tenant_id: int | None
    delivery_id: int | None
    error_type: str
    error_class: str
    error_message: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    replay_state: str
    replay_id: str | None
    replayed_at: datetime | None
    replay_count: int
    traceback: str | None = None
    options: dict[str, Any] | None = None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    total: int
    limit: int
    offset: int


class ReplayRequest(BaseModel):
    model_config = STRICT

    tenant: int | None = Field(default=None, ge=1, le=MAX_BIGINT)
    error_type: str | None = Field(default=None, description="transient or permanent")
    older_than: str | None = Field(default=None, description="e.g. 10m, 2h, 7d")
    queue: str | None = Field(default=None, max_length=128, pattern=TEXT_PATTERN)
    limit: int | None = Field(default=None, ge=1, le=100_000)
    dry_run: bool = False
    rate: str | None = Field(default=None, description="Throttle, e.g. 50/s")
    result_key: str | None = Field(default=None, max_length=200)


class ReplayOut(BaseModel):
    replay_id: str
    dry_run: bool
    matched: int
    replayed: int
    skipped: int
    failed: int
    started_at: str
    finished_at: str | None
    dead_letter_ids: list[int]


class PurgeOut(BaseModel):
    deleted: int


def _filters(
    *, tenant: int | None, error_type: str | None, older_than: str | None, queue: str | None,
    state: str | None, limit: int | None,
) -> Filters:  # fmt: skip
    """Filters from request values; a bad value is a 422 problem naming the parameter. An empty string
    (`?error_type=`, as URL templates send) means the filter is not set, as its schema allows."""
    try:
        return Filters(
            tenant=tenant, error_type=error_type or None, queue=queue or None, limit=limit,
            older_than=parse_duration(older_than, "older_than") if older_than else None,
            state=None if state == "all" else state,
        )  # fmt: skip
    except FilterError as exc:
        name = exc.option.removeprefix("--").replace("-", "_")
        raise ProblemError(422, f"{name}: {str(exc).split(': ', 1)[1]}", code="invalid-filter") from None


def _client(broker: Any) -> redis.Redis | None:
    client = getattr(broker, "client", None)
    return client if isinstance(client, redis.Redis) else None


@router.get("", response_model=DeadLetterPage)
async def list_dead_letters(
    db: DbDep,
    _admin: AdminDep,
    tenant: TenantQuery = None,
    error_type: str | None = None,
    older_than: str | None = None,
    queue: QueueQuery = None,
    state: StateParam = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
) -> DeadLetterPage:
    filters = _filters(
        tenant=tenant,
        error_type=error_type,
        older_than=older_than,
        queue=queue,
        state=state or "pending",
        limit=limit,
    )
    rows, total = await run_in_threadpool(store.list_dead_letters, db, filters, offset=offset)
    items = [DeadLetterOut.model_validate(store.as_dict(r)) for r in rows]
    return DeadLetterPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{dead_letter_id}", response_model=DeadLetterOut)
async def get_dead_letter(dead_letter_id: IdPath, db: DbDep, _admin: AdminDep) -> DeadLetterOut:
    row = await run_in_threadpool(store.get_dead_letter, db, dead_letter_id)
    if row is None:
        raise ProblemError(404, f"no dead letter {dead_letter_id}", code="not-found")
    return DeadLetterOut.model_validate(store.as_dict(row, full=True))


@router.post("/replay", response_model=ReplayOut)
async def replay_dead_letters(
    body: ReplayRequest, db: DbDep, broker: BrokerDep, admin: AdminDep
) -> ReplayOut:
    """Replay matching pending dead letters onto the replay lane (synchronously; use `limit` for big sets)."""
    filters = _filters(
        tenant=body.tenant, error_type=body.error_type, older_than=body.older_than, queue=body.queue,
        state="pending", limit=body.limit,
    )  # fmt: skip
    try:
        rate = service.parse_rate(body.rate, "rate") if body.rate is not None else None
    except FilterError as exc:
        raise ProblemError(422, str(exc), code="invalid-filter") from None
    client = _client(broker)
    if body.result_key is not None and client is None:
        raise ProblemError(422, "result_key: needs the Redis broker", code="invalid-filter")

    def run() -> service.ReplayResult:
        result = service.replay(db, broker, filters, dry_run=body.dry_run, rate=rate, redis_client=client)
        service.audit(
            db, admin, "dlq.replay.dry_run" if body.dry_run else "dlq.replay",
            {"filters": filters.describe(), **result.summary(), "matched": result.matched},
        )  # fmt: skip
        if body.result_key is not None and client is not None:
            service.store_result(client, body.result_key, result)
        return result

    result = await run_in_threadpool(run)
    return ReplayOut(
        replay_id=result.replay_id, dry_run=result.dry_run, matched=result.matched, replayed=result.replayed,
        skipped=result.skipped, failed=result.failed, started_at=result.started_at,
        finished_at=result.finished_at, dead_letter_ids=result.dead_letter_ids,
    )  # fmt: skip


@router.delete("", response_model=PurgeOut)
async def purge_dead_letters(
    db: DbDep,
    broker: BrokerDep,
    admin: AdminDep,
    confirm: Annotated[bool, Query(description="Must be true: purging deletes for good.")] = False,
    tenant: TenantQuery = None,
    error_type: str | None = None,
    older_than: str | None = None,
    queue: QueueQuery = None,
    state: StateParam = "all",
    limit: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
) -> PurgeOut:
    filters = _filters(
        tenant=tenant,
        error_type=error_type,
        older_than=older_than,
        queue=queue,
        state=state or "all",
        limit=limit,
    )
    if not confirm:
        raise ProblemError(
            400, "confirm: purge deletes dead letters for good; pass confirm=true", code="confirm"
        )

    def run() -> int:
        deleted = store.purge(db, filters, _client(broker))
        service.audit(db, admin, "dlq.purge", {"filters": filters.describe(), "deleted": deleted})
        return deleted

    return PurgeOut(deleted=await run_in_threadpool(run))
