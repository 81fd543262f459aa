"""Property-based: no mutation of a signed request's body or signature passes, and none causes a 500."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewops.signatures import SignatureError, sign, verify
from tests.support.webhooks import SECRET, load_payload

BODY = json.dumps(load_payload("pull_request/opened.payload.json")).encode()
HEADER = sign(SECRET, BODY)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    body = bytearray(BODY)
    kind = draw(st.sampled_from(["flip", "truncate", "append", "insert"]))
    if kind == "flip":
        index = draw(st.integers(0, len(body) - 1))
        body[index] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "append":
        body += draw(st.binary(min_size=1, max_size=64))
    else:
        index = draw(st.integers(0, len(body)))
        body[index:index] = draw(st.binary(min_size=1, max_size=16))
    return bytes(body)


@given(mutated_bodies())
@settings(max_examples=300, deadline=None)
def test_no_mutated_body_verifies(body: bytes) -> None:
    try:
        verify(body, HEADER, [SECRET])
    except SignatureError as exc:
        assert exc.reason == "mismatch"
    else:
        raise AssertionError("a mutated body passed verification")


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_no_arbitrary_header_verifies(header: str) -> None:
    if header == HEADER:
        return
    try:
        verify(BODY, header, [SECRET])
    except SignatureError:
        pass
    else:
        assert header.lower() == HEADER.lower()


header_values = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    st.just(HEADER),
)


@given(body=st.one_of(mutated_bodies(), st.just(BODY)), signature=header_values,
       event=header_values, delivery=header_values, content_type=st.sampled_from(
           ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))  # fmt: skip
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_endpoint_never_answers_500(
    client: Any,
    body: bytes,
    signature: str | None,
    event: str | None,
    delivery: str | None,
    content_type: str,
) -> None:
    headers = {"Content-Type": content_type}
    for name, value in (("X-Hub-Signature-256", signature), ("X-GitHub-Event", event),
                        ("X-GitHub-Delivery", delivery)):  # fmt: skip
        if value is not None:
            headers[name] = value
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if signature != HEADER:
        assert response.status_code == 401
    elif body != BODY:  # trust before memory: the GitHub headers are checked before the body is read
        headers_fine = bool(
            event and re.fullmatch("[a-z][a-z_]{0,63}", event) and delivery and len(delivery) <= 64
        )
        assert response.status_code == (401 if headers_fine else 400)
