"""Problem documents for errors the routes do not catch themselves."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from api.problems import install_problem_handlers


class _DriverError(Exception):
    """Stands in for the driver's exception that SQLAlchemy wraps (no server diagnostics)."""


def test_a_value_the_database_refuses_is_400_invalid_value_naming_only_the_reason() -> None:
    """Safety net behind the validated parameters: the request is at fault, not the server, and the
    statement and its parameters (a payload, a secret) stay out of the answer."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise DataError(
            "SELECT secret", {"p": "s3cret"}, _DriverError("PostgreSQL text fields cannot contain NUL")
        )

    response = TestClient(app).get("/refused")
    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("/invalid-value") and "cannot contain NUL" in body["detail"]
    assert "s3cret" not in response.text and "SELECT" not in response.text
