"""The intake's few payload fields, read by simdjson without building the dict, agree with the dict."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviewops.deliveries import payload_facts
from reviewops.deliveries.payload_facts import PayloadFacts, facts_of, read_facts

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures/github-webhooks").rglob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_simdjson_reads_the_same_facts_as_the_parsed_dict(path: Path) -> None:
    body = path.read_bytes()
    assert read_facts(body) == facts_of(orjson.loads(body))


def test_the_facts_of_a_pull_request() -> None:
    body = (
        Path(__file__).parents[2] / "fixtures/github-webhooks/pull_request/opened.payload.json"
    ).read_bytes()
    facts = read_facts(body)
    assert facts is not None and facts.action == "opened" and facts.pr_number is not None
    assert facts.repository is not None and "/" in facts.repository


@pytest.mark.parametrize(
    "body",
    [
        b'{"zen": ',
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b'{"n": 123456789012345678901234567890}',
        b'{"x": 1e400}',
    ],
)
def test_what_simdjson_cannot_vouch_for_goes_to_the_full_parse(body: bytes) -> None:
    assert read_facts(body) is None


@pytest.mark.parametrize(
    ("installation", "expected"),
    [(b"42", 42), (b"true", None), (b"-3", None), (b'"42"', None), (b"9223372036854775807", 2**63 - 1)],
)
def test_installation_ids_follow_the_same_rules(installation: bytes, expected: int | None) -> None:
    body = b'{"action": "created", "installation": {"id": ' + installation + b"}}"
    assert read_facts(body) == facts_of(orjson.loads(body)) == PayloadFacts("created", expected, None, None)


def test_a_document_still_referenced_does_not_block_the_next_read() -> None:
    """simdjson refuses to reuse a parser while a document of it is alive: a fresh one is made."""
    held = payload_facts._parser().parse(b'{"kept": {"alive": 1}}')["kept"]
    assert read_facts(b'{"action": "opened"}') == PayloadFacts("opened", None, None, None)
    assert held["alive"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"installation": {"id": 1}, "installation": {"id": 2}}',
        b'{"installation": {"id": 1, "id": 2}}',
        b'{"action": "opened", "action": "closed"}',
    ],
)
def test_repeated_keys_where_the_tenant_comes_from_go_to_the_full_parse(body: bytes) -> None:
    """simdjson reads the first of repeated keys; PostgreSQL's jsonb keeps the last."""
    assert read_facts(body) is None


def test_a_body_past_the_read_limit_gets_a_parser_of_its_own() -> None:
    """A parser keeps buffers as large as its largest document for the life of the thread: a large body
    is read by a parser freed with it (a full parse into a dict held a 25 MiB body a third time)."""
    small = b'{"action": "opened", "pad": "'
    body = small + b"x" * payload_facts.LARGEST_READ + b'"}'
    facts = read_facts(body)
    assert facts is not None and facts.action == "opened"
    assert read_facts(small + b'"}') is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "\\\\u0000"}', False),  # an escaped backslash, then the letters u0000
        (b'{"a": "\\\\\\u0000"}', True),  # an escaped backslash, then a NUL
        (b'{"a": "x\\nu0000"}', False),
        (b'{"a": "plain"}', False),
    ],
)
def test_nul_escapes_are_told_from_escaped_backslashes(raw: bytes, expected: bool) -> None:
    assert payload_facts.has_nul_escape(raw) is expected


@given(st.text(alphabet=st.sampled_from(["\x00", "\\", "u", "0", "a", "\n", '"', "é"])))
def test_a_nul_escape_is_found_exactly_when_the_text_holds_a_nul(value: str) -> None:
    for raw in (orjson.dumps({"k": value}), json.dumps({"k": value}).encode()):
        assert payload_facts.has_nul_escape(raw) is ("\x00" in value)
