"""`send-test-webhook`: sign and send a payload, the way operators check a deployment end to end."""

from __future__ import annotations

import json
import uuid
from importlib.resources import files
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import httpx
import typer

from reviewops.cli.common import dev_secret_path
from reviewops.signatures import sign


def _default_secret() -> str | None:
    import os

    env = os.environ.get("REVIEWOPS_WEBHOOK_SECRETS", "")
    first = next((part.strip() for part in env.split(",") if part.strip()), None)
    if first:
        return first
    path = dev_secret_path()
    return path.read_text().strip() if path.is_file() else None


def send_test_webhook(
    url: Annotated[
        str, typer.Option(help="The webhook URL, e.g. https://reviewops.example.com/webhooks/github")
    ] = ("http://127.0.0.1:8000/webhooks/github"),
    secret: Annotated[
        str | None,
        typer.Option(
            help="Webhook secret (default: first of REVIEWOPS_WEBHOOK_SECRETS, else the dev secret)."
        ),
    ] = None,
    event: Annotated[str, typer.Option(help="X-GitHub-Event header.")] = "ping",
    payload: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="JSON payload file (default: a built-in ping)."),
    ] = None,
    delivery_guid: Annotated[
        str | None, typer.Option(help="X-GitHub-Delivery (default: a new UUID).")
    ] = None,
    form: Annotated[bool, typer.Option(help="Send as application/x-www-form-urlencoded.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 10.0,
) -> None:
    """Sign a payload with the webhook secret, POST it, and print the answer."""
    secret = secret or _default_secret()
    if not secret:
        typer.echo("error: --secret: no secret given and REVIEWOPS_WEBHOOK_SECRETS is not set", err=True)
        raise typer.Exit(2)
    raw = payload.read_bytes() if payload else files("reviewops").joinpath("data/ping.json").read_bytes()
    try:
        json.loads(raw)
    except ValueError as exc:
        typer.echo(f"error: --payload: not valid JSON: {exc}", err=True)
        raise typer.Exit(2) from None
    if form:
        body = urlencode({"payload": raw.decode()}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body, content_type = raw, "application/json"
    guid = delivery_guid or str(uuid.uuid4())
    headers = {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid,
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/reviewops-test",
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"error: could not reach {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"delivery {guid}: HTTP {response.status_code}")
    typer.echo(response.text)
    if response.status_code >= 300:
        raise typer.Exit(1)
