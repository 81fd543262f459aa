"""How uvicorn serves the API: the request-head bound enforced while the head is still being parsed.

A request head has no size bound in uvicorn's httptools protocol (a 50 MB header was read whole and then
answered 401; eight at once took 600 MB). HTTP/1 heads are bounded here, while they arrive: a head still
incomplete past `max_request_header_bytes` is answered 431 and its connection closed, so at most that
much plus one socket read is held per connection. h11 (`--http h11`) gets the same bound from its own
`h11_max_incomplete_event_size`. api.middleware.HeaderLimit checks again under any other server.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reviewops.settings import Settings

_BODY = (
    b'{"type":"https://reviewops.dev/problems/headers-too-large","title":"Request Header Fields Too Large",'
    b'"status":431,"detail":"the request head exceeds the server\'s limit"}'
)
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, counting the bytes of each request head until it is complete."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit: int = self.config.h11_max_incomplete_event_size or 64 * 1024
        self._head_bytes = 0
        self._reading_head = True

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self._head_limit and not self.transport.is_closing():
            self.logger.warning("request head over %s bytes refused with 431", self._head_limit)
            self.transport.write(_RESPONSE)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head, self._head_bytes = True, 0


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn keyword arguments every ReviewOps HTTP server uses."""
    return {
        "http": BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": settings.max_request_header_bytes,
    }
