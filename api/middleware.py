"""ASGI middleware that puts the tenant's RateLimit headers on every response of a tenant request.

The tenant dependency stores them in the request state; a dependency's `Response` would not reach
error responses or streamed ones, a plain ASGI wrapper reaches all of them (and never buffers SSE).
"""

from __future__ import annotations

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
