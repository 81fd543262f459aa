"""`reviewops github-app`: the App manifest (what ReviewOps needs from GitHub), printed for the manifest flow."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reviewops.github import manifest

app = typer.Typer(help="The GitHub App ReviewOps runs as: its manifest (permissions and events).")


@app.command("manifest")
def show_manifest(
    url: Annotated[
        str | None,
        typer.Option(help="Public base URL of this ReviewOps, e.g. https://reviews.example.com."),
    ] = None,
    name: Annotated[str, typer.Option(help="The App's name on GitHub (must be unique there).")] = "ReviewOps",
    table: Annotated[
        bool, typer.Option("--table", help="Print the README's Markdown table of permissions and events.")
    ] = False,
) -> None:
    """Print the GitHub App manifest (JSON) for GitHub's manifest flow, or the permissions table."""
    if table:
        typer.echo(manifest.markdown_table())
        return
    if not url:
        typer.echo("error: --url is needed (the public base URL GitHub sends webhooks to)", err=True)
        raise typer.Exit(2)
    try:
        built = manifest.build_manifest(url, name=name)
    except ValueError as exc:
        typer.echo(f"error: --url: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(built, indent=2))
