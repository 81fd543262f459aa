"""The server under test: the real ReviewOps API plus a bare `POST /bare` that only answers 202,
in the same app and process, so both are measured under identical conditions."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from api.main import create_app


def create() -> FastAPI:
    app = create_app()

    @app.post("/bare", status_code=202, include_in_schema=False)
    async def bare() -> Response:
        return Response(status_code=202)

    return app
