"""Live review updates for the tenant API's Server-Sent Events, over Redis pub/sub.

The pipeline calls `publish_review_update` whenever a review changes; `/api/v1/events` subscribes to
the tenant's channel. Pub/sub is fire-and-forget: a client that was away gets a fresh snapshot.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from reviewops.db.models import Review

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "reviewops:events:"


def channel(tenant_id: int) -> str:
    return f"{CHANNEL_PREFIX}{tenant_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def review_event(review: Review) -> dict[str, Any]:
    """The public shape of a review update (the same fields the REST API lists)."""
    return {
        "id": review.id,
        "repository": review.repository,
        "pr_number": review.pr_number,
        "head_sha": review.head_sha,
        "status": review.status,
        "status_reason": review.status_reason,
        "not_before": _iso(review.not_before),
        "findings_count": review.findings_count or 0,
        "created_at": _iso(review.created_at),
        "updated_at": _iso(review.updated_at),
        "finished_at": _iso(review.finished_at),
    }


def publish_review_update(client: redis.Redis | None, tenant_id: int | None, review: Review) -> None:
    """Publish a review's state to its tenant's channel; never fails the caller (events are advisory)."""
    if client is None or tenant_id is None:
        return
    try:
        client.publish(channel(tenant_id), json.dumps({"type": "review", "review": review_event(review)}))
    except redis.RedisError as exc:
        log.warning("review event not published: %s", type(exc).__name__)


def publish_after_commit(session: Session, client: redis.Redis | None, review: Review) -> None:
    """Publish once the session commits, so no one hears of a review that was rolled back."""
    if client is None:
        return

    def _publish(_session: Session) -> None:
        publish_review_update(client, review.tenant_id, review)

    event.listen(session, "after_commit", _publish, once=True)
