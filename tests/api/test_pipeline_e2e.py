"""Every octokit pull_request and ping payload: signed, posted to the real app, through Redis to a real
dramatiq worker, and into PostgreSQL with the right status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from reviewops.db.models import Review, WebhookDelivery
from reviewops.db.session import Database
from tests.support.deliveries import delivery_status
from tests.support.waiting import wait_until
from tests.support.webhooks import WEBHOOKS, load_payload, signed_request

CASES = sorted(
    str(p.relative_to(WEBHOOKS))
    for folder in ("pull_request", "ping")
    for p in (WEBHOOKS / folder).glob("*.json")
)


def expected_outcome(relative: str) -> tuple[str, bool]:
    """(delivery status, whether a review is recorded)."""
    event = relative.split("/")[0]
    if event == "ping":
        return "processed", False
    payload = load_payload(relative)
    if payload["action"] in {"opened", "synchronize", "reopened", "ready_for_review"}:
        return ("ignored", False) if payload["pull_request"]["draft"] else ("processed", True)
    if payload["action"] == "closed":
        return "processed", False
    return "ignored", False


@pytest.mark.parametrize("relative", CASES)
def test_fixture_payload_flows_end_to_end(relative: str, client: Any, db: Database, worker: Any) -> None:
    event = relative.split("/")[0]
    body, headers = signed_request(event, (WEBHOOKS / relative).read_bytes())
    guid = headers["X-GitHub-Delivery"]
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"delivery_guid": guid, "status": "queued"}

    status, has_review = expected_outcome(relative)
    wait_until(lambda: delivery_status(db, guid) in {"processed", "ignored", "failed"}, what=f"{guid} done")
    assert delivery_status(db, guid) == status
    with db.session() as s:
        reviews = s.execute(select(Review)).scalars().all()
    assert len(reviews) == (1 if has_review else 0)
    if has_review:
        payload = load_payload(relative)
        assert reviews[0].status == "skipped"
        assert reviews[0].status_reason == "GitHub App not configured"
        assert reviews[0].pr_number == payload["number"]
        assert reviews[0].head_sha == payload["pull_request"]["head"]["sha"]


def test_bad_signature_is_rejected_and_nothing_stored(client: Any, db: Database) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), secret="wrong-secret")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 0


def test_processing_twice_creates_one_review(client: Any, db: Database, settings: Any) -> None:
    from reviewops.deliveries import processing, routing

    body, headers = signed_request("pull_request", load_payload("pull_request/opened.payload.json"))
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    with db.session() as s:
        delivery_id = s.execute(select(WebhookDelivery.id)).scalar_one()
    assert processing.process_delivery(db, settings, delivery_id, routing.route) == "processed"
    assert processing.process_delivery(db, settings, delivery_id, routing.route) == "processed"
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Review)).scalar() == 1
        assert s.get(WebhookDelivery, delivery_id).attempts == 1  # type: ignore[union-attr]


def test_delivery_lookup_needs_the_admin_token(client: Any, db: Database, worker: Any) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="lookup-1")
    client.post("/webhooks/github", content=body, headers=headers)
    wait_until(lambda: delivery_status(db, "lookup-1") == "processed")
    assert client.get("/webhooks/github/deliveries/lookup-1").status_code == 401
    bad = client.get("/webhooks/github/deliveries/lookup-1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    auth = {"Authorization": "Bearer admin-token"}
    got = client.get("/webhooks/github/deliveries/lookup-1", headers=auth)
    assert got.status_code == 200
    assert got.json()["status"] == "processed" and got.json()["attempts"] == 1 and got.json()["error"] is None
    missing = client.get("/webhooks/github/deliveries/nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["detail"]


def test_fixtures_are_self_contained() -> None:
    assert (Path(WEBHOOKS) / "LICENSE").is_file()
    assert len(CASES) > 30
