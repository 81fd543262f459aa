"""One trace per delivery: webhook request -> enqueue -> worker -> processing stages (real Redis worker)."""

from __future__ import annotations

from typing import Any

import pytest

from reviewops.db.session import Database
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request


def test_one_trace_from_webhook_to_worker(client: Any, db: Database, worker: Any, spans: Any) -> None:
    body, headers = signed_request("pull_request", load_payload("pull_request/opened.payload.json"))
    traceparent_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers["traceparent"] = f"00-{traceparent_id}-00f067aa0ba902b7-01"
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202

    def finished() -> list[Any]:
        # The consumer span ends last (after the actor returns): wait for it, not for the route span.
        return [s for s in spans.get_finished_spans() if s.name == "process process_delivery"]

    wait_until(finished, what="worker span")
    by_name = {s.name: s for s in spans.get_finished_spans()}
    server = by_name["POST /webhooks/github"]
    enqueue = by_name["enqueue process_delivery"]
    consume = by_name["process process_delivery"]
    route = by_name["route pull_request"]
    # All one trace, continuing the caller's W3C context.
    assert {format(s.context.trace_id, "032x") for s in (server, enqueue, consume, route)} == {traceparent_id}
    assert enqueue.parent.span_id == server.context.span_id
    assert consume.parent.span_id == enqueue.context.span_id
    assert route.parent.span_id == consume.context.span_id
    assert by_name["db.claim_delivery"].parent.span_id == consume.context.span_id
    assert route.attributes["github.event"] == "pull_request"


def test_probes_are_not_traced(client: Any, spans: Any) -> None:
    for path in ("/health", "/ready", "/metrics"):
        client.get(path)
    assert [s.name for s in spans.get_finished_spans() if s.name.startswith("GET")] == []


def test_failed_processing_marks_the_span(client: Any, db: Database, settings: Any, spans: Any) -> None:
    from reviewops.deliveries import processing

    def boom(_event: str, _action: str | None) -> Any:
        def handler(_ctx: Any) -> str:
            raise RuntimeError("handler exploded")

        return handler

    body, headers = signed_request("ping", load_payload("ping/payload.json"))
    client.post("/webhooks/github", content=body, headers=headers)
    from sqlalchemy import select

    from reviewops.db.models import WebhookDelivery

    with db.session() as s:
        delivery_id = s.execute(select(WebhookDelivery.id)).scalar_one()
    with pytest.raises(RuntimeError, match="exploded"):
        processing.process_delivery(db, settings, delivery_id, boom)
    route = next(s for s in spans.get_finished_spans() if s.name == "route ping")
    assert route.status.status_code.name == "ERROR"
