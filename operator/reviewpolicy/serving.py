"""The operator's own HTTP endpoint: `/metrics` for Prometheus and `/healthz` for the liveness probe.

It runs inside kopf's event loop, so a stuck loop fails the probe, which is what liveness should catch.
Redis being down does not fail it: a restart would not fix Redis, and the policy's conditions say so.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy", "service": "reviewops-operator"})


async def start_http(host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def stop_http(runner: web.AppRunner) -> None:
    await runner.cleanup()
