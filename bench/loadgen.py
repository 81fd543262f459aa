"""A lean HTTP/1.1 load generator (its own process, so it does not share the server's GIL).

Plain asyncio streams (uvloop when installed) over keep-alive connections, with the request bytes
built once: a general-purpose client (httpx) spent 2-5 ms of CPU per request here, so on a 2-core
machine it, not the server, set the bare endpoint's "throughput". This one spends a few tens of µs.

Two modes: `rate` offers a fixed rate and measures each request's latency from its scheduled start
(a request waiting for a free connection counts: no coordinated omission); `max` keeps one request in
flight per connection. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit

from reviewops.signatures import sign


class Connection:
    """One keep-alive connection; `post` sends a prepared request and returns the status code."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by this load generator")
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def request_template(url: str, body: bytes, secret: str) -> tuple[str, int, bytes, bytes]:
    """The request split around its delivery id (the only part that changes per request)."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: pull_request\r\nX-Hub-Signature-256: {sign(secret, body)}\r\n"
        f"Content-Length: {len(body)}\r\nX-GitHub-Delivery: "
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, head, b"\r\n\r\n" + body


async def run(
    url: str, mode: str, rate: float, seconds: float, concurrency: int, body: bytes, secret: str
) -> dict[str, object]:
    host, port, head, tail = request_template(url, body, secret)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connections = [await Connection.open(host, port) for _ in range(concurrency)]

    async def one(conn: Connection, scheduled: float) -> None:
        status = await conn.post(head + uuid.uuid4().hex.encode() + tail)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    try:
        for conn in connections:  # warm-up: connections, server-side pools and caches
            await one(conn, time.perf_counter())
        latencies.clear()
        statuses.clear()
        started = time.perf_counter()
        if mode == "rate":
            schedule: asyncio.Queue[float | None] = asyncio.Queue()

            async def worker(conn: Connection) -> None:
                while (scheduled := await schedule.get()) is not None:
                    await one(conn, scheduled)

            workers = [asyncio.create_task(worker(c)) for c in connections]
            total = int(rate * seconds)
            for i in range(total):
                scheduled = started + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                schedule.put_nowait(scheduled)
            for _ in workers:
                schedule.put_nowait(None)
            await asyncio.gather(*workers)
        else:
            deadline = started + seconds

            async def loop(conn: Connection) -> None:
                while time.perf_counter() < deadline:
                    await one(conn, time.perf_counter())

            await asyncio.gather(*(loop(c) for c in connections))
        elapsed = time.perf_counter() - started
    finally:
        for conn in connections:
            conn.close()
    return {"count": len(latencies), "elapsed": elapsed, "latencies": latencies, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["rate", "max"], default="rate")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--body", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    with open(args.body, "rb") as handle:
        body = handle.read()
    work = run(args.url, args.mode, args.rate, args.seconds, args.concurrency, body, args.secret)
    try:
        import uvloop
    except ImportError:  # plain asyncio works, with a little more CPU per request
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
