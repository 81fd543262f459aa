"""Logs are JSON lines with context and trace ids, and secrets never get through."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from reviewops.telemetry.logging import configure_logging
from reviewops.telemetry.redaction import MASK, redact_text

GITHUB_TOKEN = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7\nabc\n-----END RSA PRIVATE KEY-----"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", json_output=True, stream=stream)
    yield stream
    structlog.contextvars.clear_contextvars()
    configure_logging("INFO")


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_stdlib_lines_are_json_with_context(captured: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(delivery_guid="d-1", tenant=7, repository="o/r", pr=3)
    logging.getLogger("reviewops.test").info("processed %s", "it")
    (line,) = lines(captured)
    assert line["event"] == "processed it" and line["level"] == "info"
    assert {k: line[k] for k in ("delivery_guid", "tenant", "repository", "pr")} == {
        "delivery_guid": "d-1", "tenant": 7, "repository": "o/r", "pr": 3,
    }  # fmt: skip
    assert "timestamp" in line


def test_trace_ids_are_added_inside_a_span(captured: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        logging.getLogger("x").warning("inside")
    (line,) = lines(captured)
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")


def test_secrets_are_redacted_everywhere(captured: io.StringIO) -> None:
    log = logging.getLogger("reviewops.github")
    log.info("installation token %s fetched", GITHUB_TOKEN)
    log.error("bad key: %s", PRIVATE_KEY)
    log.info("request headers: {'Authorization': 'Bearer abcdefghijklmnop1234', 'Accept': 'json'}")
    structlog.get_logger("s").info(
        "call",
        authorization="token " + GITHUB_TOKEN,
        api_key="sk-live-1234567890abcdef",
        headers={"Authorization": "Bearer xyz12345678"},
    )
    text = captured.getvalue()
    for secret in (GITHUB_TOKEN, "MIIEowIBAAKCAQEAx7", "abcdefghijklmnop1234", "sk-live-1234567890abcdef",
                   "xyz12345678"):  # fmt: skip
        assert secret not in text, secret
    assert text.count(MASK) >= 5
    assert "'Accept': 'json'" in text  # only the secret goes, not the rest of the line


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("postgresql+psycopg://app:hunter2@db:5432/x", "postgresql+psycopg://app:"),
        ("X-Hub-Signature-256: sha256=" + "a" * 64, "sha256="),
        ("AKIAIOSFODNN7EXAMPLE in a line", "in a line"),
        ("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjMifQ.c2lnbmF0dXJlc2lnbg", ""),
    ],
)
def test_redact_text(raw: str, kept: str) -> None:
    out = redact_text(raw)
    assert MASK in out and kept in out
    assert "hunter2" not in out and "a" * 64 not in out and "AKIAIOSFODNN7EXAMPLE" not in out


def test_console_output_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    configure_logging("INFO", stream=stream)
    logging.getLogger("x").info("hello")
    configure_logging("INFO")
    assert "hello" in stream.getvalue() and not stream.getvalue().lstrip().startswith("{")


def test_default_handler_follows_sys_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured before stdout is replaced (and the old one closed), logging still works."""
    configure_logging("INFO", json_output=True)
    old, new = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", old)
    old.close()
    monkeypatch.setattr("sys.stdout", new)
    logging.getLogger("x").warning("still here")
    assert "still here" in new.getvalue()
