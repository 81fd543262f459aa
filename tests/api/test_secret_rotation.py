"""Rotation through mounted files on a running API (real uvicorn, real HTTP): the kubelet swaps the
Secret's files and the old webhook secret and admin token stop working, the new ones work, no restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.support.http_server import serve
from tests.support.mounted_secret import MountedSecret
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request

pytestmark = pytest.mark.timeout(60)


def test_webhook_secret_and_admin_token_rotate_through_the_mounted_files(
    settings: Any, db: Any, broker: Any, tmp_path: Path
) -> None:
    mount = MountedSecret(tmp_path / "secret", {"webhook-secrets": "old-hook", "admin-token": "old-admin"})
    file_settings = settings.model_copy(
        update={
            "webhook_secrets": [], "webhook_secrets_file": mount.path("webhook-secrets"),
            "admin_token": None, "admin_token_file": mount.path("admin-token"),
        }
    )  # fmt: skip
    app = create_app(file_settings, db=db, broker=broker)
    ping = load_payload("ping/payload.json")

    def webhook(http: httpx.Client, secret: str) -> int:
        body, headers = signed_request("ping", ping, secret=secret)
        return http.post("/webhooks/github", content=body, headers=headers).status_code

    def admin(http: httpx.Client, token: str) -> int:
        return http.get("/api/v1/admin/tenants", headers={"Authorization": f"Bearer {token}"}).status_code

    with serve(app) as url, httpx.Client(base_url=url, timeout=15) as http:
        assert webhook(http, "old-hook") == 202 and webhook(http, "new-hook") == 401
        assert admin(http, "old-admin") == 200 and admin(http, "new-admin") == 401

        # Step 1 of a webhook-secret rotation: both secrets; and a new admin token (the old one is revoked).
        mount.update({"webhook-secrets": "new-hook\nold-hook", "admin-token": "new-admin"})
        wait_until(lambda: admin(http, "new-admin") == 200, what="the new admin token in force")
        assert admin(http, "old-admin") == 401
        assert webhook(http, "new-hook") == 202 and webhook(http, "old-hook") == 202

        mount.update({"webhook-secrets": "new-hook", "admin-token": "new-admin"})
        wait_until(lambda: webhook(http, "old-hook") == 401, what="the old webhook secret retired")
        assert webhook(http, "new-hook") == 202
