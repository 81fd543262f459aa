"""Poll for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from reviewops.db.session import Database

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], timeout: float = 15.0, interval: float = 0.02, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def post_and_wait(client: Any, db: Database, event: str, payload: dict[str, Any], timeout: float = 90) -> str:
    """Post a signed webhook to the API (202) and wait until the worker finished its delivery; the final
    status (processed, ignored or dead)."""
    from sqlalchemy import select

    from reviewops.db.models import WebhookDelivery
    from tests.support.webhooks import signed_request

    raw, headers = signed_request(event, payload)
    assert client.post("/webhooks/github", content=raw, headers=headers).status_code == 202
    guid = headers["X-GitHub-Delivery"]

    def status() -> str | None:
        with db.session() as s:
            return s.execute(
                select(WebhookDelivery.status).where(WebhookDelivery.delivery_guid == guid)
            ).scalar()

    return str(wait_until(lambda: status() in {"processed", "ignored", "dead"} and status(), timeout=timeout,
                          what=f"delivery {guid} done"))  # fmt: skip
