"""Retention purge deletes old finished rows in batches and never touches unfinished work."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from reviewops.db.models import AuditLog, Finding, Review, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.durations import parse_duration
from reviewops.retention import purge
from tests.support.deliveries import store
from tests.support.webhooks import load_payload


def seed(db: Database, n: int, status: str, age_days: int) -> None:
    for _ in range(n):
        delivery_id = store(db, "ping", load_payload("ping/payload.json"))
        with db.session() as s:
            old = utcnow() - timedelta(days=age_days)
            s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                      .values(status=status, created_at=old))  # fmt: skip
            review = Review(repository="o/r", pr_number=1, head_sha="x", status="completed", created_at=old,
                            delivery_id=delivery_id, timings={})  # fmt: skip
            s.add(review)
            s.flush()
            s.add(Finding(review_id=review.id, analyzer="a", rule_id="r", path="p", start_line=1, end_line=1,
                          severity="error", message="m", fingerprint="f"))  # fmt: skip


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return tuple(  # type: ignore[return-value]
            int(s.execute(select(func.count()).select_from(m)).scalar_one())
            for m in (WebhookDelivery, Review, Finding)
        )


def test_purge_in_batches_keeps_recent_and_unfinished(db: Database) -> None:
    seed(db, 7, "processed", age_days=100)
    seed(db, 2, "failed", age_days=100)  # unfinished: kept however old
    seed(db, 3, "processed", age_days=5)
    seen: list[tuple[str, int, int]] = []
    dry = purge(db, utcnow() - timedelta(days=90), dry_run=True)
    assert dry.deleted["webhook_deliveries"] == 7 and counts(db) == (12, 12, 12)
    result = purge(db, utcnow() - timedelta(days=90), batch_size=3, progress=lambda *a: seen.append(a))
    assert result.deleted == {"reviews": 9, "webhook_deliveries": 7, "dead_letters": 0}
    assert counts(db) == (5, 3, 3)
    assert ("webhook_deliveries", 3, 7) in seen and ("webhook_deliveries", 7, 7) in seen


def test_cli_dry_run_and_bad_duration(db: Database, migrated_postgres: str) -> None:
    seed(db, 2, "processed", age_days=100)
    env = {**os.environ, "REVIEWOPS_DATABASE_URL": migrated_postgres}
    cmd = [sys.executable, "-m", "reviewops", "retention", "purge"]
    dry = subprocess.run([*cmd, "--older-than", "90d", "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0 and "webhook_deliveries: would delete 2" in dry.stdout
    assert counts(db)[0] == 2
    bad = subprocess.run([*cmd, "--older-than", "90x"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--older-than" in bad.stderr


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("12h", 43200), ("90d", 7776000),
                                               ("1.5h", 5400), ("2w", 1209600)])  # fmt: skip
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "10y", "-1d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def exported(directory: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob(f"{table}-*.jsonl.gz")):
        with gzip.open(path) as lines:
            rows.extend(json.loads(line) for line in lines)
    return rows


def test_export_writes_every_deleted_row_before_deleting_it(db: Database, tmp_path: Path) -> None:
    seed(db, 5, "processed", age_days=100)
    seed(db, 2, "processed", age_days=5)
    with db.session() as s:
        old_ids = sorted(
            s.execute(select(Review.id).where(Review.created_at < utcnow() - timedelta(days=90))).scalars()
        )
        s.add(
            AuditLog(actor="cli", action="old.thing", created_at=utcnow() - timedelta(days=100), details={})
        )
    result = purge(db, utcnow() - timedelta(days=90), batch_size=2, export_dir=tmp_path, audit=True)
    assert result.deleted == {"reviews": 5, "webhook_deliveries": 5, "dead_letters": 0, "audit_log": 1}
    reviews = exported(tmp_path, "reviews")
    assert sorted(r["id"] for r in reviews) == old_ids
    assert all(len(r["findings"]) == 1 and r["findings"][0]["fingerprint"] == "f" for r in reviews)
    deliveries = exported(tmp_path, "webhook_deliveries")
    assert len(deliveries) == 5 and all("payload" not in d and d["delivery_guid"] for d in deliveries)
    assert [a["action"] for a in exported(tmp_path, "audit_log")] == ["old.thing"]
    assert not list(tmp_path.glob("*.tmp"))


def test_an_interrupted_export_purge_resumes_without_loss_or_duplication(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge dies after writing its second batch's file but before that delete commits: the rerun
    exports the batch again under the same name, and every deleted row is in exactly one file."""
    import reviewops.retention as retention

    seed(db, 7, "processed", age_days=100)
    real_write = retention.write_batch
    written: list[Path] = []

    def crash_after_second(directory: Path, table: str, rows: Any) -> Path:
        path = real_write(directory, table, rows)
        written.append(path)
        if len(written) == 2:
            raise KeyboardInterrupt("killed")
        return path

    monkeypatch.setattr(retention, "write_batch", crash_after_second)
    with pytest.raises(KeyboardInterrupt):
        purge(db, utcnow() - timedelta(days=90), batch_size=3, export_dir=tmp_path)
    assert counts(db)[1] == 4  # the first batch of 3 reviews was deleted, the second was not
    monkeypatch.setattr(retention, "write_batch", real_write)
    result = purge(db, utcnow() - timedelta(days=90), batch_size=3, export_dir=tmp_path)
    assert result.deleted["reviews"] == 4 and counts(db) == (0, 0, 0)
    ids = [r["id"] for r in exported(tmp_path, "reviews")]
    assert len(ids) == 7 and len(set(ids)) == 7


def test_cli_export_refuses_a_file_as_directory(db: Database, migrated_postgres: str, tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    env = {**os.environ, "REVIEWOPS_DATABASE_URL": migrated_postgres}
    result = subprocess.run(
        [sys.executable, "-m", "reviewops", "retention", "purge", "--export", str(target)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 2 and "--export" in result.stderr and str(target) in result.stderr
