"""The `reviewops` command: one typer app, one module per command group."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperOption

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

_display_type_rich = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx: Any) -> str | None:
    """Flags take no value, yet typer 0.29's help shows `<bool>` after them (`--dry-run <bool>`, even
    `--help <bool>`), which reads as if a value were expected. Shown with no type, as click does."""
    if self.is_flag:
        return None
    return _display_type_rich(self, ctx)


TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]

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
