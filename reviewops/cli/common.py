"""Helpers every command uses: settings loaded once with readable errors, and the dev webhook secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from reviewops.settings import ConfigurationError, Settings, data_dir, load_settings
from reviewops.telemetry.logging import configure_logging


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    return settings


def dev_secret_path() -> Path:
    return data_dir() / "webhook-secret"


def ensure_dev_secret() -> str:
    """The embedded default's webhook secret: made once, kept in the data dir (mode 0600)."""
    path = dev_secret_path()
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value
