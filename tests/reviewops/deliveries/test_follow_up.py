"""Follow-up work of a handler (running a review) runs after the routing commit, in the same message."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from reviewops.db.models import Review, WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import intake, processing, routing
from reviewops.errors import TransientError
from reviewops.reviews.work import ReviewWork
from reviewops.settings import Settings
from tests.support.webhooks import load_payload


def test_review_runs_after_commit_and_delivery_waits_for_it(
    settings: Settings, db: Database, github_app_key: tuple[str, str]
) -> None:
    configured = settings.model_copy(
        update={"github_app_id": 1, "github_private_key": SecretStr(github_app_key[0])}
    )
    payload = load_payload("pull_request/opened.payload.json")
    stored = intake.store(db, intake.IncomingDelivery(1, "guid-1", "pull_request", "opened", payload))
    seen: list[tuple[int, str | None, str]] = []

    def runner(review_id: int) -> None:
        with db.session() as s:  # another session: the review row is already committed
            review = s.get(Review, review_id)
            delivery = s.get(WebhookDelivery, stored.delivery_id)
            assert review is not None and delivery is not None
            seen.append((review_id, review.status, delivery.status))
        if len(seen) == 1:
            raise TransientError("GitHub hiccup")

    with pytest.raises(TransientError):
        processing.process_delivery(db, configured, stored.delivery_id, routing.route, ReviewWork(runner))
    with db.session() as s:
        assert s.get(WebhookDelivery, stored.delivery_id).status == "failed"  # type: ignore[union-attr]
    outcome = processing.process_delivery(
        db, configured, stored.delivery_id, routing.route, ReviewWork(runner)
    )
    assert outcome == "processed"
    assert len(seen) == 2 and seen[0][0] == seen[1][0]  # the retry runs the same review
    assert seen[0][1:] == ("pending", "processing")  # not marked processed before the review ran
    processing.process_delivery(db, configured, stored.delivery_id, routing.route, ReviewWork(runner))
    assert len(seen) == 2  # finished: nothing runs again
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Review)).scalar() == 1
        delivery = s.get(WebhookDelivery, stored.delivery_id)
        assert delivery is not None and delivery.status == "processed" and delivery.attempts == 2


def test_without_an_app_the_review_is_skipped_and_nothing_runs(settings: Settings, db: Database) -> None:
    payload = load_payload("pull_request/opened.payload.json")
    stored = intake.store(db, intake.IncomingDelivery(1, "guid-2", "pull_request", "opened", payload))
    ran: list[int] = []
    processing.process_delivery(
        db, settings, stored.delivery_id, routing.route, reviews=ReviewWork(run_review=ran.append)
    )
    assert ran == []
    with db.session() as s:
        assert s.execute(select(Review.status)).scalar_one() == "skipped"
