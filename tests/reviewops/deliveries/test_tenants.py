"""Tenant creation is an upsert: the first deliveries of a new installation, arriving together, all succeed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from reviewops.db.migrate import upgrade
from reviewops.db.models import Repository, Tenant, WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import intake
from reviewops.deliveries.processing import process_delivery
from reviewops.deliveries.routing import route
from reviewops.settings import Settings
from tests.support.webhooks import load_payload


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_eight_concurrent_first_deliveries_of_a_new_installation_each_succeed_first_time(
    backend: str, db: Database, settings: Settings, tmp_path: Any
) -> None:
    """Before issue 18 all but one failed on the unique key, logged a traceback and were retried."""
    if backend == "sqlite":
        upgrade(f"sqlite:///{tmp_path / 't.db'}")
        db = Database(f"sqlite:///{tmp_path / 't.db'}")
    payload = load_payload("installation_repositories/added.payload.json")
    payload["installation"]["id"] = 77_000_001  # an installation nobody has seen
    ids = [
        intake.store(
            db, intake.IncomingDelivery(1, f"first-{i}", "installation_repositories", "added", payload)
        ).delivery_id
        for i in range(8)
    ]
    start = threading.Barrier(8)
    outcomes: dict[int, str | BaseException] = {}

    def process(delivery_id: int) -> None:
        start.wait()
        try:
            outcomes[delivery_id] = process_delivery(db, settings, delivery_id, route)
        except BaseException as exc:
            outcomes[delivery_id] = exc

    threads = [threading.Thread(target=process, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == dict.fromkeys(ids, "processed")
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Tenant)).scalar_one() == 1
        repositories = len(payload["repositories_added"])
        assert s.execute(select(func.count()).select_from(Repository)).scalar_one() == repositories
        attempts = s.execute(select(WebhookDelivery.attempts)).scalars().all()
    assert attempts == [1] * 8  # each processed on its first attempt
