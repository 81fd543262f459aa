"""Missed-delivery recovery decisions over GitHub-shaped delivery lists, with real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from reviewops.db.models import AuditLog
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.deliveries.recovery import recover
from tests.support.deliveries import store
from tests.support.webhooks import load_payload


def attempt(id_: int, guid: str, code: int, minutes_ago: int, event: str = "pull_request") -> dict[str, Any]:
    at = (utcnow() - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    return {
        "id": id_, "guid": guid, "delivered_at": at, "redelivery": False, "duration": 0.1,
        "status": "OK" if code < 300 else "failed", "status_code": code, "event": event,
        "action": "opened", "installation_id": 1, "repository_id": 1,
    }  # fmt: skip


def test_redelivers_only_failed_unknown_guids(db: Database) -> None:
    payload = load_payload("pull_request/opened.payload.json")
    store(db, "pull_request", payload, guid="stored-but-failed-at-github")
    attempts = [
        attempt(1, "ok", 202, 30),
        attempt(2, "lost", 503, 20),
        attempt(3, "lost", 0, 10),  # a later attempt of the same guid also failed: redeliver the newest
        attempt(4, "retried-ok", 500, 20),
        attempt(5, "retried-ok", 202, 5),
        attempt(6, "stored-but-failed-at-github", 504, 15),
        attempt(7, "too-old", 500, 60 * 80),
    ]
    asked: list[int] = []
    result = recover(db, lambda _since: attempts, asked.append)
    assert asked == [3]
    assert result.redelivered == ["lost"]
    assert result.already_stored == 1
    with db.session() as s:
        audit = s.execute(select(AuditLog)).scalar_one()
    assert audit.action == "deliveries.recover" and audit.details["redelivered"] == ["lost"]


def test_dry_run_asks_for_nothing(db: Database) -> None:
    asked: list[int] = []
    result = recover(db, lambda _s: [attempt(1, "lost", 500, 1)], asked.append, dry_run=True)
    assert result.redelivered == ["lost"] and asked == []


def test_one_failed_redelivery_does_not_stop_the_rest(db: Database) -> None:
    def redeliver(delivery_id: int) -> None:
        if delivery_id == 1:
            raise RuntimeError("422 from GitHub")

    result = recover(db, lambda _s: [attempt(1, "a", 500, 3), attempt(2, "b", 500, 2)], redeliver)
    assert result.redelivered == ["b"] and len(result.errors) == 1


def test_the_cap_limits_redeliveries_per_run(db: Database) -> None:
    asked: list[int] = []
    attempts = [attempt(i, f"g{i}", 500, 100 - i) for i in range(10)]
    recover(db, lambda _s: attempts, asked.append, max_redeliveries=3)
    assert asked == [0, 1, 2]


def test_after_restore_asks_for_every_delivery_the_database_lacks(db: Database) -> None:
    """A restored database lost deliveries GitHub delivered fine: after a restore, those come back too,
    each once (its newest attempt), oldest first; what the database still holds is not asked for."""
    payload = load_payload("pull_request/opened.payload.json")
    store(db, "pull_request", payload, guid="in-the-backup")
    attempts = [
        attempt(1, "in-the-backup", 202, 50),
        attempt(2, "after-backup", 202, 40),
        attempt(3, "failed-then-ok", 500, 30),
        attempt(4, "failed-then-ok", 202, 25),
        attempt(5, "never-ok", 502, 20),
        attempt(6, "too-old", 202, 60 * 80),
    ]
    asked: list[int] = []
    paused: list[int] = []
    result = recover(
        db, lambda _s: attempts, asked.append, after_restore=True, pause=lambda: paused.append(len(asked))
    )
    assert asked == [2, 4, 5]
    assert result.redelivered == ["after-backup", "failed-then-ok", "never-ok"]
    assert paused == [1, 2]  # paced: a pause between requests, none before the first
    with db.session() as s:
        audit = s.execute(select(AuditLog)).scalar_one()
    assert audit.action == "deliveries.recover_after_restore"
    # Without --after-restore the delivered ones are not asked for.
    again: list[int] = []
    recover(db, lambda _s: attempts, again.append)
    assert again == [5]
