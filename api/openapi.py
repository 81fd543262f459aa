"""The OpenAPI description's error answers: every status the API can give, each as problem JSON.

FastAPI documents only what the routes declare, and documents 422 as `application/json` although the API
answers `application/problem+json` (api.problems). The description is completed here once, from what
the shared dependencies and handlers answer: 401 without a valid key or token, 403 for an inactive tenant,
429 over the tenant's rate limit, 400 for a value the database refuses, 404 for an unknown id, 503 while
PostgreSQL or Redis is down (issue 18: schemathesis checks the answers against it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}
_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_DESCRIPTIONS = {
    "400": "A value of the request cannot be used",
    "401": "Missing, invalid or revoked credentials",
    "403": "The tenant is not active",
    "404": "Not found",
    "422": "The request does not validate",
    "429": "Over the tenant's rate limit (see Retry-After)",
    "503": "PostgreSQL or Redis unavailable; retry after Retry-After seconds",
}


def _expected(path: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses the shared dependencies and handlers can give this operation."""
    if not (path.startswith("/api/v1/") or path.startswith("/webhooks/github/deliveries")):
        return set()
    codes = {"400", "401", "422", "503"}
    if "{" in path:
        codes.add("404")
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/admin"):
        codes |= {"403", "429"}
    return codes


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the missing error answers and make every error answer problem JSON (in place)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code in _expected(path, operation):
                responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = dict(_PROBLEM)
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
