"""Webhook intake over HTTP against real PostgreSQL and Redis: formats, limits, rotation, dedupe, races."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, text, update

from api.main import create_app
from reviewops.db.models import AuditLog, WebhookDelivery
from reviewops.db.session import Database
from reviewops.settings import Settings
from reviewops.signatures import sign
from tests.support.servers import free_port
from tests.support.webhooks import SECRET, load_payload, signed_request


def count(db: Database) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one())


def queued_messages(redis_client: redis.Redis) -> int:
    return int(redis_client.hlen("dramatiq:reviews.msgs"))


def test_json_and_form_bodies_store_the_same_payload(client: Any, db: Database) -> None:
    payload = load_payload("pull_request/opened.payload.json")
    body, headers = signed_request("pull_request", payload, guid="as-json")
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    form = urlencode({"payload": body.decode()}).encode()
    _, headers = signed_request(
        "pull_request", form, guid="as-form", content_type="application/x-www-form-urlencoded"
    )
    assert client.post("/webhooks/github", content=form, headers=headers).status_code == 202
    with db.session() as s:
        stored = {r.delivery_guid: r.payload for r in s.execute(select(WebhookDelivery)).scalars()}
    assert stored["as-json"] == stored["as-form"] == payload


@pytest.mark.parametrize("form", [False, True])
def test_the_json_is_stored_as_github_sent_it(client: Any, db: Database, form: bool) -> None:
    """The text goes to PostgreSQL as sent: re-serializing the parsed dict turned integers past 64 bits
    into floats (and cost the intake more CPU than the parse)."""
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1, "big": 123456789012345678901234567890}'
    if form:
        body = urlencode({"payload": body.decode()}).encode()
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    _, headers = signed_request("ping", body, guid=f"big-{form}", content_type=content_type)
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT payload->>'big' FROM webhook_deliveries")).scalar_one()
    assert stored == "123456789012345678901234567890"


def test_a_nul_character_in_user_text_is_stored_not_refused(client: Any, db: Database) -> None:
    """PostgreSQL's jsonb refuses "\\u0000": it was a 503 on every (re)delivery, so the delivery was lost."""
    payload = load_payload("pull_request/opened.payload.json")
    payload["pull_request"]["body"] = "before\x00after"
    payload["pull_request"]["labels"] = [{"name": "x\x00"}]
    body, headers = signed_request("pull_request", payload, guid="nul-1")
    assert b"\\u0000" in body
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    with db.session() as s:
        stored = s.execute(select(WebhookDelivery)).scalar_one().payload
    assert stored["pull_request"]["body"] == "before\ufffdafter"
    assert stored["pull_request"]["labels"] == [{"name": "x\ufffd"}]
    assert stored["pull_request"]["title"] == payload["pull_request"]["title"]


def test_rotation_accepts_old_and_new_secret(settings: Settings, db: Database, broker: Any) -> None:
    rotated = settings.model_copy(update={"webhook_secrets": [SecretStr("new-secret"), SecretStr(SECRET)]})
    with TestClient(create_app(rotated, db=db, broker=broker)) as c:
        for secret in ("new-secret", SECRET):
            body, headers = signed_request("ping", load_payload("ping/payload.json"), secret=secret)
            assert c.post("/webhooks/github", content=body, headers=headers).status_code == 202
        body, headers = signed_request("ping", load_payload("ping/payload.json"), secret="retired")
        assert c.post("/webhooks/github", content=body, headers=headers).status_code == 401
    assert count(db) == 2


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.pop("X-Hub-Signature-256"), "missing"),
        (lambda h: h.update({"X-Hub-Signature-256": "sha256=nothex"}), "malformed"),
        (lambda h: h.update({"X-Hub-Signature-256": "sha1=" + "a" * 40}), "wrong_algorithm"),
        (lambda h: h.update({"X-Hub-Signature-256": "sha256=" + "0" * 64}), "mismatch"),
    ],
)
def test_signature_failures_are_401_problems_counted_by_reason(
    client: Any, db: Database, mutate: Any, reason: str
) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"))
    mutate(headers)
    before = _metric(client, "reviewops_webhook_signature_failures_total", {"reason": reason})
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"signature-{reason}")
    assert _metric(client, "reviewops_webhook_signature_failures_total", {"reason": reason}) == before + 1
    assert count(db) == 0


def _metric(client: Any, name: str, labels: dict[str, str]) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_signature_failure_bursts_are_audited_once_per_window(client: Any, db: Database) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), secret="wrong")
    for _ in range(5):
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 401
    with db.session() as s:
        rows = s.execute(select(AuditLog)).scalars().all()
    assert len(rows) == 1
    assert rows[0].action == "webhook.signature_failure" and rows[0].details["reason"] == "mismatch"
    assert "payload" not in str(rows[0].details)


@pytest.mark.parametrize(
    ("drop", "detail"), [("X-GitHub-Event", "X-GitHub-Event"), ("X-GitHub-Delivery", "X-GitHub-Delivery")]
)
def test_missing_github_headers_are_400(client: Any, drop: str, detail: str) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"))
    headers.pop(drop)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b'{"zen": ', "invalid JSON"), (b"[1, 2]", "must be an object"), (b"\xff\xfe", "not UTF-8")],
)
def test_invalid_body_after_valid_signature_is_400_naming_the_problem(
    client: Any, db: Database, body: bytes, problem: str
) -> None:
    _, headers = signed_request("ping", body)
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert count(db) == 0


def test_form_body_without_payload_field_is_400(client: Any) -> None:
    body = b"other=1"
    _, headers = signed_request("ping", body, content_type="application/x-www-form-urlencoded")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and "payload" in response.json()["detail"]


