"""`reviewops retention purge`: keep the database small (the runbook's "database bloat" fix)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reviewops.cli.common import settings_or_exit
from reviewops.durations import parse_duration

app = typer.Typer(help="Data retention.", no_args_is_help=True)


@app.command("purge")
def purge_command(
    older_than: Annotated[str, typer.Option(help="Age of rows to delete, e.g. 90d.")] = "90d",
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 1000,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write every row before deleting it to DIR as gzipped JSON lines (one file per batch; "
            "deliveries without payload, reviews with their findings). A stopped purge resumes safely.",
        ),
    ] = None,
    audit: Annotated[
        bool,
        typer.Option("--audit", help="Also delete audit_log rows older than --older-than (kept by default)."),
    ] = False,
) -> None:
    """Delete finished deliveries, reviews (with findings) and replayed dead letters older than --older-than."""
    from reviewops.audit import record_now
    from reviewops.db.session import Database
    from reviewops.db.types import utcnow
    from reviewops.retention import purge

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        typer.echo(f"error: --older-than: {exc}", err=True)
        raise typer.Exit(2) from None
    if export is not None:
        try:
            export.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            typer.echo(f"error: --export: cannot use {export} as a directory: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    settings = settings_or_exit()
    db = Database(settings.database_url)
    cutoff = utcnow() - age

    def progress(table: str, done: int, total: int) -> None:
        typer.echo(f"  {table}: {done}/{total} deleted", err=True)

    try:
        result = purge(
            db,
            cutoff,
            batch_size=batch_size,
            dry_run=dry_run,
            progress=progress,
            export_dir=export,
            audit=audit,
        )
        verb = "would delete" if dry_run else "deleted"
        for table, count in result.deleted.items():
            typer.echo(f"{table}: {verb} {count}")
        typer.echo(f"total: {verb} {result.total} rows older than {older_than} (before {cutoff.isoformat()})")
        if not dry_run:
            record_now(
                db,
                "cli",
                "retention.purge",
                None,
                details={"older_than": older_than, "deleted": result.deleted},
            )
    finally:
        db.dispose()
