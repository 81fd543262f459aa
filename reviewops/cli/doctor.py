"""`reviewops doctor`: one line per check of a running installation (ok, or what is wrong and the fix)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Literal

import typer

from reviewops.settings import ConfigurationError, load_settings
from reviewops.telemetry.logging import configure_logging


def doctor(
    output: Annotated[
        Literal["text", "json"], typer.Option("--format", help="text (one line per check) or json.")
    ] = "text",
) -> None:
    """Check configuration, database, Redis, workers, the GitHub App and the LLM; exit 1 on any failure."""
    from reviewops.doctor import Result, run_all
    from reviewops.github import stored_app

    # stdout carries the report only (`--format json` is for machines); library warnings go to stderr.
    configure_logging("WARNING", stream=sys.stderr)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        results = [Result("configuration", False, str(exc).replace("\n  ", "; "), "fix the named variables")]
    else:
        if settings.embedded:
            stored_app.apply(settings)  # the App the manifest page stored for `reviewops serve`
        results = run_all(settings)
    if output == "json":
        typer.echo(json.dumps({"ok": all(r.ok for r in results), "checks": [r.as_dict() for r in results]}))
    else:
        for result in results:
            typer.echo(result.line())
    if not all(r.ok for r in results):
        raise typer.Exit(1)
