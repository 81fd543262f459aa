"""Reviews over the tenant's reviews_per_hour are delayed, not dropped: webhook -> real worker -> DB."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import select

from reviewops.db.models import Review, UsageDaily, WebhookDelivery
from reviewops.db.session import Database
from reviewops.db.types import utcnow
from reviewops.policy.store import tenant_limits_key
from reviewops.queue.backlog import queue_backlog
from reviewops.ratelimit import schedule_review
from reviewops.settings import Settings
from reviewops.telemetry import metrics
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request


@pytest.fixture(autouse=True)
def _no_github_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the review-rate gate: reviews are recorded and delayed, not posted to GitHub
    (posting is covered by tests/worker/test_review_pipeline.py against the fake GitHub)."""
    import worker.main
    from reviewops.reviews.work import ReviewWork

    monkeypatch.setattr(worker.main, "build_review_work", lambda *_a, **_k: ReviewWork())


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A configured GitHub App, so reviews are recorded `pending` (rate-limited) instead of `skipped`."""
    return settings.model_copy(update={"github_app_id": 1, "github_private_key": SecretStr("unused")})


def test_schedule_review_books_slots_and_reads_limits_live(redis_client: redis.Redis) -> None:
    redis_client.hset(tenant_limits_key(7), mapping={"reviews_per_hour": 2})
    delays = [schedule_review(redis_client, 7) for _ in range(4)]
    assert delays[:2] == [0, 0]
    assert 1790 <= delays[2] <= 1800 and 3590 <= delays[3] <= 3600  # one slot per 30 min after the burst
    assert schedule_review(redis_client, 8) == 0  # another tenant is unaffected


def deliveries(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(d.delivery_guid, d.status) for d in s.execute(select(WebhookDelivery)).scalars()]


def test_over_the_review_rate_the_review_is_delayed_not_dropped(
    client: Any, db: Database, worker: Any, redis_client: redis.Redis, settings: Settings
) -> None:
    redis_client.hset(tenant_limits_key(1), mapping={"reviews_per_hour": 2})
    delayed_before = metrics.REVIEWS_DELAYED._value.get()
    events = redis_client.pubsub()
    events.subscribe("reviewops:events:1")
    payload = load_payload("pull_request/opened.payload.json")
    for i in range(3):
        body, headers = signed_request("pull_request", payload, guid=f"rate-{i}")
        response = client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 202  # webhooks are never refused for rate limits
        guid = f"rate-{i}"
        wait_until(
            lambda guid=guid: (
                _review_of(db, guid) is not None and dict(deliveries(db)).get(guid) in {"processed", "queued"}
            ),
            what=f"{guid} handled",
        )

    with db.session() as s:
        reviews = s.execute(select(Review).order_by(Review.id)).scalars().all()
    assert [r.status for r in reviews] == ["pending", "pending", "delayed"]
    late = reviews[2]
    assert late.not_before is not None and late.not_before > utcnow() + timedelta(minutes=29)
    assert late.status_reason and late.status_reason.startswith("delayed ")
    assert "2 reviews per hour" in late.status_reason
    assert any("delayed" in note for note in late.timings["notes"])  # for the summary comment
    assert dict(deliveries(db))["rate-2"] == "queued"
    # The delivery's message waits in the delay queue, where the autoscaler's backlog count sees it.
    assert redis_client.hlen("dramatiq:reviews.DQ.msgs") == 1 and queue_backlog(redis_client, "reviews") == 1
    assert metrics.REVIEWS_DELAYED._value.get() == delayed_before + 1
    with db.session() as s:
        assert s.execute(select(UsageDaily.reviews)).scalar_one() == 3
    published = [json.loads(m["data"]) for m in iter(lambda: events.get_message(timeout=1), None)
                 if m["type"] == "message"]  # fmt: skip
    assert [p["review"]["status"] for p in published] == ["pending", "pending", "delayed"]
    events.close()


def _review_of(db: Database, guid: str) -> Review | None:
    with db.session() as s:
        return s.execute(
            select(Review)
            .join(WebhookDelivery, WebhookDelivery.id == Review.delivery_id)
            .where(WebhookDelivery.delivery_guid == guid)
        ).scalar_one_or_none()


def test_a_delayed_review_resumes_when_its_slot_is_due(
    client: Any, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    from reviewops.deliveries import processing, routing

    redis_client.hset(tenant_limits_key(1), mapping={"reviews_per_hour": 1})
    payload = load_payload("pull_request/opened.payload.json")
    for i in range(2):
        body, headers = signed_request("pull_request", payload, guid=f"resume-{i}")
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    with db.session() as s:
        ids = s.execute(select(WebhookDelivery.id).order_by(WebhookDelivery.id)).scalars().all()
    for delivery_id in ids:  # outside a worker nothing re-enqueues: the review is recorded delayed
        processing.process_delivery(db, settings, delivery_id, routing.route)
    late = _review_of(db, "resume-1")
    assert late is not None and late.status == "delayed"
    with db.session() as s:
        s.get(Review, late.id).not_before = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
        s.get(WebhookDelivery, ids[1]).status = "queued"  # type: ignore[union-attr]
    assert processing.process_delivery(db, settings, ids[1], routing.route) == "processed"
    resumed = _review_of(db, "resume-1")
    assert resumed is not None and resumed.status == "pending" and resumed.status_reason is None
    assert any("delayed" in n for n in resumed.timings["notes"])  # the note stays for the summary


def test_a_suspended_tenants_pull_requests_create_no_review(
    client: Any, db: Database, settings: Settings
) -> None:
    from reviewops.db.models import Tenant
    from reviewops.deliveries import processing, routing

    with db.session() as s:
        s.add(Tenant(installation_id=1, account_login="Codertocat", status="suspended", settings={}))
    body, headers = signed_request(
        "pull_request", load_payload("pull_request/opened.payload.json"), guid="susp"
    )
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    with db.session() as s:
        delivery_id = s.execute(select(WebhookDelivery.id)).scalar_one()
    assert processing.process_delivery(db, settings, delivery_id, routing.route) == "ignored"
    assert _review_of(db, "susp") is None
    with db.session() as s:
        assert s.get(WebhookDelivery, delivery_id).status_reason == "tenant is suspended"  # type: ignore[union-attr]
