"""Store a payload as a delivery row and run the worker's processing on it, without HTTP or a broker."""

from __future__ import annotations

import uuid
from typing import Any

from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.pipeline import intake, processing, routing
from reviewops.settings import Settings


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
