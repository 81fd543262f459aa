"""The structured-answer client against a real HTTP fake of OpenAI's API: the answers only OpenAI-style
endpoints give (a tool call instead of content, `finish_reason: length`, 429 with Retry-After, a dropped
connection), the re-ask, what is retried and what is not, and the deadline."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY as PROM

from reviewops.analysis.llm.client import (
    AnswerInvalid,
    AnswerTimeout,
    ContextExceeded,
    DeadlineReached,
    LLMSkipped,
    _client,
    chat_json,
)
from reviewops.analysis.llm.limits import Deadline
from reviewops.analysis.llm.reviewer import LLMReview
from reviewops.analysis.llm.settings import LLMSettings
from reviewops.analysis.model import LLMUsage
from tests.support.fake_openai import FakeOpenAI, answer_form

MESSAGES = [{"role": "system", "content": "You review code."}, {"role": "user", "content": "review this"}]


def _settings(server: FakeOpenAI, **kw: Any) -> LLMSettings:
    values: dict[str, Any] = {"base_url": server.url, "api_key": "sk-test", "model": "reviewer-1",
                              "timeout_seconds": 2.0, "max_retries": 2, "backoff_seconds": 0.01}  # fmt: skip
    values.update(kw)
    return LLMSettings(**values)


def _answers(outcome: str) -> float:
    return (
        PROM.get_sample_value("reviewops_llm_answers_total", {"model": "reviewer-1", "outcome": outcome}) or 0
    )


def test_valid_answer_is_counted_per_model(fake_openai: FakeOpenAI) -> None:
    before = _answers("valid")
    answer = chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    assert answer.summary == "Looks reasonable."
    assert _answers("valid") == before + 1
    (request,) = fake_openai.requests
    # The schema is in the system prompt too, for servers that decode without it.
    assert request.body["messages"][0]["content"].startswith(
        "You review code.\n\nAnswer with exactly one JSON"
    )


def test_a_cut_off_answer_is_asked_again_once_and_counted_as_reasked(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["length"]
    before = _answers("reasked")
    answer = chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    assert answer.summary == "Looks reasonable."
    first, second = fake_openai.requests
    assert f"cut off at max_tokens={first.body['max_tokens']}" in second.prompt
    assert _answers("reasked") == before + 1


def test_a_tool_call_instead_of_content_is_not_an_answer(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "tool_calls"
    with pytest.raises(AnswerInvalid, match="tool call"):
        chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    assert len(fake_openai.requests) == 2  # the question and its one re-ask


def test_a_wrong_shape_is_asked_again_with_the_validation_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["wrong"]
    chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    assert "findings: Field required" in fake_openai.requests[1].prompt


def test_reask_off(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "garbage"
    with pytest.raises(AnswerInvalid, match=r"^invalid answer \(answer is not"):
        chat_json(_settings(fake_openai, reask=False), MESSAGES, LLMReview, LLMUsage())
    assert len(fake_openai.requests) == 1


def test_429_waits_for_its_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["rate_limited"]
    fake_openai.retry_after = "7"
    waits: list[float] = []
    chat_json(
        _settings(fake_openai, backoff_seconds=0.5), MESSAGES, LLMReview, LLMUsage(), sleep=waits.append
    )
    assert waits == [7.0]  # the endpoint's wait, not our backoff
    assert len(fake_openai.requests) == 2


def test_429_whose_wait_passes_the_deadline_gives_up_and_says_so(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "rate_limited"
    fake_openai.retry_after = "600"
    waits: list[float] = []
    with pytest.raises(LLMSkipped, match=r"HTTP 429 .*Rate limit reached.*would pass the review deadline"):
        chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage(), sleep=waits.append,
                  deadline=Deadline(30))  # fmt: skip
    assert waits == [] and len(fake_openai.requests) == 1


def test_a_dropped_connection_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["drop"]
    answer = chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage(), sleep=lambda _s: None)
    assert answer.summary == "Looks reasonable."
    assert len(fake_openai.requests) == 2


def test_a_timeout_is_not_resent(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "slow"
    before = _answers("timeout")
    usage = LLMUsage()
    with pytest.raises(AnswerTimeout, match=r"timed out after 0\.3s"):
        chat_json(_settings(fake_openai, timeout_seconds=0.3, max_retries=3), MESSAGES, LLMReview, usage)
    assert len(fake_openai.requests) == 1
    assert usage.prompt_tokens > 0  # the server worked on it: the tenant's budget counts it
    assert _answers("timeout") == before + 1


def test_the_deadline_bounds_the_request_and_stops_new_ones(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "slow"
    # The SDK's first import and client take ~1 s in a fresh test process: not part of the deadline tested.
    _client(_settings(fake_openai, timeout_seconds=60))
    deadline = Deadline(1.5)
    with pytest.raises(DeadlineReached, match=r"review deadline of 1\.5s reached"):
        chat_json(
            _settings(fake_openai, timeout_seconds=60), MESSAGES, LLMReview, LLMUsage(), deadline=deadline
        )
    # DeadlineReached, not a timeout of 60 s: the request's own timeout was the deadline's remainder.
    with pytest.raises(DeadlineReached):
        chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage(), deadline=deadline)
    assert len(fake_openai.requests) == 1  # nothing started after the deadline


def test_context_length_exceeded_names_both_sizes(fake_openai: FakeOpenAI) -> None:
    fake_openai.context_tokens = 50
    before = _answers("context")
    with pytest.raises(ContextExceeded) as caught:
        chat_json(_settings(fake_openai), [{"role": "user", "content": "x" * 4000}], LLMReview, LLMUsage())
    assert (
        caught.value.error.limit == 50
        and caught.value.error.requested
        and caught.value.error.requested > 1000
    )
    assert str(caught.value).startswith("context length exceeded: ") and " of 50 tokens" in str(caught.value)
    assert len(fake_openai.requests) == 1  # not retried as it was: the caller splits
    assert _answers("context") == before + 1


def test_the_json_schema_500_steps_down_once_and_the_form_is_remembered(fake_openai: FakeOpenAI) -> None:
    fake_openai.forms = ("json_object_schema", "json_object", "plain")
    fake_openai.refuse_status = 500
    for _ in range(3):
        chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    forms = [answer_form(r.body) for r in fake_openai.requests]
    assert forms == ["json_schema", "json_object_schema", "json_object_schema", "json_object_schema"]
    schema = fake_openai.requests[1].body["response_format"]["schema"]
    assert schema["properties"]["findings"]["maxItems"] == 4


def test_a_failing_server_is_not_mistaken_for_a_refused_form_twice(fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "error"
    with pytest.raises(LLMSkipped, match="HTTP 500"):
        chat_json(
            _settings(fake_openai, max_retries=1), MESSAGES, LLMReview, LLMUsage(), sleep=lambda _s: None
        )
    # json_schema's 500 may be a refusal (one step down); after that a 500 is the server's: one retry.
    assert [answer_form(r.body) for r in fake_openai.requests] == ["json_schema", "json_object_schema",
                                                                   "json_object_schema"]  # fmt: skip


def test_a_configured_form_is_used_as_is(fake_openai: FakeOpenAI) -> None:
    chat_json(_settings(fake_openai, answer_form="json_object"), MESSAGES, LLMReview, LLMUsage())
    assert fake_openai.requests[0].body["response_format"] == {"type": "json_object"}


def test_one_sdk_client_serves_every_request_to_the_same_endpoint_and_key(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making an SDK client costs ~0.1 s of CPU (a new SSL context); one per request was most of a
    worker's CPU per review at 2 s LLM latency. A rotated key still gets a client of its own."""
    import openai

    from reviewops.analysis.llm import client as llm_client

    made: list[str] = []
    real = openai.OpenAI

    def counting(**kw: Any) -> openai.OpenAI:
        made.append(kw["api_key"])
        return real(**kw)

    monkeypatch.setattr(openai, "OpenAI", counting)
    llm_client._shared_client.cache_clear()
    for _ in range(3):
        chat_json(_settings(fake_openai), MESSAGES, LLMReview, LLMUsage())
    assert made == ["sk-test"]
    chat_json(_settings(fake_openai, api_key="sk-rotated"), MESSAGES, LLMReview, LLMUsage())
    assert made == ["sk-test", "sk-rotated"]
    assert len(fake_openai.requests) == 4
    llm_client._shared_client.cache_clear()
