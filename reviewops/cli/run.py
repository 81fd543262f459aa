"""`serve`, `api`, `worker`, `migrate`: the long-running processes and the schema upgrade."""

from __future__ import annotations

import errno
import os
import socket
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


def _bound_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts: an invalid host or a port in use stops
    `serve` here, before it announces, migrates or starts a worker on someone else's database."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        typer.echo(f"error: --host: cannot resolve {host!r}: {exc}", err=True)
        raise typer.Exit(2) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = "the port is in use by another process" if exc.errno == errno.EADDRINUSE else exc.strerror
        typer.echo(f"error: cannot listen on {host}:{port}: {reason}; nothing was started", err=True)
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default REVIEWOPS_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port, 1-65535 (default REVIEWOPS_PORT).")
    ] = None,
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
    bind_host, bind_port = host or settings.host, port or settings.port
    sock = _bound_socket(bind_host, bind_port)
    from reviewops.github import stored_app

    if stored_app.apply(settings):  # made with the manifest page (/github-app) on an earlier run
        typer.echo(f"using the GitHub App {settings.github_app_id} stored in {stored_app.app_file()}")
    if not settings.webhook_secrets and settings.webhook_secrets_file is None:
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
    mode = "embedded (SQLite, in-process broker)" if settings.embedded else "PostgreSQL/Redis"
    typer.echo(f"ReviewOps serving on http://{bind_host}:{bind_port} [{mode}]")
    typer.echo(f"  webhook URL: http://{bind_host}:{bind_port}/webhooks/github")
    if not settings.github_app_configured:
        typer.echo(f"  GitHub App:  none yet; create it at http://{bind_host}:{bind_port}/github-app")
    typer.echo(
        f"  try it:      reviewops send-test-webhook --url http://{bind_host}:{bind_port}/webhooks/github"
    )
    typer.echo(
        "  then:        reviewops deliveries show GUID   (what happened to it; each outcome is also logged)"
    )
    if not settings.github_app_configured:
        typer.echo("  note:        no GitHub App configured: pull requests are stored but not reviewed")
    config = uvicorn.Config(
        app, log_level=settings.log_level.lower(), log_config=uvicorn_log_config(), **server_options(settings)
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
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
