"""`reviewops dlq list|show|replay|purge`: the dead-letter store from a shell (or a Kubernetes Job)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from reviewops.cli.common import settings_or_exit
from reviewops.db.session import Database
from reviewops.dlq.store import FilterError, Filters, as_dict, parse_duration
from reviewops.settings import Settings

app = typer.Typer(help="Dead letters: list, show, replay and purge failed work.", no_args_is_help=True)

TenantOpt = Annotated[int | None, typer.Option("--tenant", help="Only this tenant id.")]
ErrorTypeOpt = Annotated[str | None, typer.Option("--error-type", help="transient or permanent.")]
OlderOpt = Annotated[
    str | None, typer.Option("--older-than", help="Last failure at least this old: 90s, 10m, 2h, 7d.")
]
QueueOpt = Annotated[str | None, typer.Option("--queue", help="Only dead letters of this queue.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most this many dead letters.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _filters(
    tenant: int | None,
    error_type: str | None,
    older_than: str | None,
    queue: str | None,
    limit: int | None,
    state: str | None = "pending",
) -> Filters:
    try:
        return Filters(
            tenant=tenant,
            error_type=error_type,
            older_than=parse_duration(older_than) if older_than is not None else None,
            queue=queue,
            state=None if state == "all" else state,
            limit=limit,
        )
    except FilterError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        db.dispose()


def _redis(settings: Settings) -> Any:
    from reviewops.redis_client import redis_for

    return redis_for(settings)


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['id']:>6}  {row['last_failed_at'][:19]}  {row['replay_state']:<9}  {row['error_type']:<9}  "
        f"{row['queue']:<15}  tenant={row['tenant_id']}  delivery={row['delivery_id']}  "
        f"{row['error_class']}: {row['error_message'][:80]}"
    )


@app.command("list")
def list_(
    tenant: TenantOpt = None,
    error_type: ErrorTypeOpt = None,
    older_than: OlderOpt = None,
    queue: QueueOpt = None,
    limit: LimitOpt = 50,
    state: Annotated[str, typer.Option("--state", help="pending, replaying, replayed or all.")] = "pending",
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """List dead letters, oldest failure first."""
    if fmt not in ("text", "json"):
        raise _fail(f"--format: must be text or json, not {fmt!r}")
    filters = _filters(tenant, error_type, older_than, queue, limit, state)
    from reviewops.dlq.store import list_dead_letters

    with _database(settings_or_exit()) as db:
        rows, total = list_dead_letters(db, filters)
    items = [as_dict(r) for r in rows]
    if fmt == "json":
        typer.echo(json.dumps({"items": items, "total": total}, indent=2))
        return
    for item in items:
        typer.echo(_line(item))
    typer.echo(f"{len(items)} of {total} dead letter(s)", err=True)


@app.command("show")
def show(dead_letter_id: Annotated[int, typer.Argument(help="The dead letter's id.")]) -> None:
    """Everything about one dead letter, including its traceback, as JSON."""
    from reviewops.dlq.store import get_dead_letter

    with _database(settings_or_exit()) as db:
        row = get_dead_letter(db, dead_letter_id)
    if row is None:
        typer.echo(f"error: no dead letter {dead_letter_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(as_dict(row, full=True), indent=2))


@app.command("replay")
def replay(
    tenant: TenantOpt = None,
    error_type: ErrorTypeOpt = None,
    older_than: OlderOpt = None,
    queue: QueueOpt = None,
    limit: LimitOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be replayed.")] = False,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Throttle: messages per s, m or h, e.g. 50/s.")
    ] = None,
    result_key: Annotated[
        str | None,
        typer.Option("--result-key", help="Also write the summary to Redis reviewops:replay-results:KEY."),
    ] = None,
    replay_id: Annotated[
        str | None, typer.Option("--replay-id", help="Replay id to record (default: a new one).")
    ] = None,
) -> None:
    """Put pending dead letters back on the replay lane (reviews.replay), each at most once."""
    from reviewops.dlq import replay as service

    filters = _filters(tenant, error_type, older_than, queue, limit)
    try:
        per_second = service.parse_rate(rate) if rate is not None else None
    except FilterError as exc:
        raise _fail(str(exc)) from None
    settings = settings_or_exit()
    if settings.redis_url is None and not dry_run:
        raise _fail("REVIEWOPS_REDIS_URL: required by `reviewops dlq replay` (the broker to enqueue on)")
    if result_key is not None and settings.redis_url is None:
        raise _fail("--result-key: needs REVIEWOPS_REDIS_URL")
    from reviewops.queue.broker import build_broker

    client = _redis(settings)
    broker = build_broker(settings.redis_url) if settings.redis_url and not dry_run else None

    def progress(result: service.ReplayResult) -> None:
        typer.echo(
            f"replay {result.replay_id}: {result.replayed}/{result.matched} replayed, "
            f"{result.skipped} skipped, {result.failed} failed",
            err=True,
        )

    try:
        with _database(settings) as db:
            result = service.replay(
                db, broker, filters, dry_run=dry_run, rate=per_second, replay_id=replay_id,
                redis_client=client, on_progress=progress,
            )  # fmt: skip
            service.audit(
                db, "cli", "dlq.replay.dry_run" if dry_run else "dlq.replay",
                {"filters": filters.describe(), **result.summary(), "matched": result.matched},
            )  # fmt: skip
        if result_key is not None:
            service.store_result(client, result_key, result)
    finally:
        if broker is not None:
            broker.close()
        if client is not None:
            client.close()
    if dry_run:
        typer.echo(f"dry run: {result.matched} dead letter(s) would be replayed")
        for dead_letter_id in result.dead_letter_ids[:1000]:
            typer.echo(f"  {dead_letter_id}")
        return
    typer.echo(
        f"replay {result.replay_id}: replayed {result.replayed}, skipped {result.skipped}, "
        f"failed {result.failed}"
    )
    if result.failed:
        raise typer.Exit(1)


@app.command("purge")
def purge(
    tenant: TenantOpt = None,
    error_type: ErrorTypeOpt = None,
    older_than: OlderOpt = None,
    queue: QueueOpt = None,
    limit: LimitOpt = None,
    state: Annotated[str, typer.Option("--state", help="pending, replaying, replayed or all.")] = "all",
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (required).")] = False,
) -> None:
    """Delete matching dead letters for good."""
    filters = _filters(tenant, error_type, older_than, queue, limit, state)
    if not yes:
        raise _fail("--yes: purge deletes dead letters for good; pass --yes to confirm")
    from reviewops.dlq import store
    from reviewops.dlq.replay import audit

    settings = settings_or_exit()
    client = _redis(settings)
    try:
        with _database(settings) as db:
            deleted = store.purge(db, filters, client)
            audit(db, "cli", "dlq.purge", {"filters": filters.describe(), "deleted": deleted})
    finally:
        if client is not None:
            client.close()
    typer.echo(f"purged {deleted} dead letter(s)")
