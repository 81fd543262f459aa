"""Signed webhook requests built from the octokit fixtures."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from reviewops.signatures import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WEBHOOKS = FIXTURES / "github-webhooks"
SECRET = "test-secret-one"


def load_payload(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOKS / relative).read_text())
    return data


def signed_request(
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    guid: str | None = None,
    content_type: str = "application/json",
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
    }
    return body, headers
