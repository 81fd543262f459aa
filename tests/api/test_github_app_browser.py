"""The manifest flow clicked through in headless Chromium (Debian's package, driven by Playwright without its
own browser download) against the live API and the local GitHub server's form and REST API."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.main import create_app
from reviewops.github import stored_app
from reviewops.settings import Settings
from tests.support.servers import free_port
from tests.support.waiting import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (Debian: apt-get install chromium; ./scripts/test installs it)",
)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def live_api(settings: Settings, db: Any, broker: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, db=db, broker=broker), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return tmp_path


def test_an_organisation_app_is_created_and_its_commands_shown(
    browser: Any, settings: Settings, fake_github: Any, db: Any, broker: Any, data_home: Path
) -> None:
    cluster = settings.model_copy(
        update={"github_api_url": fake_github.url, "github_web_url": fake_github.url}
    )
    for url in live_api(cluster, db, broker):
        page = browser.new_page()
        page.goto(f"{url}/github-app")
        page.fill("#org", "octo-org")
        page.click("#choose-org")
        assert "octo-org" in page.inner_text("#create")
        page.click("#create")  # posts the manifest to "github.com"
        assert "the organization octo-org" in page.inner_text("#owner")
        page.click("#create")  # GitHub's "Create GitHub App"; GitHub redirects to the callback
        page.wait_for_selector("#app-id")
        created = fake_github.app_side.created[-1]
        assert page.url.startswith(f"{url}/github-app/callback?")
        assert page.inner_text("#app-id") == str(created["id"])
        commands = page.inner_text("#commands-managed")
        assert f"--set config.githubAppId={created['id']}" in commands and "BEGIN" in commands
        assert fake_github.app_side.hook_url == f"{url}/webhooks/github"
        assert not stored_app.app_file().exists()


def test_a_personal_app_is_stored_for_the_embedded_serve(
    browser: Any, settings: Settings, fake_github: Any, db: Any, broker: Any, data_home: Path
) -> None:
    embedded = settings.model_copy(
        update={"github_api_url": fake_github.url, "github_web_url": fake_github.url, "redis_url": None}
    )
    for url in live_api(embedded, db, broker):
        page = browser.new_page()
        page.goto(f"{url}/github-app")
        page.click("#create")
        assert "your personal account" in page.inner_text("#owner")
        page.click("#create")
        page.wait_for_selector("#result")
        created = fake_github.app_side.created[-1]
        assert page.inner_text("#app-id") == str(created["id"])
        assert stored_app.load() == {
            "id": created["id"], "slug": created["slug"], "html_url": created["html_url"],
            "webhook_secret": created["webhook_secret"],
        }  # fmt: skip
        install = page.get_attribute("#install", "href")
        assert install == f"{created['html_url']}/installations/new"
        # Reloading the callback does not work twice: the state cookie was spent.
        page.reload()
        assert "not from your manifest flow" in page.content()
