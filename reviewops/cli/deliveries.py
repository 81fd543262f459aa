"""`reviewops deliveries recover|show`: redeliver what never reached us; what happened to one delivery."""

from __future__ import annotations

from typing import Annotated

import typer

from reviewops import durations
from reviewops.cli.common import settings_or_exit
from reviewops.db.session import Database

app = typer.Typer(help="GitHub webhook deliveries: recover missed ones, show one.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command("recover")
def recover(
    since: Annotated[
        str, typer.Option("--since", help="How far back to look: 90m, 12h, 3d (GitHub keeps ~3 days).")
    ] = "72h",
    max_redeliveries: Annotated[
        int | None,
        typer.Option(
            "--max", help="At most this many redeliveries in this run (default 100; 10000 after a restore)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be redelivered.")] = False,
    after_restore: Annotated[
        bool,
        typer.Option(
            "--after-restore",
            help="After restoring the database from a backup: redeliver every delivery of the window the "
            "database does not hold, delivered or not (set --since to the backup's age plus a margin).",
        ),
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", help="Redelivery requests per minute (GitHub's secondary limit is 80).")
    ] = 60.0,
) -> None:
    """Redeliver GitHub deliveries ReviewOps never stored: those whose every attempt failed, or with
    --after-restore all of the window's that the restored database lacks."""
    try:
        window = durations.parse_duration(since)
    except ValueError as exc:
        raise _fail(f"--since: {exc}") from None
    if window.total_seconds() <= 0:
        raise _fail("--since: must be a positive duration")
    if max_redeliveries is None:
        max_redeliveries = 10_000 if after_restore else 100
    if max_redeliveries < 1:
        raise _fail(f"--max: must be at least 1, not {max_redeliveries}")
    if not 0 < rate <= 80:
        raise _fail(f"--rate: must be above 0 and at most 80 per minute, not {rate}")
    settings = settings_or_exit()
    if not settings.github_app_configured:
        raise _fail(
            "the GitHub App is not configured: set REVIEWOPS_GITHUB_APP_ID and REVIEWOPS_GITHUB_PRIVATE_KEY "
            "(or REVIEWOPS_GITHUB_PRIVATE_KEY_FILE)"
        )
    from reviewops.deliveries.redelivery import run_recovery
    from reviewops.github.client import GitHubApp

    app_client = GitHubApp.from_settings(settings)
    db = Database(settings.database_url)
    try:
        typer.echo(f"looking for missed deliveries of the last {since}{' (dry run)' if dry_run else ''}")
        result = run_recovery(
            db, app_client, since=window, max_redeliveries=max_redeliveries, dry_run=dry_run,
            progress=typer.echo, after_restore=after_restore, per_minute=rate,
        )  # fmt: skip
    finally:
        db.dispose()
        app_client.close()
    if dry_run:
        for guid in result.redelivered:
            typer.echo(f"would redeliver {guid}")
    for error in result.errors:
        typer.echo(f"failed: {error}", err=True)
    verb = "would redeliver" if dry_run else "redelivered"
    typer.echo(
        f"{result.examined} attempt(s) examined, {result.failed_guids} failed delivery(ies), "
        f"{result.already_stored} already stored, {verb} {len(result.redelivered)}, "
        f"{len(result.errors)} error(s)"
    )
    if result.errors:
        raise typer.Exit(1)


@app.command("show")
def show(guid: Annotated[str, typer.Argument(help="The delivery's GUID (X-GitHub-Delivery).")]) -> None:
    """What happened to a delivery, read from the database (no admin token needed on this machine)."""
    from sqlalchemy import select

    from reviewops.db.models import WebhookDelivery

    settings = settings_or_exit()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            rows = (
                session.execute(select(WebhookDelivery).where(WebhookDelivery.delivery_guid == guid))
                .scalars()
                .all()
            )
            if not rows:
                raise _fail(f"no delivery {guid!r} in {settings.database_url.split('@')[-1]}")
            for row in rows:
                event = row.event + (f".{row.action}" if row.action else "")
                typer.echo(f"delivery {row.delivery_guid} ({event}): {row.status}, {row.attempts} attempt(s)")
                if row.status_reason:
                    typer.echo(f"  reason: {row.status_reason}")
                if row.error:
                    typer.echo(f"  error:  {row.error}")
    finally:
        db.dispose()
