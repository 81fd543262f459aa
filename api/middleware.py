"""ASGI middleware: the tenant's RateLimit headers on every response, and the bound on request heads.

The tenant dependency stores the RateLimit headers in the request state; a dependency's `Response` would
not reach error responses or streamed ones, a plain ASGI wrapper reaches all of them (and never buffers
SSE). The head bound is enforced first by the server (reviewops.cli.serving); HeaderLimit keeps it when
the app runs under another server.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_KEY = "ratelimit_headers"


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = (scope.get("state") or {}).get(STATE_KEY)
                if extra:
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added = [
                        (name.lower().encode(), value.encode())
                        for name, value in extra.items()
                        if name.lower().encode() not in present
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeaderLimit:
    """Answer 431 problem JSON to a request whose head (path, query and headers) is over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            size += sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
            if size > self.limit:
                await _refuse_head(send, size, self.limit)
                return
        await self.app(scope, receive, send)


async def _refuse_head(send: Send, size: int, limit: int) -> None:
    body = orjson.dumps({
        "type": "https://reviewops.dev/problems/headers-too-large",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": f"request head of {size} bytes exceeds the {limit}-byte limit",
    })  # fmt: skip
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": 431, "headers": headers})
    await send({"type": "http.response.body", "body": body})
