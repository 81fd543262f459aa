"""Poisoned payloads mixed into concurrent valid deliveries (real PostgreSQL): each fails alone, never its batch."""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
import httpx
from prometheus_client import REGISTRY
from sqlalchemy import select

from api.main import create_app
from reviewops.db.models import WebhookDelivery
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.webhooks import load_payload, signed_request


def nested(depth: int, leaf: str) -> bytes:
    """A JSON object whose `deep` field is `depth` levels of arrays around a string."""
    return b'{"zen": "poison", "deep": ' + b"[" * depth + leaf.encode() + b"]" * depth + b"}"


# (body, what the intake must answer). Before issue 18: a NUL with nesting >= 254 failed orjson's
# re-serialization in the intake thread and took its whole batch down (500s and resets for the valid
# deliveries beside it); nesting 900-1023 with a NUL recursed past Python's limit in the request (500).
POISONS = [
    (nested(254, '"a\\u0000b"'), 202),
    (nested(300, '"\\u0000"'), 202),
    (nested(1000, '"\\u0000"'), 202),
    (nested(1023, '"\\u0000"'), 202),  # 1024 levels with the outer object: the most orjson parses
    (nested(1024, '"x"'), 422),
    (nested(5000, '"\\u0000"'), 422),
    (nested(200_000, "1"), 422),
]


def batches() -> float:
    return REGISTRY.get_sample_value("reviewops_intake_batches_total") or 0.0


async def post_all(app: Any, requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
        return list(
            await asyncio.gather(
                *(client.post("/webhooks/github", content=b, headers=h) for b, h in requests)
            )
        )


def test_poisoned_payloads_never_take_valid_deliveries_with_them(
    settings: Settings, db: Database, broker: dramatiq.Broker
) -> None:
    valid = [signed_request("ping", load_payload("ping/payload.json"), guid=f"valid-{i}") for i in range(150)]
    poisoned = [signed_request("ping", body, guid=f"poison-{i}") for i, (body, _) in enumerate(POISONS * 2)]
    mixed = list(valid)
    for k, request in enumerate(poisoned):  # one poisoned delivery among every ten valid ones
        mixed.insert(k * 11 + 5, request)
    app = create_app(settings, db=db, broker=broker)
    before = batches()
    try:
        responses = asyncio.run(post_all(app, mixed))
    finally:
        app.state.intake.stop()
    by_guid = {h["X-GitHub-Delivery"]: r for (_, h), r in zip(mixed, responses, strict=True)}
    assert len(by_guid) == len(valid) + len(poisoned)
    assert batches() - before < len(by_guid)  # group commit really mixed them into shared batches
    for i in range(150):
        response = by_guid[f"valid-{i}"]
        assert response.status_code == 202, response.text
    for i, (_, expected) in enumerate(POISONS * 2):
        response = by_guid[f"poison-{i}"]
        assert response.status_code == expected, response.text
        if expected == 422:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("unstorable-delivery")
    with db.session() as s:
        stored = {
            guid: payload
            for guid, payload in s.execute(select(WebhookDelivery.delivery_guid, WebhookDelivery.payload))
        }
    assert {f"valid-{i}" for i in range(150)} <= set(stored)
    accepted = {f"poison-{i}" for i, (_, e) in enumerate(POISONS * 2) if e == 202}
    refused = {f"poison-{i}" for i, (_, e) in enumerate(POISONS * 2) if e == 422}
    assert accepted <= set(stored) and not refused & set(stored)
    # The NUL is stored as U+FFFD, at the depth it was sent.
    payload: Any = stored["poison-0"]["deep"]
    for _ in range(254):
        payload = payload[0]
    assert payload == "a\ufffdb"
