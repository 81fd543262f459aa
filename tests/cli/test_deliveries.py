"""`reviewops deliveries recover` end to end: real PostgreSQL, the fake GitHub (OpenAPI-validated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from reviewops.cli.main import app
from reviewops.db.models import AuditLog, WebhookDelivery
from reviewops.db.session import Database
from reviewops.settings import Settings

runner = CliRunner()


def iso(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database, fake_github: Any,
    github_app_key: tuple[str, str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REVIEWOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REVIEWOPS_REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("REVIEWOPS_GITHUB_APP_ID", str(fake_github.app_id))
    monkeypatch.setenv("REVIEWOPS_GITHUB_PRIVATE_KEY", github_app_key[0])
    monkeypatch.setenv("REVIEWOPS_GITHUB_API_URL", fake_github.url)


def seed(fake: Any, db: Database) -> dict[str, dict[str, Any]]:
    """Oldest first (the fake lists newest first, like GitHub)."""
    out = {
        "too_old": fake.add_delivery(status_code=502, status="Bad Gateway", event="pull_request",
                                     delivered_at=iso(timedelta(hours=80))),
        "missed": fake.add_delivery(status_code=502, status="Bad Gateway", event="pull_request",
                                    action="opened", delivered_at=iso(timedelta(hours=5))),
        "stored": fake.add_delivery(status_code=500, status="Internal Server Error", event="issue_comment",
                                    delivered_at=iso(timedelta(hours=4))),
        "retried_fail": fake.add_delivery(status_code=500, event="push", delivered_at=iso(timedelta(hours=3))),
        "fine": fake.add_delivery(status_code=202, status="Accepted", event="ping",
                                  delivered_at=iso(timedelta(hours=2))),
    }  # fmt: skip
    # The same guid failed, then a redelivery got through: nothing to do.
    out["retried_ok"] = fake.add_delivery(
        guid=out["retried_fail"]["guid"], status_code=202, redelivery=True, event="push",
        delivered_at=iso(timedelta(hours=1)),
    )  # fmt: skip
    with db.session() as s:
        s.add(WebhookDelivery(delivery_guid=out["stored"]["guid"], event="issue_comment", payload={}))
    return out


def test_recover_redelivers_only_missed_deliveries(env: None, db: Database, fake_github: Any) -> None:
    seeded = seed(fake_github, db)
    result = runner.invoke(app, ["deliveries", "recover", "--since", "72h"])
    assert result.exit_code == 0, result.output
    assert fake_github.redelivered == [seeded["missed"]["id"]]
    assert f"redelivery requested for {seeded['missed']['guid']}" in result.stdout
    assert "3 failed delivery(ies), 1 already stored, redelivered 1, 0 error(s)" in result.stdout
    with db.session() as s:
        (entry,) = s.execute(select(AuditLog)).scalars()
        assert entry.action == "deliveries.recover" and seeded["missed"]["guid"] in str(entry.details)
    # A wider window reaches the old one too.
    fake_github.redelivered.clear()
    wide = runner.invoke(app, ["deliveries", "recover", "--since", "4d", "--max", "1"])
    assert wide.exit_code == 0, wide.output
    assert fake_github.redelivered == [seeded["too_old"]["id"]]  # oldest first, capped by --max


def test_dry_run_requests_nothing(env: None, db: Database, fake_github: Any) -> None:
    seeded = seed(fake_github, db)
    result = runner.invoke(app, ["deliveries", "recover", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"would redeliver {seeded['missed']['guid']}" in result.stdout
    assert "would redeliver 1" in result.stdout
    assert (
        fake_github.redelivered == []
        and fake_github.calls_to("/app/hook/deliveries/{delivery_id}/attempts") == []
    )
    with db.session() as s:
        assert s.execute(select(AuditLog)).scalars().all() == []


def test_a_failed_redelivery_is_reported_and_exits_1(env: None, db: Database, fake_github: Any) -> None:
    seeded = seed(fake_github, db)
    fake_github.fail_next(422, template="/app/hook/deliveries/{delivery_id}/attempts")
    result = runner.invoke(app, ["deliveries", "recover"])
    assert result.exit_code == 1, result.output
    assert seeded["missed"]["guid"] in result.stderr and "1 error(s)" in result.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--since", "soon"], "--since"), (["--since", "0h"], "--since"), (["--max", "0"], "--max")],
)
def test_bad_input_names_the_option(env: None, args: list[str], option: str) -> None:
    result = runner.invoke(app, ["deliveries", "recover", *args])
    assert result.exit_code == 2 and option in result.stderr


def test_without_the_github_app_it_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database
) -> None:
    monkeypatch.setenv("REVIEWOPS_DATABASE_URL", settings.database_url)
    for name in (
        "REVIEWOPS_GITHUB_APP_ID",
        "REVIEWOPS_GITHUB_PRIVATE_KEY",
        "REVIEWOPS_GITHUB_PRIVATE_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["deliveries", "recover"])
    assert result.exit_code == 2
    assert "REVIEWOPS_GITHUB_APP_ID" in result.stderr and "REVIEWOPS_GITHUB_PRIVATE_KEY" in result.stderr
