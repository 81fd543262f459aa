"""`reviewops doctor` against real PostgreSQL and Redis, the local GitHub server and a local LLM server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from reviewops.doctor import Result, run_all
from reviewops.settings import Settings
from tests.support.fake_github_app import FakeInstallation
from tests.support.fake_openai import FakeOpenAI, fake_openai_server

PUBLIC = "https://reviews.example.com"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with fake_openai_server() as server:
        yield server


@pytest.fixture
def live(github_settings: Settings, fake_github: Any, llm: FakeOpenAI, worker: Any) -> Settings:
    """A healthy installation: App as the manifest says, installed on one repository, a worker, an LLM."""
    fake_github.app_side.installations.append(FakeInstallation(77, "octo-org", ["octo-org/app"]))
    return github_settings.model_copy(
        update={"public_url": PUBLIC, "llm_base_url": llm.url, "llm_model": "m", "llm_api_key": None}
    )


def by_check(results: list[Result]) -> dict[str, Result]:
    return {r.check: r for r in results}


def test_a_healthy_installation_passes_every_check(live: Settings, llm: FakeOpenAI) -> None:
    results = run_all(live)
    assert [r.line() for r in results if not r.ok] == []
    checks = by_check(results)
    assert {"database", "redis", "workers", "app permissions", "app events", "app webhook", "llm"} <= set(
        checks
    )
    assert "octo-org/app" in checks["installation 77 (octo-org)"].detail
    assert llm.requests[-1].body["response_format"] == {"type": "json_object"}


def test_a_missing_permission_is_named_with_its_fix(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.permissions["checks"] = "read"
    result = by_check(run_all(live))["app permissions"]
    assert not result.ok and "checks: write" in result.detail
    assert "Permissions & events" in result.fix and "accepts the new permissions" in result.fix


def test_a_missing_event_is_named_with_its_fix(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.events.remove("issue_comment")
    result = by_check(run_all(live))["app events"]
    assert not result.ok and "issue_comment" in result.detail
    assert "Subscribe to events: tick issue_comment" in result.fix


def test_a_wrong_webhook_url_is_reported_with_the_right_one(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.hook_url = "https://old.example.com/hook"
    result = by_check(run_all(live))["app webhook"]
    assert not result.ok and "https://old.example.com/hook" in result.detail
    assert f"set Webhook URL to {PUBLIC}/webhooks/github" in result.fix


def test_a_form_content_type_is_reported(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.content_type = "form"
    result = by_check(run_all(live))["app webhook"]
    assert not result.ok and "'form'" in result.detail and "json" in result.fix


def test_a_missing_webhook_secret_is_reported(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.secret_set = False
    result = by_check(run_all(live))["app webhook"]
    assert (
        not result.ok and "no webhook secret" in result.detail and "REVIEWOPS_WEBHOOK_SECRETS" in result.fix
    )


def test_an_app_installed_nowhere_says_where_to_install_it(live: Settings, fake_github: Any) -> None:
    fake_github.app_side.installations.clear()
    result = by_check(run_all(live))["installations"]
    assert not result.ok and result.fix.endswith("/apps/reviewops-test/installations/new")


def test_an_unreachable_llm_is_reported_with_its_fix(live: Settings) -> None:
    broken = live.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_timeout_seconds": 2})
    result = by_check(run_all(broken))["llm"]
    assert not result.ok and "unreachable" in result.detail and "REVIEWOPS_LLM_BASE_URL" in result.fix


def test_an_llm_without_json_mode_is_reported(live: Settings, llm: FakeOpenAI) -> None:
    llm.json_mode = False
    result = by_check(run_all(live))["llm"]
    assert not result.ok and "json_object" in result.fix


def test_no_worker_is_reported(github_settings: Settings, redis_client: Any) -> None:
    result = by_check(run_all(github_settings))["workers"]
    assert not result.ok and "reviewops worker" in result.fix


def test_the_command_prints_json_and_exits_1_on_a_failure(
    live: Settings, fake_github: Any, monkeypatch: pytest.MonkeyPatch, github_app_key: tuple[str, str]
) -> None:
    from reviewops.cli.main import app
    from reviewops.telemetry.logging import configure_logging

    configure_logging("INFO")  # as a process that logged to stdout before: the report must stay parseable
    fake_github.app_side.content_type = "form"
    env = {
        "REVIEWOPS_DATABASE_URL": live.database_url, "REVIEWOPS_REDIS_URL": live.redis_url or "",
        "REVIEWOPS_WEBHOOK_SECRETS": "s", "REVIEWOPS_GITHUB_APP_ID": str(fake_github.app_id),
        "REVIEWOPS_GITHUB_PRIVATE_KEY": github_app_key[0], "REVIEWOPS_GITHUB_API_URL": fake_github.url,
        "REVIEWOPS_PUBLIC_URL": PUBLIC, "REVIEWOPS_LLM_BASE_URL": live.llm_base_url or "", "REVIEWOPS_LLM_MODEL": "m",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["doctor", "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["app webhook"] and failed[0]["fix"]
    text = CliRunner().invoke(app, ["doctor"])
    assert text.exit_code == 1 and "FAIL  app webhook" in text.stdout and "ok    database" in text.stdout


def test_a_database_behind_the_code_says_migrate(tmp_path: Any) -> None:
    from reviewops.doctor import checks

    empty = tmp_path / "empty.db"
    empty.touch()
    result = checks.database(Settings(database_url=f"sqlite:///{empty}"))
    assert not result.ok and "schema at nothing" in result.detail and "reviewops migrate" in result.fix
    missing = checks.database(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}"))
    assert not missing.ok and "no SQLite database" in missing.detail and not (tmp_path / "none.db").exists()


def test_an_unreachable_redis_is_reported(settings: Settings) -> None:
    from reviewops.doctor import checks

    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    result = checks.redis_reachable(down)
    assert not result.ok and "unreachable" in result.detail and "REVIEWOPS_REDIS_URL" in result.fix
    assert not checks.workers(down).ok
