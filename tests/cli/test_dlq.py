"""`reviewops dlq ...` against real PostgreSQL and Redis: output, exit codes, messages naming options."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select
from typer.testing import CliRunner

from reviewops.cli.main import app
from reviewops.db.models import AuditLog, DeadLetter
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.settings import Settings
from tests.support.faults import bulk_dead_letters

runner = CliRunner()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, db: Database, redis_client: redis.Redis) -> None:
    monkeypatch.setenv("REVIEWOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REVIEWOPS_REDIS_URL", settings.redis_url or "")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["list", "--older-than", "10x"], "--older-than"),
        (["list", "--error-type", "fatal"], "--error-type"),
        (["list", "--limit", "0"], "--limit"),
        (["list", "--format", "xml"], "--format"),
        (["list", "--state", "lost"], "--state"),
        (["replay", "--rate", "fast"], "--rate"),
        (["replay", "--older-than", "soon"], "--older-than"),
        (["purge", "--tenant", "1"], "--yes"),
    ],
)
def test_bad_input_names_the_option_and_exits_2(args: list[str], option: str) -> None:
    result = runner.invoke(app, ["dlq", *args])
    assert result.exit_code == 2, result.output
    assert option in result.stderr


def test_list_and_show(db: Database) -> None:
    old = bulk_dead_letters(db, 2, tenant_id=1, failed_at=utcnow() - timedelta(days=2))
    bulk_dead_letters(db, 1, tenant_id=2)
    listed = runner.invoke(app, ["dlq", "list", "--older-than", "1d", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert data["total"] == 2 and [i["id"] for i in data["items"]] == old
    text = runner.invoke(app, ["dlq", "list", "--tenant", "2"])
    assert text.exit_code == 0 and "tenant=2" in text.stdout and "1 of 1" in text.stderr
    shown = runner.invoke(app, ["dlq", "show", str(old[0])])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["traceback"] == "Traceback ..."
    missing = runner.invoke(app, ["dlq", "show", "999"])
    assert missing.exit_code == 1 and "no dead letter 999" in missing.stderr


def test_replay_dry_run_then_throttled_replay_with_progress(db: Database, redis_client: redis.Redis) -> None:
    bulk_dead_letters(db, 30)
    dry = runner.invoke(app, ["dlq", "replay", "--dry-run"])
    assert dry.exit_code == 0 and "30 dead letter(s) would be replayed" in dry.stdout
    assert redis_client.hlen("dramatiq:reviews.replay.msgs") == 0

    done = runner.invoke(app, ["dlq", "replay", "--rate", "20/s", "--result-key", "job-7"])
    assert done.exit_code == 0, done.output
    assert "replayed 30, skipped 0, failed 0" in done.stdout
    assert "/30 replayed" in done.stderr  # at least one progress line: 30 at 20/s takes over a second
    assert redis_client.hlen("dramatiq:reviews.replay.msgs") == 30
    stored = json.loads(redis_client.get("reviewops:replay-results:job-7") or b"{}")
    assert set(stored) == {"replayed", "skipped", "failed", "started_at", "finished_at", "replay_id"}
    assert stored["replayed"] == 30
    again = runner.invoke(app, ["dlq", "replay"])
    assert again.exit_code == 0 and "replayed 0" in again.stdout


def test_replay_needs_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVIEWOPS_REDIS_URL")
    result = runner.invoke(app, ["dlq", "replay"])
    assert result.exit_code == 2 and "REVIEWOPS_REDIS_URL" in result.stderr


def test_purge(db: Database, redis_client: redis.Redis) -> None:
    bulk_dead_letters(db, 2, error_type="permanent")
    bulk_dead_letters(db, 1)
    result = runner.invoke(app, ["dlq", "purge", "--error-type", "permanent", "--yes"])
    assert result.exit_code == 0 and "purged 2" in result.stdout
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(DeadLetter)).scalar() == 1
        assert s.execute(select(AuditLog.action)).scalar_one() == "dlq.purge"
    assert redis_client.get("reviewops:dead-letters:pending") == b"1"
