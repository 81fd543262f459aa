"""`rotate-webhook-secret`: a new secret and the exact steps to roll it out without dropping deliveries."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from reviewops.cli.common import dev_secret_path, settings_or_exit

STEPS = """New webhook secret (shown once; store it in your secret manager now):

  {secret}

Rotate without dropping a delivery:
  1. Put the new secret FIRST and keep the old one(s):
       REVIEWOPS_WEBHOOK_SECRETS={secret},<old secret>
     Helm: set secrets.webhookSecrets (or your existingSecret's key) to "{secret},<old secret>",
     then `helm upgrade` and wait for the API pods to roll. With the secret mounted as a file
     (REVIEWOPS_WEBHOOK_SECRETS_FILE; Helm: secrets.mountAsFiles=true) update the Secret instead:
     the API reads the new value within a second of the kubelet updating the file, no restart.
  2. In GitHub: your App's settings -> General -> Webhook secret: paste the new secret, Save changes.
  3. Check: reviewops send-test-webhook --url https://<your-host>/webhooks/github --secret {secret}
     (expect HTTP 202), and watch reviewops_webhook_signature_failures_total stay flat.
  4. Remove the old secret: REVIEWOPS_WEBHOOK_SECRETS={secret}, `helm upgrade` again.
Currently configured secrets: {count}."""


def _configured(count: int) -> str:
    """The secrets the receiving process verifies with: `serve` falls back to the development secret
    file when none is configured (this said 0 while `serve` used one)."""
    if count == 0 and dev_secret_path().is_file():
        return f"1 (the development secret in {dev_secret_path()}, used by `reviewops serve`)"
    return str(count)


def rotate_webhook_secret(
    audit: Annotated[
        bool, typer.Option(help="Record the rotation in the audit log (needs the database).")
    ] = True,
    nbytes: Annotated[int, typer.Option("--bytes", min=16, max=128, help="Random bytes in the secret.")] = 32,
) -> None:
    """Print a new random webhook secret and the exact steps to rotate to it."""
    settings = settings_or_exit()
    value = secrets.token_hex(nbytes)
    typer.echo(STEPS.format(secret=value, count=_configured(len(settings.webhook_secret_values()))))
    if audit:
        from sqlalchemy.exc import SQLAlchemyError

        from reviewops.audit import record_now
        from reviewops.db.session import Database

        db = Database(settings.database_url)
        try:
            record_now(
                db,
                "cli",
                "webhook_secret.rotation_started",
                None,
                details={"configured": len(settings.webhook_secret_values())},
            )
        except SQLAlchemyError as exc:
            typer.echo(
                f"warning: rotation not audited (database unavailable: {type(exc).__name__})", err=True
            )
        finally:
            db.dispose()
