"""Trust before memory, over a real socket to uvicorn configured as `reviewops api` configures it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from api.server import server_options
from reviewops.db.session import Database
from reviewops.settings import Settings
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.support.webhooks import load_payload, signed_request

MiB = 1024 * 1024


@pytest.fixture(params=["httptools", "h11"])
def server(request: Any, settings: Settings, db: Database, broker: Any) -> Iterator[tuple[int, str]]:
    from api.main import create_app

    app = create_app(settings, db=db, broker=broker)
    options = server_options(settings)
    if request.param == "h11":
        options["http"] = "h11"
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn started")
    yield port, request.param
    server.should_exit = True
    thread.join(timeout=10)


def exchange(port: int, head: bytes, body: bytes = b"", *, send_timeout: float = 5.0) -> bytes:
    """Send `head` (then `body`), and read what the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=send_timeout) as sock:
        # The server may answer and close before taking it all: the answer is still readable.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[1]:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return answer


def request_head(headers: dict[str, str], content_length: int) -> bytes:
    lines = ["POST /webhooks/github HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {content_length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def test_a_2_mb_header_is_refused(server: tuple[int, str]) -> None:
    """Before issue 18 a 50 MB header was read whole and answered 401 (eight at once: 601 MB). The server
    refuses it while parsing, before the app (whose own check words it differently) sees a request."""
    port, parser = server
    _, headers = signed_request("ping", b"{}")
    head = request_head(headers | {"X-Padding": "a" * (2 * MiB)}, 2)
    answer = exchange(port, head, b"{}")
    if parser == "httptools":
        assert status_of(answer) == 431 and b"the server's limit" in answer, answer[:300]
    else:  # h11's own bound; uvicorn words it 400
        assert status_of(answer) == 400 and b"Invalid HTTP request" in answer, answer[:300]


def test_a_header_just_under_the_bound_is_served(server: tuple[int, str], settings: Settings) -> None:
    server_port = server[0]
    body, headers = signed_request("ping", load_payload("ping/payload.json"))
    padding = settings.max_request_header_bytes - 1024
    answer = exchange(server_port, request_head(headers | {"X-Padding": "a" * padding}, len(body)), body)
    assert status_of(answer) == 202, answer[:300]


@pytest.mark.parametrize(
    "signature",
    [None, "sha1=" + "0" * 40, "sha256=not-hex"],
    ids=["unsigned", "wrong-algorithm", "malformed"],
)
def test_an_unsigned_25_mib_body_is_refused_unread(server: tuple[int, str], signature: str | None) -> None:
    server_port = server[0]
    """The answer comes while the client has sent only the head: the server never waited for the body.
    Before issue 18 the body was read first (16 such requests took the API from 274 to 809 MB)."""
    _, headers = signed_request("ping", b"{}")
    headers.pop("X-Hub-Signature-256")
    if signature:
        headers["X-Hub-Signature-256"] = signature
    answer = exchange(server_port, request_head(headers, 25 * MiB))  # the head, and not a byte of the body
    assert status_of(answer) == 401, answer[:300]
    assert b"application/problem+json" in answer


@pytest.mark.parametrize("event", [None, "Pull Request!", "x" * 65], ids=["missing", "malformed", "too-long"])
def test_a_bad_event_header_is_refused_unread(server: tuple[int, str], event: str | None) -> None:
    server_port = server[0]
    _, headers = signed_request("ping", b"{}")
    headers.pop("X-GitHub-Event")
    if event:
        headers["X-GitHub-Event"] = event
    answer = exchange(server_port, request_head(headers, 25 * MiB))
    assert status_of(answer) == 400, answer[:300]
