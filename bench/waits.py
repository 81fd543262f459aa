"""`python -m bench.waits`: threads or asyncio for a review's HTTP waits? A rough, honest measurement.

A review mostly waits: on GitHub (fetch the PR, its files, the config, earlier comments and reviews; post
the check run and the review) and on the LLM (two calls). This sends exactly that sequence of HTTP calls
(7 GitHub requests of ~20 ms, 2 LLM requests of `--latency` s) to a local aiohttp server, for `--reviews`
reviews, in a child process per design so each process's peak RSS is its own:

* `threads`: N threads over one shared `httpx.Client` (what the worker does, N = reviews in flight);
* `asyncio`: one event loop, `httpx.AsyncClient`, N reviews in flight (a semaphore).

Each design runs `--waves` x N reviews, so every row takes about the same time.

It reports reviews/min and the child's peak RSS. It measures the waiting, not the analysis: the CPU work
of a review (diff parsing, analyzers) is the same in either design and is measured by `bench engine`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

GITHUB_CALLS = [("GET", "/pull"), ("GET", "/files"), ("GET", "/config"), ("GET", "/comments"),
                ("GET", "/reviews"), ("POST", "/check-runs"), ("POST", "/review")]  # fmt: skip
LLM_CALLS = 2
GITHUB_LATENCY = 0.02
BODY = {"ok": True, "items": ["x" * 200] * 20}  # a few kB, like a PR's JSON


def serve(latency: float) -> tuple[str, threading.Event]:
    """An aiohttp server in a thread: GitHub paths answer after 20 ms, /llm after `latency` seconds."""
    from aiohttp import web

    ready, stop = threading.Event(), threading.Event()
    where: dict[str, str] = {}

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency if request.path == "/llm" else GITHUB_LATENCY)
        return web.json_response(BODY)

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        where["url"] = f"http://127.0.0.1:{port}"
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(10)
    return where["url"], stop


def review_sync(client: httpx.Client, url: str) -> None:
    for method, path in GITHUB_CALLS[:5]:
        client.request(method, url + path).json()
    for _ in range(LLM_CALLS):
        client.post(url + "/llm", json={"prompt": "x" * 2000}).json()
    for method, path in GITHUB_CALLS[5:]:
        client.request(method, url + path, json={"body": "x" * 500}).json()


async def review_async(client: httpx.AsyncClient, url: str) -> None:
    for method, path in GITHUB_CALLS[:5]:
        (await client.request(method, url + path)).json()
    for _ in range(LLM_CALLS):
        (await client.post(url + "/llm", json={"prompt": "x" * 2000})).json()
    for method, path in GITHUB_CALLS[5:]:
        (await client.request(method, url + path, json={"body": "x" * 500})).json()


def child(mode: str, url: str, in_flight: int, reviews: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=in_flight + 4, max_keepalive_connections=in_flight + 4)
    started = time.perf_counter()
    if mode == "threads":
        with httpx.Client(limits=limits, timeout=60) as client, ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(lambda _i: review_sync(client, url), range(reviews)))
    else:

        async def main() -> None:
            gate = asyncio.Semaphore(in_flight)
            async with httpx.AsyncClient(limits=limits, timeout=60) as client:

                async def one() -> None:
                    async with gate:
                        await review_async(client, url)

                await asyncio.gather(*(one() for _ in range(reviews)))

        asyncio.run(main())
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "in_flight": in_flight, "reviews": reviews,
            "reviews_per_min": reviews / elapsed * 60, "peak_rss_mb": rss_mb}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.waits", description=__doc__)
    parser.add_argument("--latency", type=float, default=2.0, help="LLM latency per call (s)")
    parser.add_argument("--waves", type=int, default=3, help="reviews per design = waves x in flight")
    parser.add_argument("--reviews", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "IN_FLIGHT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, url, in_flight = args.child
        print(json.dumps(child(mode, url, int(in_flight), args.reviews)))
        return
    url, stop = serve(args.latency)
    print(f"LLM latency {args.latency:g} s; {args.waves} x in-flight reviews per design; each review makes"
          " 7 GitHub calls (20 ms) and 2 LLM calls")  # fmt: skip
    print("| design | in flight | reviews/min | peak RSS (MB) |\n| --- | --- | --- | --- |")
    try:
        for mode, in_flight in (("threads", 4), ("threads", 32), ("threads", 100), ("asyncio", 100)):
            out = subprocess.run(
                [sys.executable, "-m", "bench.waits", "--reviews", str(args.waves * in_flight),
                 "--child", mode, url, str(in_flight)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            r = json.loads(out.stdout)
            print(
                f"| {mode} | {in_flight} | {r['reviews_per_min']:.0f} | {r['peak_rss_mb']:.0f} |", flush=True
            )
    finally:
        stop.set()


if __name__ == "__main__":
    main()
