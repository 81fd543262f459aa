"""`serve`, `api`, `worker`, `migrate`: the long-running processes and the schema upgrade."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import SecretStr

from reviewops.cli.common import dev_secret_path, ensure_dev_secret, settings_or_exit
from reviewops.telemetry.logging import uvicorn_log_config


def migrate() -> None:
    """Upgrade the database schema to the newest version (alembic upgrade head)."""
    from reviewops.db.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)
    typer.echo("database schema is up to date")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default REVIEWOPS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default REVIEWOPS_PORT).")] = None,
) -> None:
    """Run API and worker in one process; SQLite + in-process broker unless URLs are set."""
    import uvicorn

    from api.main import create_app
    from api.server import server_options
    from reviewops.db.migrate import upgrade
    from reviewops.db.session import Database
    from reviewops.deliveries import outbox
    from reviewops.queue.broker import build_broker
    from worker.main import start_worker

    settings = settings_or_exit()
    if not settings.webhook_secrets:
        settings.webhook_secrets = [SecretStr(ensure_dev_secret())]
        typer.echo(f"no REVIEWOPS_WEBHOOK_SECRETS set: using the development secret in {dev_secret_path()}")
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    broker = build_broker(settings.redis_url)
    requeued = outbox.requeue_in_flight(db, broker)  # an in-process queue died with the last run
    if requeued:
        typer.echo(f"re-enqueued {requeued} deliveries left in flight by the previous run")
    worker = start_worker(broker, settings, db)
    app = create_app(settings, db=db, broker=broker)
    bind_host, bind_port = host or settings.host, port or settings.port
    mode = "embedded (SQLite, in-process broker)" if settings.embedded else "PostgreSQL/Redis"
    typer.echo(f"ReviewOps serving on http://{bind_host}:{bind_port} [{mode}]")
    typer.echo(f"  webhook URL: http://{bind_host}:{bind_port}/webhooks/github")
    typer.echo(
        f"  try it:      reviewops send-test-webhook --url http://{bind_host}:{bind_port}/webhooks/github"
    )
    try:
        uvicorn.run(
            app,
            host=bind_host,
            port=bind_port,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(),
            **server_options(settings),
        )
    finally:
        worker.stop(timeout=int(settings.worker_shutdown_timeout_seconds * 1000))
        broker.close()
        db.dispose()


def api(
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the HTTP API only (production: workers run separately with `reviewops worker`)."""
    import uvicorn

    from api.server import server_options

    settings = settings_or_exit()
    if settings.redis_url is None:
        typer.echo(
            "error: REVIEWOPS_REDIS_URL: required by `reviewops api` (use `reviewops serve` to try it out)",
            err=True,
        )
        raise typer.Exit(2)
    from reviewops.telemetry.exposition import prepare_multiprocess_dir

    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        typer.echo(
            "warning: several workers without PROMETHEUS_MULTIPROC_DIR: /metrics shows one process", err=True
        )
    prepare_multiprocess_dir()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(),
        **server_options(settings),
    )


def worker() -> None:
    """Run a worker process: consumes the review queues and serves /metrics on its own port."""
    from worker.main import run

    settings = settings_or_exit()
    if settings.redis_url is None:
        typer.echo("error: REVIEWOPS_REDIS_URL: required by `reviewops worker`", err=True)
        raise typer.Exit(2)
    run(settings)
