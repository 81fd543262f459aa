"""`POST /webhooks/github`: verify, store durably, enqueue, acknowledge, all well inside GitHub's 10 s."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from api.body_budget import BudgetExhausted, ByteBudget
from api.problems import ProblemError
from reviewops import audit, signatures
from reviewops.db.session import Database
from reviewops.db.types import BIGINT_MAX
from reviewops.deliveries import intake
from reviewops.deliveries.group_commit import IntakeBatcher
from reviewops.deliveries.payload_facts import (
    PayloadFacts,
    facts_of,
    has_nul_escape,
    read_facts,
    without_nul_escapes,
)
from reviewops.deliveries.signature_audit import SignatureFailureTracker
from reviewops.settings import Settings
from reviewops.telemetry import metrics

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


# Bodies up to this size skip the byte budget: their memory is bounded by the number of connections.
SMALL_BODY_BYTES = 1 << 20
_EVENT_NAME = re.compile(r"^[a-z][a-z_]{0,63}$")  # GitHub's event names: pull_request, check_run, ping...


def declared_length(request: Request, limit: int) -> int | None:
    """The Content-Length, refused with 413 at once if it is over `limit` (nothing is read)."""
    declared = request.headers.get("content-length")
    if not (declared and declared.isascii() and declared.isdigit()):
        return None
    if int(declared) > limit:
        raise ProblemError(
            413, f"body of {declared} bytes exceeds the {limit}-byte limit", code="body-too-large"
        )
    return int(declared)


async def read_body_capped(
    request: Request, limit: int, verifier: signatures.StreamingVerifier | None = None
) -> bytes | bytearray:
    """Read the body, refusing with 413 as soon as it is known to exceed `limit`; each chunk goes into
    the signature's HMACs as it arrives. Written into one buffer of the declared size (no doubling)."""
    declared = declared_length(request, limit)
    body = bytearray(declared) if declared is not None else bytearray()
    size = 0
    async for chunk in request.stream():
        end = size + len(chunk)
        if end > limit:
            raise ProblemError(413, f"body exceeds the {limit}-byte limit", code="body-too-large")
        if verifier is not None:
            verifier.update(chunk)
        if declared is not None and end <= declared:
            body[size:end] = chunk
        else:
            del body[size:]
            body += chunk
        size = end
    del body[size:]
    # A large body stays a bytearray: copying it into bytes would hold it twice.
    return bytes(body) if len(body) <= SMALL_BODY_BYTES else body


def check_headers_before_the_body(headers: Headers, secrets: list[str]) -> tuple[bytes, str, str]:
    """Trust before memory: everything a request can be refused for without its body is checked before
    a byte of it is read (an unsigned 25 MiB body is answered 401 unread). Returns the claimed digest,
    the event and the delivery GUID."""
    digest = signatures.expected_digest(headers.get("x-hub-signature-256"), secrets)
    event = headers.get("x-github-event")
    if not event:
        raise ProblemError(400, "X-GitHub-Event header is missing", code="missing-header")
    if not _EVENT_NAME.match(event):
        raise ProblemError(400, "X-GitHub-Event is not an event name", code="invalid-header")
    guid = headers.get("x-github-delivery")
    if not guid or len(guid) > 64:
        raise ProblemError(400, "X-GitHub-Delivery header is missing or too long", code="missing-header")
    return digest, event, guid


class ParsedPayload(NamedTuple):
    facts: PayloadFacts
    payload: dict[str, Any] | None  # built only when the text could not be stored as sent
    text: str | None  # the JSON text as sent, stored as is (PostgreSQL parses it into jsonb)


