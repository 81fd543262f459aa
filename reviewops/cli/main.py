"""The `reviewops` command: one typer app, one module per command group."""

from __future__ import annotations

import typer

from reviewops import __version__
from reviewops.cli import (
    deliveries,
    dlq,
    doctor,
    github_app,
    operator,
    retention,
    review,
    run,
    secrets,
    webhooks,
)

app = typer.Typer(
    name="reviewops",
    help="ReviewOps: self-hosted AI code review for GitHub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(run.serve)
app.command("api")(run.api)
app.command("worker")(run.worker)
app.command("migrate")(run.migrate)
app.command("send-test-webhook")(webhooks.send_test_webhook)
app.command("rotate-webhook-secret")(secrets.rotate_webhook_secret)
app.add_typer(retention.app, name="retention")
app.add_typer(dlq.app, name="dlq")
app.add_typer(deliveries.app, name="deliveries")
app.command("review")(review.review)
app.command("operator")(operator.operator)
app.add_typer(github_app.app, name="github-app")
app.command("doctor")(doctor.doctor)


@app.command("version")
def version() -> None:
    """Print the ReviewOps version."""
    typer.echo(__version__)


def main() -> None:
    app()
