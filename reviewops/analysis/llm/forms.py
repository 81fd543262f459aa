"""How an endpoint takes the answer's JSON schema (the answer form), learnt once per endpoint and model.

OpenAI-compatible servers differ in how they accept a schema for constrained decoding:

- `json_schema`: OpenAI's structured outputs, `{"type": "json_schema", "json_schema": {...}}` (OpenAI, vLLM,
  Ollama, llama.cpp's own `llama-server`);
- `json_object_schema`: `{"type": "json_object", "schema": {...}}` (llama-cpp-python's server, which answers
  the `json_schema` form with a 500);
- `json_object`: JSON mode without a schema (the schema is still in the prompt);
- `plain`: no `response_format` at all.

The first request to an endpoint tries the richest form and steps down when the endpoint refuses the form
(4xx, or the 500 llama-cpp-python gives for `json_schema`); the first form that gets an answer is
remembered for the process, so the ladder is climbed down once, not on every request. The size of the
answer (`max_tokens`) comes from the same schema: every string, list and number in it is bounded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

FORMS = ("json_schema", "json_object_schema", "json_object", "plain")
AUTO = "auto"
DEFAULT_STRING_CHARS = 200  # a string the schema does not bound (should not happen in our answers)
DEFAULT_ITEMS = 10
CHARS_PER_ANSWER_TOKEN = 2.5  # JSON punctuation and short keys tokenize densely: err on the large side

_learnt: dict[tuple[str, str], str] = {}
_probing: dict[tuple[str, str], threading.Lock] = {}
_lock = threading.Lock()


def endpoint_key(base_url: str | None, model: str | None) -> tuple[str, str]:
    return ((base_url or "https://api.openai.com/v1").rstrip("/"), model or "")


def learnt_form(key: tuple[str, str]) -> str | None:
    with _lock:
        return _learnt.get(key)


def remember_form(key: tuple[str, str], form: str) -> None:
    with _lock:
        before = _learnt.get(key)
        _learnt[key] = form
    if before != form:
        log.info("llm endpoint %s model %s: answer form %s learnt", key[0], key[1] or "-", form)


def forget_forms() -> None:
    """Drop what was learnt (tests; an endpoint upgraded in place is re-learnt after a restart anyway)."""
    with _lock:
        _learnt.clear()


class ProbeWaitExpired(Exception):
    """Another request was still finding the endpoint's form when the wait ran out."""


def probe_lock(key: tuple[str, str]) -> threading.Lock:
    """Held while the form of an endpoint is being found, so concurrent parts do not all probe at once."""
    with _lock:
        return _probing.setdefault(key, threading.Lock())


@contextlib.contextmanager
def probe_turn(configured: str, key: tuple[str, str], wait: float) -> Iterator[None]:
    """One request at a time while the endpoint's form is unknown (`auto`); the others wait for it and then
    go side by side. They used to take the lock in turn even after the first had learnt the form, so a new
    endpoint's first review asked its parts one after another. ProbeWaitExpired after `wait` seconds."""
    if configured != AUTO or learnt_form(key) is not None:
        yield
        return
    lock = probe_lock(key)
    if not lock.acquire(timeout=wait):
        raise ProbeWaitExpired
    probing = learnt_form(key) is None  # else learnt by the request that held the lock: go side by side
    if not probing:
        lock.release()
    try:
        yield
    finally:
        if probing:
            lock.release()


def first_form(configured: str, key: tuple[str, str]) -> str:
    if configured != AUTO:
        return configured
    return learnt_form(key) or FORMS[0]


def next_form(form: str) -> str | None:
    index = FORMS.index(form)
    return FORMS[index + 1] if index + 1 < len(FORMS) else None


def refuses_form(form: str, status: int, message: str) -> bool:
    """True when an error answer means "not this response_format" rather than a broken server.

    400, 415 and 422 on a request with a response_format refuse the form (401/403/404/429 are about the
    key, the URL or timing, not the form); a 500 does so only for `json_schema` (llama-cpp-python's known
    answer to that form), so a server that is simply failing costs at most one extra request.
    """
    if form == "plain":
        return False
    return status in (400, 415, 422) or (status == 500 and form == "json_schema")


def response_format(form: str, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if form == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
    if form == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if form == "json_object":
        return {"type": "json_object"}
    return None


def compact(node: Any) -> Any:
    """The schema without pydantic's `title`s: the same constraints in fewer prompt tokens."""
    if isinstance(node, dict):
        return {k: compact(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [compact(v) for v in node]
    return node


def schema_instruction(schema: dict[str, Any]) -> str:
    """The schema in words for the prompt: every form sends it, constrained decoding or not."""
    return (
        "Answer with exactly one JSON object, and nothing else, that matches this JSON schema:\n"
        + json.dumps(compact(schema), separators=(",", ":"))
    )


def _chars(node: Any, defs: dict[str, Any], depth: int = 0) -> int:
    """Upper bound of the JSON text (in characters) an answer matching `node` can take."""
    if depth > 20 or not isinstance(node, dict):
        return DEFAULT_STRING_CHARS
    if "$ref" in node:
        target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        return _chars(target, defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return max(_chars(option, defs, depth + 1) for option in node[key])
    if "enum" in node:
        return max(len(json.dumps(value)) for value in node["enum"])
    if "const" in node:
        return len(json.dumps(node["const"]))
    kind = node.get("type")
    if kind == "string":
        return int(node.get("maxLength", DEFAULT_STRING_CHARS)) + 2
    if kind in ("integer", "number"):
        return 12
    if kind in ("boolean", "null"):
        return 5
    if kind == "array":
        items = int(node.get("maxItems", DEFAULT_ITEMS))
        return 2 + items * (_chars(node.get("items", {}), defs, depth + 1) + 2)
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return 2 + sum(len(name) + 4 + _chars(sub, defs, depth + 1) for name, sub in props.items())
    return DEFAULT_STRING_CHARS


def answer_tokens(schema: dict[str, Any], cap: int) -> int:
    """`max_tokens` for an answer of this schema: its largest valid JSON, with room for whitespace."""
    chars = _chars(schema, schema.get("$defs", {}))
    return max(64, min(cap, math.ceil(chars / CHARS_PER_ANSWER_TOKEN) + 32))
