"""A fake OpenAI-compatible chat-completions server: a real HTTP server on 127.0.0.1 for LLM tests.

    with FakeOpenAI() as llm:        # or the `fake_openai` fixture (tests/reviewops/analysis/conftest.py)
        llm.mode = "good"                          # good | garbage | slow | error
        llm.findings = [{"path": "app.py", "line": 3, "message": "bug"}]
        settings = LLMSettings(base_url=llm.url, api_key="k", model="m", timeout_seconds=1)
        ... llm.requests                           # every request: path, headers, parsed JSON body

Modes: `good` answers {"findings": <findings>, "checklist": <checklist>, "summary": ...} as the message
content (so both the reviewer and the QA checklist parse it), `garbage` answers non-JSON text, `slow`
waits `slow_seconds` before answering (longer than a test's client timeout), `error` answers HTTP 500,
`wrong` answers JSON of the wrong shape, `length` answers a cut-off JSON with `finish_reason: length`,
`tool_calls` answers a tool call and no content, `rate_limited` answers 429 with `Retry-After:
<retry_after>`, `drop` closes the connection without an answer.
`script` is a list of modes used one per request before falling back to `mode` (e.g. ["error", "good"]
to test a retry). The request body is validated: model and messages are required, like the real API.

Like real servers, it takes only some answer forms (`forms`; a refused form answers `refuse_status`, 400 by
default, 500 like llama-cpp-python for `json_schema`), and with `context_tokens` set it refuses a prompt
whose size (4 characters a token) plus `max_tokens` is over it with OpenAI's `context_length_exceeded`
answer. `GET /v1/models` lists the model, with vLLM's `max_model_len` when `max_model_len` is set.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.servers import BackloggedServer

MODES = ("good", "garbage", "slow", "error", "wrong", "length", "tool_calls", "rate_limited", "drop")
ALL_FORMS = ("json_schema", "json_object_schema", "json_object", "plain")


def answer_form(body: dict[str, Any]) -> str:
    """Which answer form a request used (see reviewops.analysis.llm.forms)."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return "plain"
    if fmt.get("type") == "json_schema":
        return "json_schema"
    return "json_object_schema" if "schema" in fmt else "json_object"


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    at: float = field(default_factory=time.time)  # when it arrived (wall clock)

    @property
    def prompt(self) -> str:
        """All message contents joined: what the model was shown."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class FakeOpenAI:
    mode: str = "good"
    findings: list[dict[str, Any]] = field(default_factory=list)
    checklist: list[str] = field(default_factory=lambda: ["Try the happy path", "Try an invalid input"])
    summary: str = "Looks reasonable."
    script: list[str] = field(default_factory=list)
    slow_seconds: float = 5.0
    json_mode: bool = True  # False: answer 400 to `response_format` like servers without JSON mode
    forms: tuple[str, ...] = ALL_FORMS
    refuse_status: int = 400
    context_tokens: int | None = None
    max_model_len: int | None = None
    retry_after: str = "0"
    prompt_tokens: int = 100
    completion_tokens: int = 20
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: BackloggedServer | None = field(default=None, repr=False)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        """Base URL for the openai SDK (`base_url`), ending in /v1."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    entry: dict[str, Any] = {"id": "reviewer-1", "object": "model", "owned_by": "fake"}
                    if fake.max_model_len:
                        entry["max_model_len"] = fake.max_model_len
                    self._send(200, {"object": "list", "data": [entry]})
                    return
                self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._release.clear()
        self._server = BackloggedServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def close(self) -> None:
        self._release.set()  # let slow handlers finish now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_mode(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.mode

    def _handle(self, handler: Any) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            handler._send(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
            return
        with self._lock:
            headers = {k.lower(): v for k, v in handler.headers.items()}
            self.requests.append(RecordedRequest(handler.path, headers, body))
        if handler.path.rstrip("/") != "/v1/chat/completions":
            handler._send(404, {"error": {"message": f"no route {handler.path}", "type": "not_found"}})
            return
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            handler._send(400, {"error": {"message": "model and messages are required", "type": "invalid"}})
            return
        form = answer_form(body)
        if (not self.json_mode and "response_format" in body) or form not in self.forms:
            status = self.refuse_status if form == "json_schema" else 400
            handler._send(
                status, {"error": {"message": f"response_format {form} not supported", "type": "invalid"}}
            )
            return
        if self.context_tokens is not None:
            requested = len(json.dumps(body["messages"])) // 4 + int(body.get("max_tokens") or 0)
            if requested > self.context_tokens:
                message = (
                    f"This model's maximum context length is {self.context_tokens} tokens. However, "
                    f"you requested {requested} tokens. Please reduce the length of the messages."
                )
                error = {"message": message, "type": "invalid_request_error", "param": "messages",
                         "code": "context_length_exceeded"}  # fmt: skip
                handler._send(400, {"error": error})
                return
        mode = self._next_mode()
        if mode == "error":
            handler._send(500, {"error": {"message": "internal error", "type": "server_error"}})
            return
        if mode == "rate_limited":
            error = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
            handler._send(429, {"error": error}, {"Retry-After": self.retry_after})
            return
        if mode == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if mode == "slow":
            self._release.wait(self.slow_seconds)
        finish, tool_calls = "stop", None
        good = json.dumps({"findings": self.findings, "checklist": self.checklist, "summary": self.summary})
        if mode == "garbage":
            content: str | None = "Sure! Here is my review: the code looks fine, mostly. {not json"
        elif mode == "wrong":
            content = json.dumps({"review": "looks fine", "issues": 0})
        elif mode == "length":
            content, finish = good[: max(1, len(good) // 2)], "length"
        elif mode == "tool_calls":
            content, finish = None, "tool_calls"
            tool_calls = [{"id": "call_1", "type": "function",
                           "function": {"name": "review", "arguments": good}}]  # fmt: skip
        else:
            content = good
        handler._send(200, self._completion(body, content, finish, tool_calls))

    def _completion(self, body: dict[str, Any], content: str | None, finish: str = "stop",
                    tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
        }


@contextmanager
def fake_openai_server(**kwargs: Any) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.close()
