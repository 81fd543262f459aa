"""GitHub's API contract as the fake GitHub checks it: the OpenAPI description (validated with
openapi-core) plus the rules GitHub applies beyond the schema (review comments only on diff lines)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from openapi_core import OpenAPI

from tests.support import github_objects as obj
from tests.support.patches import left_lines, parse_hunks


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(obj.spec())


@lru_cache(maxsize=1)
def templates() -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    out = []
    for template, ops in obj.spec()["paths"].items():
        rx = re.escape(template)
        rx = rx.replace(re.escape("{path}"), "(?P<path>.+)")
        rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", rx)
        out.append((re.compile(f"^{rx}$"), template, frozenset(m.upper() for m in ops)))
    return out


def match_template(path: str) -> tuple[str, dict[str, str], frozenset[str]] | None:
    for rx, template, methods in templates():
        m = rx.match(path)
        if m:
            return template, m.groupdict(), methods
    return None


def comment_problem(c: dict[str, Any], files: dict[str, dict[str, Any]]) -> str | None:
    f = files.get(c.get("path", ""))
    if f is None:
        return f"{c.get('path')}: path is not part of the pull request"
    if "line" not in c:
        return f"{c['path']}: comment without line (position is deprecated)"
    side = c.get("side", "RIGHT")
    if side == "RIGHT":
        allowed = set()
        for hunk in parse_hunks(f.get("patch")):
            allowed.update(hunk.added)
            allowed.update(hunk.context)
    else:
        allowed = left_lines(f.get("patch"))
    lines = [c["line"]] + ([c["start_line"]] if "start_line" in c else [])
    bad = [n for n in lines if n not in allowed]
    if bad:
        return f"{c['path']}: line {bad[0]} ({side}) could not be resolved (not in the diff)"
    if "start_line" in c and c["start_line"] > c["line"]:
        return f"{c['path']}: start_line after line"
    return None


def schema_errors(err: Exception) -> list[Any]:
    found: list[Any] = []
    cause = err.__cause__
    while cause is not None:
        found.extend(getattr(cause, "schema_errors", []) or [])
        cause = cause.__cause__
    return found


def only_nullable_enum_quirk(err: Exception) -> bool:
    """GitHub marks fields like check-run `conclusion` `nullable: true` with an `enum` that lacks null;
    GitHub sends null there, and OAS 3.0.3 validators reject it. Only that one quirk is tolerated."""
    errors = schema_errors(err)
    return bool(errors) and all(
        e.instance is None and e.validator == "enum" and (e.schema or {}).get("nullable") for e in errors
    )


def describe(err: Exception) -> str:
    parts = [f"{type(err).__name__}: {str(err)[:120]}"]
    cause = err.__cause__
    while cause is not None:
        for schema_error in getattr(cause, "schema_errors", []) or []:
            parts.append(f"{list(schema_error.absolute_path)}: {schema_error.message[:200]}")
        cause = cause.__cause__
    return "; ".join(parts)[:1500]
