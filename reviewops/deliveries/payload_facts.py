"""What the intake needs from a webhook payload, read without building the payload's dict.

A pull_request payload is ~30 kB of JSON; parsing it into Python objects (and freeing them again) was
the largest part of the webhook route's own CPU, for five fields. simdjson validates the whole document
(syntax and UTF-8) into a compact tape and builds Python objects only for the fields read. PostgreSQL
stores the text itself (reviewops.deliveries.intake). Whatever simdjson cannot vouch for (not an object,
integers past 64 bits, anything invalid) goes to the full parse, which also words the error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import simdjson

from reviewops.db.types import BIGINT_MAX


@dataclass(frozen=True)
class PayloadFacts:
    action: str | None
    installation_id: int | None
    repository: str | None
    pr_number: int | None


def _positive_bigint(value: object) -> int | None:
    """A JSON `true` is not installation 1; an id past 64 bits would fail the row's INSERT."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BIGINT_MAX:
        return value
    return None


def _facts(doc: Any, is_object: Callable[[object], bool]) -> PayloadFacts:
    """The same rules on a dict or a simdjson document (`is_object` tells their objects apart)."""
    action = doc.get("action")
    installation = doc.get("installation")
    repository = doc.get("repository")
    name = repository.get("full_name") if is_object(repository) else None
    number = None
    for key in ("pull_request", "issue"):
        item = doc.get(key)
        candidate = item.get("number") if is_object(item) else None
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            number = candidate
            break
    return PayloadFacts(
        action=action[:64] if isinstance(action, str) else None,
        installation_id=_positive_bigint(installation.get("id")) if is_object(installation) else None,
        repository=name[:255] if isinstance(name, str) else None,
        pr_number=number,
    )


def facts_of(payload: Mapping[str, Any]) -> PayloadFacts:
    """The facts of an already parsed payload."""
    return _facts(payload, lambda value: isinstance(value, Mapping))


def has_nul_escape(raw: bytes | bytearray) -> bool:
    """Whether a JSON text holds a `\\u0000` escape (PostgreSQL's jsonb cannot store a NUL).

    Walks the backslashes (memchr-fast; a webhook has few) and skips each escaped character, so an
    escaped backslash followed by "u0000" is not mistaken for one. A substring search took ~10 µs on a
    30 kB payload: 4% of the webhook route's CPU."""
    index = raw.find(b"\\")
    while index != -1:
        if raw.startswith(b"u0000", index + 1):
            return True
        index = raw.find(b"\\", index + 2)
    return False


def without_nul_escapes(raw: bytes) -> bytes:
    """The JSON text with each `\\u0000` escape replaced by `\\ufffd` (as in has_nul_escape, an escaped
    backslash followed by "u0000" is left alone). Done on the text, not on a parsed dict: re-serializing
    the dict failed on payloads nested 254 levels deep (orjson's limit) and recursed past Python's limit
    near 1000, so a payload GitHub can send became a 500 (issue 18)."""
    out = bytearray()
    start = 0
    index = raw.find(b"\\")
    while index != -1:
        if raw.startswith(b"u0000", index + 1):
            out += raw[start:index]
            out += b"\\ufffd"
            start = index + 6
            index = raw.find(b"\\", start)
        else:
            index = raw.find(b"\\", index + 2)
    if not start:
        return raw
    out += raw[start:]
    return bytes(out)


_local = threading.local()
# A parser keeps buffers as large as the largest document it has read, for the life of the thread:
# bodies past this size (rare; GitHub allows 25 MB) get a parser of their own (a full parse into a dict
# held the body a third time).
LARGEST_READ = 1 << 20


def _unique_keys(obj: Any) -> bool:
    keys = list(obj.keys())
    return len(keys) == len(set(keys))


def _vouched(doc: Any) -> bool:
    """simdjson reads the first of repeated keys, PostgreSQL's jsonb and the full parse keep the last.
    Where the tenant comes from (the top level and `installation`, a few keys each) repeated keys go to
    the full parse. `repository` (~90 keys) is not checked: listing its keys cost 6 % of the route's CPU,
    and a repeated `full_name` can only come from whoever holds the webhook secret, who can send any
    name outright (GitHub sends no repeated keys)."""
    if not _unique_keys(doc):
        return False
    installation = doc.get("installation")
    return not isinstance(installation, simdjson.Object) or _unique_keys(installation)


def _parser() -> simdjson.Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()  # it reuses its buffers: ~30 µs saved per document
    return parser


def read_facts(body: bytes) -> PayloadFacts | None:
    """The facts of a JSON object, or None when simdjson cannot vouch for it (the caller parses it
    fully). Nothing of simdjson's outlives this call: its parser can only be reused once its previous
    document is gone."""
    large = len(body) > LARGEST_READ
    for _ in range(2):
        try:
            # A large body gets a parser of its own, freed with it: a kept one would hold its buffers.
            doc = (simdjson.Parser() if large else _parser()).parse(body)
            if not isinstance(doc, simdjson.Object) or not _vouched(doc):
                return None
            return _facts(doc, lambda value: isinstance(value, simdjson.Object))
        except RuntimeError as exc:
            if "re-use a parser" not in str(exc):  # e.g. an integer past 64 bits: the full parse decides
                return None
            _local.parser = None  # the previous document is still referenced somewhere: a fresh parser
        except ValueError:  # invalid JSON or UTF-8: the full parse decides, and words the error
            return None
    return None
