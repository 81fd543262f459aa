"""The GitHub App credentials the manifest flow stored in the embedded `serve`'s data directory.

`reviewops serve` (and `reviewops doctor`) apply them at start when the environment names no App, so a restart
picks up an App created from the manifest page. Files are 0600; the key never goes through the environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from reviewops.settings import Settings, data_dir


def app_file() -> Path:
    return data_dir() / "github-app.json"


def key_file() -> Path:
    return data_dir() / "github-app.pem"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def store(conversion: dict[str, Any]) -> Path:
    """Keep the App's id, slug and webhook secret (JSON) and its key (PEM) from a manifest conversion."""
    _write_private(key_file(), str(conversion["pem"]))
    facts = {
        "id": int(conversion["id"]),
        "slug": conversion.get("slug"),
        "html_url": conversion.get("html_url"),
        "webhook_secret": conversion.get("webhook_secret"),
    }
    _write_private(app_file(), json.dumps(facts, indent=2) + "\n")
    return app_file()


def load() -> dict[str, Any] | None:
    path = app_file()
    if not path.is_file() or not key_file().is_file():
        return None
    facts: dict[str, Any] = json.loads(path.read_text())
    return facts


def apply(settings: Settings) -> bool:
    """Use the stored App when the environment configures none; True when it did."""
    if settings.github_app_configured:
        return False
    facts = load()
    if facts is None:
        return False
    settings.github_app_id = int(facts["id"])
    settings.github_private_key_file = key_file()
    if facts.get("webhook_secret"):
        settings.webhook_secrets = [*settings.webhook_secrets, SecretStr(str(facts["webhook_secret"]))]
    return True