def test_body_over_the_limit_is_413_before_reading(client: Any, db: Database) -> None:
    limit = 25 * 1024 * 1024
    _, headers = signed_request("ping", b"{}")
    response = client.post(
        "/webhooks/github", content=b"{}", headers=headers | {"Content-Length": str(limit + 1)}
    )
    assert response.status_code == 413


def test_streamed_body_over_the_limit_is_413(settings: Settings, db: Database, broker: Any) -> None:
    small = settings.model_copy(update={"webhook_max_body_bytes": 4096})

    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 1024

    with TestClient(create_app(small, db=db, broker=broker)) as c:
        _, headers = signed_request("ping", b"{}")
        headers.pop("Content-Length", None)
        response = c.post("/webhooks/github", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert count(db) == 0


def test_exactly_25_mb_is_accepted(client: Any, db: Database) -> None:
    payload = {"zen": "x" * (25 * 1024 * 1024 - 20)}
    body, headers = signed_request("ping", payload)
    assert len(body) <= 25 * 1024 * 1024
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202


def test_redelivery_is_a_duplicate_and_not_processed_again(
    client: Any, db: Database, redis_client: redis.Redis
) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="dup-1")
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    again = client.post("/webhooks/github", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"delivery_guid": "dup-1", "status": "duplicate", "requeued": False}
    assert count(db) == 1 and queued_messages(redis_client) == 1


def test_redelivery_of_a_failed_delivery_is_requeued(
    client: Any, db: Database, redis_client: redis.Redis
) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="dup-2")
    client.post("/webhooks/github", content=body, headers=headers)
    redis_client.delete("dramatiq:reviews", "dramatiq:reviews.msgs")
    with db.session() as s:
        s.execute(update(WebhookDelivery).values(status="failed", error="boom"))
    again = client.post("/webhooks/github", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["requeued"] is True
    with db.session() as s:
        row = s.execute(select(WebhookDelivery)).scalar_one()
    assert row.status == "queued" and row.error is None
    assert queued_messages(redis_client) == 1


def test_concurrent_identical_deliveries_make_one_row_and_one_message(
    app: Any, db: Database, redis_client: redis.Redis
) -> None:
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="race-1")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def post() -> None:
        with TestClient(app) as c:
            barrier.wait()
            statuses.append(c.post("/webhooks/github", content=body, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 7 + [202]
    assert count(db) == 1
    assert queued_messages(redis_client) == 1


def test_a_locked_database_answers_503_before_github_gives_up(
    settings: Settings, db: Database, broker: Any
) -> None:
    from sqlalchemy import text

    slow = settings.model_copy(update={"webhook_intake_timeout_seconds": 0.5})
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="locked-route")
    with TestClient(create_app(slow, db=db, broker=broker)) as c, db.engine.connect() as locker:
        transaction = locker.begin()
        locker.execute(text("LOCK TABLE webhook_deliveries IN ACCESS EXCLUSIVE MODE"))
        response = c.post("/webhooks/github", content=body, headers=headers)
        transaction.rollback()
    assert response.status_code == 503
    assert response.json()["type"].endswith("/intake-timeout")


def test_database_down_answers_503_fast(settings: Settings, broker: Any) -> None:
    down = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    with TestClient(create_app(settings, db=down, broker=broker)) as c:
        body, headers = signed_request("ping", load_payload("ping/payload.json"))
        response = c.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["type"].endswith("database-unavailable")
    down.dispose()


def test_app_id_comes_from_githubs_target_header(client: Any, db: Database) -> None:
    body, headers = signed_request("ping", load_payload("ping/with-app_id.payload.json"), guid="same-guid")
    headers |= {
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": "42",
    }
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    headers["X-GitHub-Hook-Installation-Target-ID"] = "43"  # same delivery id, another App: not a duplicate
    headers["X-Hub-Signature-256"] = sign(SECRET, body)
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    with db.session() as s:
        assert sorted(s.execute(select(WebhookDelivery.app_id)).scalars()) == [42, 43]


def test_openapi_documents_the_github_headers(client: Any) -> None:
    """The route reads its headers straight from the request (no per-request FastAPI resolution), so the
    description lists them explicitly; a client generator still sees all three."""
    operation = client.get("/openapi.json").json()["paths"]["/webhooks/github"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"x-github-event", "x-github-delivery", "x-hub-signature-256"}


def test_an_app_id_header_past_64_bits_is_400(client: Any, db: Database) -> None:
    """It failed the INSERT."""
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="target-big")
    headers |= {
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": str(2**70),
    }
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400 and "Target-ID" in response.json()["detail"]
    assert count(db) == 0


def test_a_non_ascii_digit_app_id_header_falls_back_to_the_configured_app() -> None:
    """ "²" (one latin-1 byte, as servers decode headers) passed str.isdigit() and crashed int(): a 500."""
    from starlette.requests import Request

    from api.routers.webhooks import app_id_of

    raw = [(b"x-github-hook-installation-target-type", b"integration"),
           (b"x-github-hook-installation-target-id", b"\xb2")]  # fmt: skip
    assert app_id_of(Request({"type": "http", "headers": raw}), 5) == 5


def test_a_delivery_the_database_refuses_is_422_not_503(
    client: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 would have GitHub redeliver something that can never be stored."""
    from api.routers import webhooks

    monkeypatch.setattr(webhooks, "app_id_of", lambda request, configured: 2**70)  # past bigint
    body, headers = signed_request("ping", load_payload("ping/payload.json"), guid="unstorable")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("unstorable-delivery")
    assert "out of range" in response.json()["detail"]