def _full_parse(text: str | bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(text)  # ~2x faster than `json` on a webhook payload; same error fields
    except orjson.JSONDecodeError as exc:
        if "depth limit" in exc.msg:  # valid JSON nested past 1024 levels: nothing here can hold it
            raise ProblemError(
                422, f"the delivery cannot be stored: {exc.msg}", code="unstorable-delivery"
            ) from None
        raise ProblemError(
            400, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", code="invalid-json"
        ) from None
    if not isinstance(payload, dict):
        raise ProblemError(400, "JSON payload must be an object", code="invalid-json")
    return payload


def parse_payload(body: bytes | bytearray, content_type: str) -> ParsedPayload:
    """GitHub sends JSON either raw or as the `payload` field of a form; both are stored the same.

    The text is stored as sent: serializing a dict again cost more CPU than parsing, and turned integers
    past 64 bits into floats. Only the few fields the intake needs are read (reviewops.deliveries.
    payload_facts); the dict is built only when simdjson cannot vouch for the text (which also words the
    error). A NUL, which PostgreSQL's jsonb cannot hold, is replaced in the text itself: re-serializing a
    parsed dict failed on deep nesting (a 500 for the whole group commit, issue 18)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=16)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProblemError(400, f"form body could not be parsed: {exc}", code="invalid-body") from None
        if "payload" not in fields:
            raise ProblemError(400, "form body has no 'payload' field", code="invalid-body")
        text = fields["payload"][0]
        raw: bytes | bytearray = text.encode()
    elif media in ("application/json", "") or media.endswith("+json"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProblemError(
                400, f"body is not UTF-8: {exc.reason} at byte {exc.start}", code="invalid-body"
            ) from None
        raw = body
    else:
        raise ProblemError(415, f"unsupported content type {media[:64]!r}", code="unsupported-media-type")
    if has_nul_escape(raw):  # a NUL can only arrive escaped; PostgreSQL's jsonb cannot hold one
        raw = without_nul_escapes(bytes(raw))
        text = raw.decode()
    facts = read_facts(raw if isinstance(raw, bytes) else bytes(raw))
    if facts is None:
        payload = _full_parse(text)  # raises the 400 if it is not a JSON object
        return ParsedPayload(facts_of(payload), payload, text)
    return ParsedPayload(facts, None, text)


async def _report_signature_failure(request: Request, db: Database, reason: str) -> None:
    """Log and audit the first failure per source and window (never the payload)."""
    source = request.client.host if request.client else "unknown"
    tracker: SignatureFailureTracker = request.app.state.signature_failures
    report = tracker.observe(source, reason)
    if report is None:
        return
    log.warning(
        "webhook signature rejected: reason=%s source=%s (%s more from this source in its last window)",
        reason, source, report.suppressed_since_last,
    )  # fmt: skip
    try:
        await run_in_threadpool(
            audit.record_now, db, "webhook", "webhook.signature_failure", source,
            details={"reason": reason, "suppressed_since_last": report.suppressed_since_last,
                     "previous_reasons": report.previous_reasons},
        )  # fmt: skip
    except SQLAlchemyError:
        log.warning("could not audit the signature failure: database unavailable")


def _json(content: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def app_id_of(request: Request, configured: int | None) -> int:
    """The App a delivery belongs to: GitHub names it in a header for App webhooks."""
    if request.headers.get("x-github-hook-installation-target-type") == "integration":
        target = request.headers.get("x-github-hook-installation-target-id", "")
        # ASCII only: str.isdigit() also accepts "²", which int() refuses.
        if target.isascii() and target.isdigit():
            if int(target) > BIGINT_MAX:
                raise ProblemError(
                    400, "X-GitHub-Hook-Installation-Target-ID is not an App id", code="invalid-header"
                )
            return int(target)
    return configured or 0


def _header_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": {"type": "string"},
            "description": description}  # fmt: skip


@asynccontextmanager
async def _room_for(request: Request, settings: Settings, declared: int | None) -> AsyncIterator[None]:
    """A large body holds its share of the process's byte budget from before it is read until its answer
    (read, parsed, stored): the peak memory of many large bodies is bounded by the budget."""
    if declared is not None and declared <= SMALL_BODY_BYTES:
        yield
        return
    budget: ByteBudget = request.app.state.body_budget
    size = settings.webhook_max_body_bytes if declared is None else declared
    try:
        reserved = await budget.acquire(size, settings.webhook_intake_timeout_seconds)
    except BudgetExhausted:
        raise ProblemError(
            503, "too many large bodies in flight; redeliver later", code="busy", headers={"Retry-After": "5"}
        ) from None
    try:
        yield
    finally:
        await budget.release(reserved)


@router.post(
    "/webhooks/github",
    status_code=202,
    responses={
        200: {"description": "Duplicate delivery (already stored)"},
        400: {"description": "Missing header or invalid payload"},
        401: {"description": "Signature missing or wrong"},
        413: {"description": "Body over the limit"},
        422: {"description": "The database refused the delivery's data (it would be refused again)"},
        503: {"description": "Database unavailable or too slow; GitHub can redeliver"},
    },
    # The headers are read straight from the request: FastAPI's per-request dependency and header
    # resolution cost a third of the bare endpoint's whole CPU per request (bench/ingest.py). Documented
    # here instead, so the OpenAPI description is the same.
    openapi_extra={
        "parameters": [
            _header_parameter("x-github-event", "The event name, e.g. pull_request"),
            _header_parameter("x-github-delivery", "The delivery's GUID (at most 64 characters)"),
            _header_parameter("x-hub-signature-256", "sha256=HMAC of the raw body with the webhook secret"),
        ]
    },
)
async def receive_github_webhook(request: Request) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    db: Database = state.db
    headers = request.headers
    started = time.perf_counter()
    secrets = settings.webhook_secret_values()
    try:
        try:
            digest, x_github_event, x_github_delivery = check_headers_before_the_body(headers, secrets)
            declared = declared_length(request, settings.webhook_max_body_bytes)
        except signatures.SignatureError as exc:
            raise await _signature_problem(request, db, exc) from None
        async with _room_for(request, settings, declared):
            return await _ingest(request, settings, digest, secrets, x_github_event, x_github_delivery)
    except ProblemError as exc:
        event = headers.get("x-github-event") or ""
        event_label = metrics.event_label(event) if _EVENT_NAME.match(event) else "unknown"
        metrics.WEBHOOK_DELIVERIES.labels(event_label, "rejected" if exc.status < 500 else "error").inc()
        raise
    finally:
        metrics.WEBHOOK_ACK_SECONDS.observe(time.perf_counter() - started)


async def _signature_problem(request: Request, db: Database, exc: signatures.SignatureError) -> ProblemError:
    metrics.SIGNATURE_FAILURES.labels(exc.reason).inc()
    await _report_signature_failure(request, db, exc.reason)
    return ProblemError(401, exc.detail, code=f"signature-{exc.reason}")


async def _ingest(
    request: Request,
    settings: Settings,
    digest: bytes,
    secrets: list[str],
    x_github_event: str,
    x_github_delivery: str,
) -> Response:
    """Read and verify the body, store it, answer: within the body's share of the byte budget."""
    db: Database = request.app.state.db
    intake_batcher: IntakeBatcher = request.app.state.intake
    headers = request.headers
    verifier = signatures.StreamingVerifier(secrets)
    body = await read_body_capped(request, settings.webhook_max_body_bytes, verifier)
    try:
        verifier.verify(digest)
    except signatures.SignatureError as exc:
        raise await _signature_problem(request, db, exc) from None
    event_label = metrics.event_label(x_github_event)
    structlog.contextvars.bind_contextvars(delivery_guid=x_github_delivery, event=event_label)
    parsed = parse_payload(body, headers.get("content-type", ""))
    facts = parsed.facts
    incoming = intake.IncomingDelivery(
        app_id=app_id_of(request, settings.github_app_id),
        guid=x_github_delivery,
        event=x_github_event[:64],
        action=facts.action,
        payload=parsed.payload,
        payload_json=parsed.text,
        facts=facts,
    )
    # Bound here, these travel with the queued message (reviewops.queue.logcontext) to the worker's lines.
    structlog.contextvars.bind_contextvars(
        tenant=facts.installation_id, repository=facts.repository, pr=facts.pr_number
    )
    try:
        result = await intake_batcher.accept(incoming)
    except intake.UnstorableDelivery as exc:
        log.error("delivery refused by the database, not stored: %s", exc.reason)
        raise ProblemError(
            422, f"the delivery cannot be stored: {exc.reason}", code="unstorable-delivery"
        ) from None
    except SQLAlchemyError as exc:
        log.error("database unavailable, delivery not stored: %s", type(exc).__name__)
        raise ProblemError(
            503, "database unavailable; redeliver later", code="database-unavailable"
        ) from None
    except TimeoutError:
        log.error("delivery not confirmed within %ss: database slow or locked", intake_batcher.timeout)
        raise ProblemError(
            503,
            "delivery not confirmed in time; redeliver later (a duplicate is recognised)",
            code="intake-timeout",
        ) from None
    if result.status == "duplicate":
        outcome = "requeued" if result.requeued else "duplicate"
        metrics.WEBHOOK_DELIVERIES.labels(event_label, outcome).inc()
        return _json(
            {"delivery_guid": incoming.guid, "status": "duplicate", "requeued": result.requeued}, 200
        )
    metrics.WEBHOOK_DELIVERIES.labels(event_label, "accepted").inc()
    return _json({"delivery_guid": incoming.guid, "status": result.status}, 202)
