"""An async HTTP load generator (run in its own process so it does not share the server's GIL).

Two modes: `rate` offers a fixed rate and measures each request's latency from its scheduled start
(so queueing in the client counts, no coordinated omission); `max` keeps N requests in flight.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import httpx

from reviewops.signatures import sign


async def run(
    url: str, mode: str, rate: float, seconds: float, concurrency: int, body: bytes, secret: str
) -> dict[str, object]:
    signature = sign(secret, body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(scheduled: float) -> None:
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
                       "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": signature}  # fmt: skip
            response = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - scheduled)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        for _ in range(20):  # warm-up: connections, caches
            await one(time.perf_counter())
        latencies.clear()
        statuses.clear()
        started = time.perf_counter()
        if mode == "rate":
            tasks = []
            total = int(rate * seconds)
            for i in range(total):
                scheduled = started + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled)))
            await asyncio.gather(*tasks)
        else:
            deadline = started + seconds

            async def loop() -> None:
                while time.perf_counter() < deadline:
                    await one(time.perf_counter())

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
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
    result = asyncio.run(
        run(args.url, args.mode, args.rate, args.seconds, args.concurrency, body, args.secret)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
