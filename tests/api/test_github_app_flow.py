"""The GitHub App manifest flow through the API, against the local GitHub server (HTTP level; the browser test
clicks through the same pages in Chromium)."""

from __future__ import annotations

import base64
import html
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from reviewops.github import manifest, stored_app
from reviewops.github.client import GitHubApp
from reviewops.settings import Settings


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return tmp_path / "reviewops"


def flow_settings(settings: Settings, fake_github: Any, *, embedded: bool) -> Settings:
    return settings.model_copy(
        update={
            "github_api_url": fake_github.url, "github_web_url": fake_github.url,
            "public_url": "https://reviews.example.com", "redis_url": None if embedded else settings.redis_url,
        }
    )  # fmt: skip


@pytest.fixture
def page_client(
    settings: Settings, fake_github: Any, db: Any, broker: Any, data_home: Path
) -> Iterator[TestClient]:
    app = create_app(flow_settings(settings, fake_github, embedded=False), db=db, broker=broker)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def submit_to_github(client: TestClient, page: httpx.Response) -> httpx.Response:
    """What the browser does: post the page's form to GitHub, confirm, follow the redirect back."""
    action = html.unescape(
        re.search(r'id="manifest-form" method="post" action="([^"]+)"', page.text).group(1)
    )
    value = html.unescape(re.search(r'name="manifest" value="([^"]+)"', page.text).group(1))
    confirm = httpx.post(action, data={"manifest": value})
    assert confirm.status_code == 200, confirm.text
    token = re.search(r'name="pending" value="([^"]+)"', confirm.text).group(1)
    back = httpx.post(str(httpx.URL(action).join("/settings/apps/confirm")), data={"pending": token})
    assert back.status_code == 302
    location = httpx.URL(back.headers["location"])
    assert str(location).startswith("https://reviews.example.com/github-app/callback?")
    return client.get("/github-app/callback", params=dict(location.params))


def test_the_page_posts_the_manifest_with_a_state_bound_to_a_cookie(
    page_client: TestClient, fake_github: Any
) -> None:
    page = page_client.get("/github-app")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f"form-action 'self' {fake_github.url}" in page.headers["content-security-policy"]
    action = html.unescape(re.search(r'action="([^"]+/settings/apps/new[^"]*)"', page.text).group(1))
    state = httpx.URL(action).params["state"]
    assert page.cookies["reviewops_github_app_state"] == state and len(state) >= 32
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/github-app" in cookie
    sent = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page.text).group(1)))
    assert sent == manifest.build_manifest("https://reviews.example.com")


def test_an_organisation_gets_githubs_organisation_form(page_client: TestClient, fake_github: Any) -> None:
    page = page_client.get("/github-app", params={"org": "octo-org"})
    assert f"{fake_github.url}/organizations/octo-org/settings/apps/new?state=" in page.text
    assert page_client.get("/github-app", params={"org": "../evil"}).status_code == 422


def test_a_callback_without_the_matching_state_is_refused(page_client: TestClient, fake_github: Any) -> None:
    page_client.get("/github-app")
    answer = page_client.get("/github-app/callback", params={"code": "abc", "state": "forged"})
    assert answer.status_code == 400 and "not from your manifest flow" in answer.text
    page_client.cookies.clear()
    assert page_client.get("/github-app/callback", params={"code": "abc", "state": "x"}).status_code == 400
    assert not fake_github.calls_to("/app-manifests/{code}/conversions")


def test_a_cluster_shows_the_credentials_once_with_the_commands(
    page_client: TestClient, fake_github: Any
) -> None:
    done = submit_to_github(page_client, page_client.get("/github-app"))
    assert done.status_code == 200, done.text
    created = fake_github.app_side.created[-1]
    text = html.unescape(done.text)
    assert f"--set config.githubAppId={created['id']}" in text
    assert created["pem"].strip() in text and f"webhookSecrets[0]={created['webhook_secret']}" in text
    assert "kubectl create secret generic" in text and "--set secrets.existingSecret=" in text
    assert done.headers["cache-control"] == "no-store"
    assert not stored_app.app_file().exists()  # nothing kept server-side in a cluster
    again = page_client.get("/github-app/callback", params={"code": "x", "state": "y"})
    assert again.status_code == 400  # the state cookie was spent


def test_the_embedded_serve_stores_credentials_that_work(
    settings: Settings, fake_github: Any, db: Any, broker: Any, data_home: Path
) -> None:
    embedded = flow_settings(settings, fake_github, embedded=True)
    embedded.github_app_id = None
    embedded.webhook_secrets = []
    with TestClient(create_app(embedded, db=db, broker=broker), base_url="https://testserver") as client:
        done = submit_to_github(client, client.get("/github-app"))
        assert done.status_code == 200 and "Restart <code>reviewops serve</code>" in done.text
        created = fake_github.app_side.created[-1]
        assert created["pem"] not in done.text and created["webhook_secret"] not in done.text
        for path in (stored_app.app_file(), stored_app.key_file()):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # Once an App exists the page wants the admin token (Basic auth's password, for a browser).
        locked = client.get("/github-app")
        assert locked.status_code == 401 and locked.headers["www-authenticate"].startswith("Basic")
        basic = base64.b64encode(b"admin:admin-token").decode()
        assert client.get("/github-app", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    restarted = flow_settings(settings, fake_github, embedded=True)
    restarted.webhook_secrets = []
    assert stored_app.apply(restarted)  # what `reviewops serve` does at start
    assert restarted.github_app_id == created["id"]
    assert [s.get_secret_value() for s in restarted.webhook_secrets] == [created["webhook_secret"]]
    gh = GitHubApp.from_settings(restarted)
    try:  # the stored key signs JWTs the new App's public key verifies
        assert gh.get_app()["id"] == created["id"]
    finally:
        gh.close()
