"""The server under test: the real ReviewOps API plus a bare `POST /bare`, in the same app and process,
so both are measured under identical conditions.

The bare endpoint is the least any honest webhook receiver does (issue 20, "fair baselines"): it reads
the whole body and checks its `X-Hub-Signature-256` HMAC in constant time before answering 202 (401
otherwise). A baseline that answered without reading the body would flatter nobody but the baseline.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from fastapi import FastAPI, Request
from fastapi.responses import Response

from api.main import create_app


def bare_secret() -> bytes:
    """The first configured webhook secret (the benchmark's server sets REVIEWOPS_WEBHOOK_SECRETS)."""
    secret = os.environ.get("REVIEWOPS_WEBHOOK_SECRETS", "").split(",")[0].strip()
    if not secret:
        raise RuntimeError("REVIEWOPS_WEBHOOK_SECRETS is not set: the bare endpoint verifies signatures too")
    return secret.encode()


def create() -> FastAPI:
    app = create_app()
    key = bare_secret()

    @app.post("/bare", status_code=202, include_in_schema=False)
    async def bare(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return Response(status_code=401)
        return Response(status_code=202)

    return app
