"""`reviewops doctor`: one line per check of a running installation (ok, or what is wrong and the fix)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from reviewops.settings import ConfigurationError, load_settings


def doctor(
    output: Annotated[
        Literal["text", "json"], typer.Option("--format", help="text (one line per check) or json.")
    ] = "text",
) -> None:
    """Check configuration, database, Redis, workers, the GitHub App and the LLM; exit 1 on any failure."""
    from reviewops.doctor import Result, run_all
    from reviewops.github import stored_app

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
