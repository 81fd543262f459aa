"""Store a payload as a delivery row and run the worker's processing on it, without HTTP or a broker."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.deliveries import intake, processing, routing
from reviewops.settings import Settings
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request


def store(db: Database, event: str, payload: dict[str, Any], guid: str | None = None) -> int:
    action = payload.get("action")
    incoming = intake.IncomingDelivery(
        app_id=0,
        guid=guid or str(uuid.uuid4()),
        event=event,
        action=action if isinstance(action, str) else None,
        payload=payload,
    )
    return intake.store(db, incoming).delivery_id


def process(db: Database, settings: Settings, event: str, payload: dict[str, Any]) -> WebhookDelivery:
    delivery_id = store(db, event, payload)
    processing.process_delivery(db, settings, delivery_id, routing.route)
    with db.session() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


def delivery_status(db: Database, guid: str) -> str | None:
    with db.session() as session:
        return session.execute(
            select(WebhookDelivery.status).where(WebhookDelivery.delivery_guid == guid)
        ).scalar()


def pr_payload(repo: str, installation: int, action: str, number: int, head: str) -> dict[str, Any]:
    """An octokit pull_request payload moved to `repo`/`number`/`head`, base `main` at b*40."""
    payload = load_payload(f"pull_request/{'opened' if action == 'opened' else 'synchronize'}.payload.json")
    payload.update(action=action, number=number)
    payload["installation"]["id"] = installation
    payload["repository"]["full_name"] = repo
    payload["pull_request"].update(number=number, draft=False)
    payload["pull_request"]["head"]["sha"] = head
    payload["pull_request"]["base"].update(sha="b" * 40, ref="main")
    return payload


def post_until_processed(
    client: Any,
    db: Database,
    event: str,
    payload: dict[str, Any],
    *,
    extra_headers: dict[str, str] | None = None,
    timeout: float = 90,
) -> str:
    """Post a signed webhook to the API and wait for the worker to finish it; returns its delivery GUID."""
    body, headers = signed_request(event, payload)
    headers |= extra_headers or {}
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    guid = headers["X-GitHub-Delivery"]
    wait_until(
        lambda: delivery_status(db, guid) in {"processed", "dead"}, timeout=timeout, what=f"{guid} done"
    )
    assert delivery_status(db, guid) == "processed"
    return guid
