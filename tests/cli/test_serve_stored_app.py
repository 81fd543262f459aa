"""A GitHub App stored by the manifest flow is picked up by `reviewops serve` and `reviewops doctor` on start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewops.github import stored_app
from tests.support.servers import free_port, wait_for_port

CLI = [sys.executable, "-m", "reviewops"]
HOOK_SECRET = "stored-webhook-secret"


@pytest.fixture
def stored(
    tmp_path: Path, fake_github: Any, github_app_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The data directory as the manifest flow's callback leaves it, and an environment naming no App."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWOPS_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), REVIEWOPS_ADMIN_TOKEN="tok",
               REVIEWOPS_GITHUB_API_URL=fake_github.url)  # fmt: skip
    conversion = {"id": fake_github.app_id, "slug": "reviewops-test", "html_url": f"{fake_github.url}/apps/x",
                  "webhook_secret": HOOK_SECRET, "pem": github_app_key[0]}  # fmt: skip
    monkeypatch.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
    stored_app.store(conversion)
    return env


@pytest.fixture
def serving(stored: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=stored, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def send(base: str, env: dict[str, str], secret: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "send-test-webhook", "--url", f"{base}/webhooks/github", "--secret", secret],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_serve_uses_the_stored_app_and_its_webhook_secret(
    serving: tuple[str, subprocess.Popen[bytes]], stored: dict[str, str], fake_github: Any
) -> None:
    base, _proc = serving
    assert "HTTP 202" in send(base, stored, HOOK_SECRET).stdout
    assert "HTTP 401" in send(base, stored, "some-other-secret").stdout
    page = httpx.get(f"{base}/github-app")
    assert page.status_code == 401, "an App exists: the manifest page wants the admin token"
    assert httpx.get(f"{base}/github-app", auth=("admin", "tok")).status_code == 200


def test_doctor_checks_the_stored_app(stored: dict[str, str], fake_github: Any) -> None:
    subprocess.run([*CLI, "migrate"], env=stored, check=True, capture_output=True, timeout=60)
    result = subprocess.run([*CLI, "doctor"], env=stored, capture_output=True, text=True, timeout=60)
    assert f"ok    github app: reviewops-test (id {fake_github.app_id})" in result.stdout, result.stdout
    assert "FAIL  installations: the App is installed nowhere" in result.stdout
    assert result.returncode == 1
